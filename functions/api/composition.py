"""The API function's composition root: the job types clients may create, what a transition sets off (a cancel
releases credits, a retry reserves them, a commit sends the webhook), and the publishers users may configure.

The API runs no job: it offers the public types only to validate new jobs; the types Conveyor creates itself
(publishing, webhook deliveries) are passed as objects by the code that creates them.
"""

from __future__ import annotations

from shared.billing.job_credits import settle_credits
from shared.i18n.translate_job import translate_text
from shared.jobs import demo, lifecycle, registry, segments
from shared.jobs.builtin.email import send_email
from shared.publishing import base as publishers
from shared.publishing.http import KIND as WEBHOOK_KIND
from shared.publishing.http import WebhookPublisher
from shared.webhooks import on_job_end

JOB_TYPES = (send_email, translate_text, *demo.TYPES)
CONSEQUENCES = (settle_credits, segments.on_job_change, on_job_end)
PUBLISHERS = {WEBHOOK_KIND: WebhookPublisher}


def compose() -> None:
    registry.use(*JOB_TYPES)
    lifecycle.subscribe(*CONSEQUENCES)
    publishers.use(PUBLISHERS)
