"""The job types every deployment has. Importing this package registers them."""

from shared.automations import sales  # noqa: F401 - registers sale.process
from shared.jobs.builtin import (
    email,  # noqa: F401 - registers email.send
    translate,  # noqa: F401
    webhook,  # noqa: F401 - registers webhook.deliver
)
from shared.media import derived  # noqa: F401 - registers media.thumbnail and media.poster
from shared.publishing import items  # noqa: F401 - registers item.publish (and the items.due scheduler step)
