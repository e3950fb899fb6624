"""The scheduler function's composition root: its steps, in the order each tick runs them, the job types its
schedules may create, and what a transition sets off (an expired lease on the last attempt releases credits).
"""

from __future__ import annotations

from shared.automations import cache
from shared.automations import runner as automations
from shared.billing.job_credits import settle_credits
from shared.i18n.translate_job import translate_text
from shared.identity import housekeeping as identity
from shared.jobs import demo, lifecycle, registry, schedules, segments, sweep, workers
from shared.jobs.builtin.email import send_email
from shared.media import housekeeping as media
from shared.publishing import items
from shared.scheduling.tick import Step
from shared.webhooks import on_job_end

STEPS: tuple[tuple[str, Step], ...] = (
    ("jobs.expired_leases", sweep.recover_expired_leases),  # first: crashed workers' jobs run again soonest
    ("jobs.deferred", sweep.queue_deferred_jobs),
    ("jobs.recurring", schedules.run_due_schedules),
    ("automations.due", automations.automations_step),
    ("items.due", items.start_due_publishing),  # after automations.due, which schedules items
    ("jobs.top_up_wakeups", sweep.top_up_wakeups),  # after every step that makes jobs runnable
    ("jobs.stale_workers", workers.sweep_workers),
    ("cache.expired", cache.delete_expired_entries),
    ("identity.expired_sessions", identity.delete_expired_sessions),
    ("identity.spent_tokens", identity.delete_spent_tokens),
    ("media.expired", media.delete_expired_media),
)

#: Types a user's recurring schedule may name (the same public types the API offers).
JOB_TYPES = (send_email, translate_text, *demo.TYPES)
CONSEQUENCES = (settle_credits, segments.on_job_change, on_job_end)


def compose() -> None:
    registry.use(*JOB_TYPES)
    lifecycle.subscribe(*CONSEQUENCES)
