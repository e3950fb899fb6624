"""`webhook.deliver`: one signed POST of a job's webhook per run (the logic lives in shared/jobs/webhooks.py).

Its own retry schedule: up to 10 attempts, 5 s base doubling to a 1 h cap with full jitter, so a receiver may be
down for the better part of an hour before the delivery is given up.
"""

from __future__ import annotations

from shared.jobs import webhooks
from shared.jobs.registry import job_type

job_type(
    webhooks.DELIVER_TYPE,
    payload=webhooks.DeliverPayload,
    max_attempts=webhooks.MAX_ATTEMPTS,
    retry_base_ms=webhooks.RETRY_BASE_MS,
    retry_cap_ms=webhooks.RETRY_CAP_MS,
    timeout_s=webhooks.TIMEOUT_JOB_S,
    internal=True,  # created by job outcomes only, never through the API
)(webhooks.deliver)
