"""The media function's composition root: ingestion creates derived-media jobs (passed as objects, so no type
is offered here) and needs only the consequences of a job's creation (credits)."""

from __future__ import annotations

from shared.billing.job_credits import settle_credits
from shared.jobs import lifecycle, segments
from shared.webhooks import on_job_end

CONSEQUENCES = (settle_credits, segments.on_job_change, on_job_end)


def compose() -> None:
    lifecycle.subscribe(*CONSEQUENCES)
