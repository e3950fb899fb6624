"""The credit ledger: integer credits per user, every movement one append-only ledger row.

Every operation runs in one transaction that first locks the user's `credit_accounts` row (SELECT ... FOR
UPDATE), so operations on one user are serialized while different users never wait for each other. Under that
lock the service computes the new balance/reserved, appends a ledger row carrying `balance_after` and
`reserved_after`, and updates the account. So, under any concurrency:

* balance = SUM(credit_ledger.delta) for the user (reserve/release rows have delta 0; capture is negative),
* reserved = SUM(amount of held reservations), available = balance - reserved, never below zero
  (the CHECKs on credit_accounts back this up even if a bug slipped through).

Debt: a refund takes back at most the *available* credits (reserved ones belong to jobs in flight, and the
balance may not go below zero). What it could not take is debt, derived from data that already exists: for a
refunded payment, SUM(ledger.delta WHERE payment_id = it) must be 0, and whatever is still positive is owed.
Debt is collected first from any credits that become available later (grants, purchases, releases), so while
debt > 0 the available balance is 0 and every reservation fails with 402. See docs/billing.md.

Each public function takes an optional SQLAlchemy `Session` (`s=`): the job engine reserves credits inside its
own job-creation transaction. Without one the function opens and commits its own unit of work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.enums import LedgerKind, PaymentStatus, ReservationStatus
from shared.db.models import CreditAccount, CreditLedger, CreditReservation, Payment, User
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import unit_of_work
from shared.errors import Conflict, InsufficientCredits, InvalidInput, NotFound

MAX_PAGE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Balance:
    balance: int
    reserved: int
    available: int
    debt: int  # credits refunded after they were spent; collected from the next credits that become available


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def lock_account(s: Session, user_id: uuid.UUID) -> CreditAccount:
    """Lock (creating on first use) the user's account row: the one lock every credit movement of a user takes."""
    stmt = (
        select(CreditAccount)
        .where(CreditAccount.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    account = s.scalar(stmt)
    if account is None:
        if s.scalar(select(User.id).where(User.id == user_id)) is None:
            raise NotFound("No such user.")
        s.execute(pg_insert(CreditAccount).values(user_id=user_id).on_conflict_do_nothing())
        account = s.scalars(stmt).one()
    return account


def _append(
    s: Session,
    account: CreditAccount,
    *,
    kind: LedgerKind,
    delta: int = 0,
    reserved_delta: int = 0,
    reason: str | None = None,
    reference: str | None = None,
    job_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
) -> CreditLedger:
    """Move credits on a locked account and append the matching ledger row (the only writer of both)."""
    account.balance += delta
    account.reserved += reserved_delta
    entry = CreditLedger(
        user_id=account.user_id,
        delta=delta,
        kind=kind.value,
        reason=reason,
        reference=reference,
        job_id=job_id,
        payment_id=payment_id,
        balance_after=account.balance,
        reserved_after=account.reserved,
    )
    s.add(entry)
    s.flush()
    return entry


def _existing_entry(s: Session, user_id: uuid.UUID, kind: LedgerKind, reference: str) -> CreditLedger | None:
    return s.scalar(
        select(CreditLedger).where(
            CreditLedger.user_id == user_id, CreditLedger.kind == kind.value, CreditLedger.reference == reference
        )
    )


def _debts(s: Session, user_id: uuid.UUID) -> list[tuple[uuid.UUID, int]]:
    """(payment id, credits still owed) of the user's refunded payments, oldest first."""
    owed = func.sum(CreditLedger.delta)
    rows = s.execute(
        select(Payment.id, owed)
        .join(CreditLedger, CreditLedger.payment_id == Payment.id)
        .where(Payment.user_id == user_id, Payment.status == PaymentStatus.REFUNDED.value)
        .where(CreditLedger.user_id == user_id)
        .group_by(Payment.id, Payment.created_at)
        .having(owed > 0)
        .order_by(Payment.created_at, Payment.id)
    )
    return [(pid, int(amount)) for pid, amount in rows]


def collect_debt(s: Session, account: CreditAccount, source: CreditLedger) -> None:
    """After credits became available, take back what refunds could not (one refund row per settled payment)."""
    for payment_id, owed in _debts(s, account.user_id):
        take = min(owed, account.balance - account.reserved)
        if take <= 0:
            return
        _append(
            s,
            account,
            kind=LedgerKind.REFUND,
            delta=-take,
            reason=f"Debt from refunded payment collected ({owed - take} still owed)",
            reference=f"payment:{payment_id}:collect:{source.id}",
            payment_id=payment_id,
        )


def credit(
    user_id: uuid.UUID,
    amount: int,
    *,
    kind: LedgerKind = LedgerKind.GRANT,
    reason: str | None = None,
    reference: str | None = None,
    payment_id: uuid.UUID | None = None,
    s: Session | None = None,
) -> CreditLedger:
    """Add credits (grant, purchase, positive adjust); a repeated (kind, reference) returns the first row."""
    if amount <= 0:
        raise InvalidInput("The amount must be a positive number of credits.", details={"amount": amount})
    with unit_of_work(s) as tx:
        account = lock_account(tx, user_id)
        if reference is not None and (done := _existing_entry(tx, user_id, kind, reference)) is not None:
            return done
        entry = _append(tx, account, kind=kind, delta=amount, reason=reason, reference=reference, payment_id=payment_id)
        collect_debt(tx, account, entry)
        return entry


def grant(
    user_id: uuid.UUID,
    amount: int,
    *,
    reason: str | None = None,
    reference: str | None = None,
    s: Session | None = None,
) -> CreditLedger:
    """Give a user credits (admin grant, promotion); idempotent per reference when one is given."""
    return credit(user_id, amount, kind=LedgerKind.GRANT, reason=reason, reference=reference, s=s)


def reserve(
    user_id: uuid.UUID,
    amount: int,
    ref: str,
    *,
    reason: str | None = None,
    job_id: uuid.UUID | None = None,
    s: Session | None = None,
) -> CreditReservation:
    """Hold `amount` credits for `ref` (e.g. a job); raises InsufficientCredits if available < amount.

    Idempotent: reserving an existing reference of the same user and amount returns that reservation as it is.
    """
    if amount <= 0:
        raise InvalidInput("The amount must be a positive number of credits.", details={"amount": amount})
    if not ref:
        raise InvalidInput("A reservation needs a reference.")
    with unit_of_work(s) as tx:
        account = lock_account(tx, user_id)
        existing = tx.scalar(select(CreditReservation).where(CreditReservation.reference == ref))
        if existing is not None:
            if existing.user_id != user_id or existing.amount != amount:
                raise Conflict("This reference is already used by another reservation.", details={"reference": ref})
            return existing
        available = account.balance - account.reserved
        if available < amount:
            raise InsufficientCredits(
                "Not enough credits available for this operation.",
                details={
                    "required": amount,
                    "available": available,
                    "debt": sum(owed for _, owed in _debts(tx, user_id)),
                },
            )
        inserted = tx.scalar(
            pg_insert(CreditReservation)
            .values(user_id=user_id, reference=ref, amount=amount, job_id=job_id)
            .on_conflict_do_nothing(index_elements=["reference"])
            .returning(CreditReservation.id)
        )
        if inserted is None:  # another user's transaction took the reference meanwhile
            raise Conflict("This reference is already used by another reservation.", details={"reference": ref})
        _append(
            tx, account, kind=LedgerKind.RESERVE, reserved_delta=amount, reason=reason, reference=ref, job_id=job_id
        )
        return tx.scalars(select(CreditReservation).where(CreditReservation.id == inserted)).one()


def _settle(s: Session, ref: str, user_id: uuid.UUID | None) -> tuple[CreditAccount, CreditReservation]:
    """Lock the account of the reservation `ref`, then the reservation itself (same lock order as reserve)."""
    query = select(CreditReservation).where(CreditReservation.reference == ref)
    if user_id is not None:
        query = query.where(CreditReservation.user_id == user_id)
    found = s.scalar(query)
    if found is None:
        raise NotFound("No such reservation.", details={"reference": ref})
    account = lock_account(s, found.user_id)
    reservation = s.scalars(query.with_for_update().execution_options(populate_existing=True)).one()
    return account, reservation


def capture(
    ref: str,
    *,
    amount: int | None = None,
    user_id: uuid.UUID | None = None,
    reason: str | None = None,
    s: Session | None = None,
) -> CreditReservation:
    """Spend a held reservation; `amount` (≤ held) captures less and frees the rest in the same row.

    Idempotent: capturing a captured reservation returns it unchanged; a released one raises Conflict.
    """
    with unit_of_work(s) as tx:
        account, reservation = _settle(tx, ref, user_id)
        if reservation.status == ReservationStatus.CAPTURED:
            return reservation
        if reservation.status == ReservationStatus.RELEASED:
            raise Conflict("This reservation was released; it cannot be captured.", details={"reference": ref})
        spent = reservation.amount if amount is None else amount
        if not 0 <= spent <= reservation.amount:
            raise InvalidInput(
                "A capture cannot exceed the reserved amount.", details={"amount": spent, "held": reservation.amount}
            )
        entry = _append(
            tx,
            account,
            kind=LedgerKind.CAPTURE,
            delta=-spent,
            reserved_delta=-reservation.amount,
            reason=reason,
            reference=ref,
            job_id=reservation.job_id,
        )
        reservation.status = ReservationStatus.CAPTURED.value
        tx.flush()
        if spent < reservation.amount:
            collect_debt(tx, account, entry)
        return reservation


def release(
    ref: str, *, user_id: uuid.UUID | None = None, reason: str | None = None, s: Session | None = None
) -> CreditReservation:
    """Give held credits back (job failed or cancelled). Idempotent; releasing a captured one raises Conflict."""
    with unit_of_work(s) as tx:
        account, reservation = _settle(tx, ref, user_id)
        if reservation.status == ReservationStatus.RELEASED:
            return reservation
        if reservation.status == ReservationStatus.CAPTURED:
            raise Conflict("This reservation was captured; it cannot be released.", details={"reference": ref})
        entry = _append(
            tx,
            account,
            kind=LedgerKind.RELEASE,
            reserved_delta=-reservation.amount,
            reason=reason,
            reference=ref,
            job_id=reservation.job_id,
        )
        reservation.status = ReservationStatus.RELEASED.value
        tx.flush()
        collect_debt(tx, account, entry)
        return reservation


def take_back(
    s: Session, account: CreditAccount, amount: int, *, reason: str, reference: str, payment_id: uuid.UUID
) -> CreditLedger:
    """Remove up to `amount` available credits (a refund); what cannot be taken remains as debt (see module doc)."""
    taken = max(0, min(amount, account.balance - account.reserved))
    return _append(
        s,
        account,
        kind=LedgerKind.REFUND,
        delta=-taken,
        reason=f"{reason} ({amount - taken} owed)" if taken < amount else reason,
        reference=reference,
        payment_id=payment_id,
    )


def balance(user_id: uuid.UUID, *, s: Session | None = None) -> Balance:
    """The user's credits now (zeros for a user who never had any)."""
    with unit_of_work(s) as tx:
        account = tx.get(CreditAccount, user_id, populate_existing=True)
        total, held = (account.balance, account.reserved) if account else (0, 0)
        debt = sum(owed for _, owed in _debts(tx, user_id)) if account else 0
        return Balance(balance=total, reserved=held, available=total - held, debt=debt)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"The limit must be between 1 and {MAX_PAGE}.", details={"limit": limit})
    return limit


def history(
    user_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None, s: Session | None = None
) -> Page[CreditLedger]:
    """The user's ledger, newest first, keyset-paginated on (created_at, id)."""
    check_limit(limit)
    query = select(CreditLedger).where(CreditLedger.user_id == user_id)
    if cursor:
        query = query.where(tuple_(CreditLedger.created_at, CreditLedger.id) < tuple_(*decode_cursor(cursor)))
    query = query.order_by(CreditLedger.created_at.desc(), CreditLedger.id.desc()).limit(limit + 1)
    with unit_of_work(s) as tx:
        rows = list(tx.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None)
