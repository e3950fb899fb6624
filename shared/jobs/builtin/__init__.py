"""The job types every deployment has. Importing this package registers them."""

from shared.jobs.builtin import (
    email,  # noqa: F401 - registers email.send
    translate,  # noqa: F401
    webhook,  # noqa: F401 - registers webhook.deliver
)
from shared.media import derived  # noqa: F401 - registers media.thumbnail and media.poster
