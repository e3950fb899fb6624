"""The scheduler step `automations.due`: due automations pick drafts and schedule them for their slot.

Only automations on the partial index `ix_automations_due` (enabled, next_run_at <= now) are read, oldest first,
`FOR UPDATE SKIP LOCKED`: a second tick running at the same time skips rows the first holds, and a run (drafts,
log, next_run_at) commits as one transaction, so a slot is handled once. next_run_at always holds the next slot
not yet handled; after a run it moves to the first slot after now.

Past-due recovery: if several slots passed since next_run_at (an outage, a stuck scheduler), the automation runs
ONCE, for the latest of them (all rules firing at that instant), logged `late` with how many slots were skipped;
the earlier ones are not replayed. A run is also `late` when its slot is more than LATE_AFTER old.

Drafts are the owner's items in status `draft`, FIFO (oldest first), LIFO (newest first) or random, read
`FOR UPDATE SKIP LOCKED` so two automations of one user never take the same draft, even in overlapping ticks.
Each gets its own jitter: scheduled_at = slot, actual_publish_at = slot + jitter_seconds.

Default values: `apply_if_empty` fills a field only when it is empty: null, '' or [], or (seed 002's meaning) a
boolean false or a number 0 that is the item column's own default (`EMPTY_WHEN`: `is_mature = false` is empty, so
the seed's example default `isMature: true` applies; `allow_comments`, true by default, is never empty, and neither
is `upload_mode`). A default with apply_if_empty = false always overwrites. The automation's
`remote_draft_only_by_default` sets `remote_draft_only` first; a default value for that field wins over it.

A failing automation (bad data) rolls back its own savepoint, gets an error log, and still moves to its next
slot, so one broken automation neither blocks the batch nor fails every minute on the same slot.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from shared.automations import rules as slotting
from shared.db import session
from shared.db.enums import DraftSelectionMethod, ItemStatus
from shared.db.models import (
    Automation,
    AutomationDefaultValue,
    AutomationExecutionLog,
    AutomationRule,
    Item,
    ItemFile,
    User,
)

logger = Logger(child=True)

DUE_BATCH = 50
MAX_BATCHES = 20  # at most 1,000 automations per tick
LATE_AFTER = timedelta(minutes=2)
# How far back a catch-up looks for missed slots (a weekly rule must still find last week's slot).
CATCH_UP_WINDOW = timedelta(days=8)

_rng = random.SystemRandom()


# Per item field, the value (beside null, '' and []) that counts as empty: the column's default when it is a
# boolean false or a number 0 (shared/db/models/content.py). Compared with its type, so 0 never matches False.
EMPTY_WHEN: dict[str, bool | int] = {
    "is_mature": False,
    "allow_free_download": False,
    "is_ai_generated": False,
    "no_ai": False,
    "remote_draft_only": False,
    "add_watermark": False,
    "display_resolution": 0,
}


def _empty(field_name: str, value: Any) -> bool:
    if value is None or value in ("", []):
        return True
    blank = EMPTY_WHEN.get(field_name)
    return blank is not None and type(value) is type(blank) and value == blank


def apply_defaults(item: Item, automation: Automation, defaults: list[AutomationDefaultValue]) -> None:
    """Set the item's fields from the automation (see the module doc for apply_if_empty)."""
    if automation.remote_draft_only_by_default:
        item.remote_draft_only = True
    for default in defaults:
        if default.apply_if_empty and not _empty(default.field_name, getattr(item, default.field_name)):
            continue
        setattr(item, default.field_name, default.value)


def _select_drafts(s: Session, automation: Automation, n: int) -> list[Item]:
    order = {
        DraftSelectionMethod.FIFO: (Item.created_at, Item.id),
        DraftSelectionMethod.LIFO: (Item.created_at.desc(), Item.id.desc()),
        DraftSelectionMethod.RANDOM: (func.random(),),
    }[DraftSelectionMethod(automation.draft_selection_method)]
    return list(
        s.scalars(
            select(Item)
            .where(
                Item.user_id == automation.user_id,
                Item.status == ItemStatus.DRAFT.value,
                # Only drafts with something to publish (what POST /v1/items/{id}/schedule insists on too).
                exists().where(ItemFile.item_id == Item.id),
            )
            .order_by(*order)
            .limit(n)
            .with_for_update(skip_locked=True)
        )
    )


def _run_one(
    s: Session,
    automation: Automation,
    *,
    rules: list[AutomationRule],
    defaults: list[AutomationDefaultValue],
    zone: str,
    now: datetime,
    rng: random.Random,
) -> int:
    """Handle the latest due slot of one automation (locked by the caller); returns items scheduled."""
    assert automation.next_run_at is not None
    due_from = max(automation.next_run_at, now - CATCH_UP_WINDOW)
    due = slotting.slots(rules, zone, due_from, now + timedelta(microseconds=1))
    next_at = slotting.next_slot_at(rules, zone, now)
    if not due:
        # The rules changed under a stale next_run_at (or the slot fell outside the window): just move on.
        automation.next_run_at = next_at
        return 0
    latest = due[-1].at_utc
    fired = [slot for slot in due if slot.at_utc == latest]
    missed = len(due) - len(fired)
    late = missed > 0 or now - latest > LATE_AFTER
    details: dict[str, Any] = {"slots": [{"rule_id": str(x.rule_id), "count": x.count} for x in fired]}
    if missed:
        details.update(missed_slots=missed, missed_since=due[0].at_utc.isoformat())
    log = AutomationExecutionLog(
        automation_id=automation.id,
        rule_id=fired[0].rule_id,
        triggered_by_rule_type=fired[0].rule_type,
        slot_at=latest,
        executed_at=now,
        late=late,
    )
    wanted = sum(slot.count for slot in fired)
    try:
        with s.begin_nested():
            drafts = _select_drafts(s, automation, wanted)
            for item in drafts:
                apply_defaults(item, automation, defaults)
                item.status = ItemStatus.SCHEDULED.value
                item.automation_id = automation.id
                item.scheduled_at = latest
                item.jitter_seconds = slotting.jitter(automation.jitter_min_seconds, automation.jitter_max_seconds, rng)
                item.actual_publish_at = latest + timedelta(seconds=item.jitter_seconds)
            s.flush()
        log.scheduled_count = len(drafts)
        details.update(requested=wanted, item_ids=[str(i.id) for i in drafts])
        if len(drafts) < wanted:
            details["short_by"] = wanted - len(drafts)
    except Exception as exc:  # one broken automation must not stop the batch
        logger.exception("automation run failed", automation_id=str(automation.id))
        log.scheduled_count = 0
        log.error_message = f"{type(exc).__name__}: {exc}"[:2000]
        drafts = []
    log.details = details
    s.add(log)
    automation.last_run_at = now
    automation.next_run_at = next_at
    return len(drafts)


def run_due_automations(
    now: datetime | None = None,
    *,
    limit: int = DUE_BATCH,
    max_batches: int = MAX_BATCHES,
    rng: random.Random | None = None,
) -> int:
    """Run due automations, `limit` per transaction, until none is left; returns how many items were scheduled.

    A batch commits before the next starts, so locks are held briefly and a tick interrupted mid-way keeps what it
    did. `max_batches` bounds one tick; what is left is due (and taken) in the next.
    """
    now = now or datetime.now(UTC)
    rng = rng or _rng
    scheduled = 0
    for _ in range(max_batches):
        ran, items = _run_batch(now, limit, rng)
        scheduled += items
        if ran < limit:
            break
    return scheduled


def _run_batch(now: datetime, limit: int, rng: random.Random) -> tuple[int, int]:
    """One transaction over up to `limit` due automations; returns (automations run, items scheduled).

    Rules, default values and owners' zones are read in one query each for the whole batch, so a tick's cost
    follows the number of due automations, not the number of automations.
    """
    scheduled = 0
    with session() as s:
        due = list(
            s.execute(
                select(Automation, User.timezone)
                .join(User, User.id == Automation.user_id)
                .where(Automation.enabled, Automation.next_run_at <= now)
                .order_by(Automation.next_run_at)
                .limit(limit)
                .with_for_update(of=Automation, skip_locked=True)
            )
        )
        if not due:
            return 0, 0
        ids = [a.id for a, _ in due]
        rules: dict[uuid.UUID, list[AutomationRule]] = defaultdict(list)
        for rule in s.scalars(select(AutomationRule).where(AutomationRule.automation_id.in_(ids))):
            rules[rule.automation_id].append(rule)
        defaults: dict[uuid.UUID, list[AutomationDefaultValue]] = defaultdict(list)
        for value in s.scalars(select(AutomationDefaultValue).where(AutomationDefaultValue.automation_id.in_(ids))):
            defaults[value.automation_id].append(value)
        for automation, zone in due:
            scheduled += _run_one(
                s, automation, rules=rules[automation.id], defaults=defaults[automation.id], zone=zone, now=now, rng=rng
            )
    return len(due), scheduled


def automations_step() -> int:
    return run_due_automations()
