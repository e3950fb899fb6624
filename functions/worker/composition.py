"""The worker function's composition root: every job type it runs, and what a job's end sets off, in order.

Nothing registers itself by being imported: what this file lists is what the worker offers.
"""

from __future__ import annotations

from shared.automations.sales import process_sale
from shared.billing.job_credits import settle_credits
from shared.i18n.translate_job import translate_text
from shared.jobs import demo, lifecycle, registry, segments
from shared.jobs.builtin.email import send_email
from shared.media.derived import make_poster, make_thumbnail
from shared.publishing import base as publishers
from shared.publishing.http import KIND as WEBHOOK_KIND
from shared.publishing.http import WebhookPublisher
from shared.publishing.items import PUBLISH
from shared.webhooks import DELIVER, on_job_end

#: Types clients may create (by name, through the API or a schedule).
PUBLIC_TYPES = (send_email, translate_text)
#: Types Conveyor's own code creates: webhook deliveries, derived media, publishing, sales.
INTERNAL_TYPES = (DELIVER, make_thumbnail, make_poster, PUBLISH, process_sale)
#: Offered only while settings.demo_job_types is on (laptop stack, tests, benchmarks).
DEMO_TYPES = demo.TYPES

JOB_TYPES = (*PUBLIC_TYPES, *INTERNAL_TYPES, *DEMO_TYPES)

#: In this order, in the transaction of every transition: credits first, then segment fan-in, then webhooks.
CONSEQUENCES = (settle_credits, segments.on_job_change, on_job_end)

PUBLISHERS = {WEBHOOK_KIND: WebhookPublisher}


def compose() -> None:
    registry.use(*JOB_TYPES)
    lifecycle.subscribe(*CONSEQUENCES)
    publishers.use(PUBLISHERS)
