"""Credits and payments. Balances change only together with a ledger row, in one transaction.

Reserving moves credits from available to `reserved` (available = balance - reserved); capturing takes
them from both; releasing gives them back. CHECKs make an overdraft impossible even under a service bug.
"""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, Timestamps, UUIDPk
from shared.db.enums import LedgerKind, PaymentStatus, ReservationStatus
from shared.db.models._common import enum_check, fk


class CreditAccount(Timestamps, Base):
    """One row per user, locked (SELECT ... FOR UPDATE) when credits move; kept off `users` to keep that lock narrow."""

    __tablename__ = "credit_accounts"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE", primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, server_default="0")
    reserved: Mapped[int] = mapped_column(BigInteger, server_default="0")

    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        CheckConstraint("reserved <= balance", name="reserved_within_balance"),
    )


class CreditLedger(UUIDPk, Base):
    """Append-only history of every credit movement; (user_id, kind, reference) makes replays no-ops."""

    __tablename__ = "credit_ledger"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    delta: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str]
    reason: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None]
    job_id: Mapped[uuid.UUID | None] = fk("jobs.id", "SET NULL")
    payment_id: Mapped[uuid.UUID | None] = fk("payments.id", "SET NULL")
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reserved_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        enum_check("kind", LedgerKind),
        Index("uq_credit_ledger_user_id_kind_reference", "user_id", "kind", "reference", unique=True),
        Index(None, "user_id", "created_at"),
        Index(None, "job_id", postgresql_where=text("job_id IS NOT NULL")),
        Index(None, "payment_id", postgresql_where=text("payment_id IS NOT NULL")),
    )


class CreditReservation(UUIDPk, Timestamps, Base):
    """Credits held for a job until it settles (captured on success, released on failure or cancel)."""

    __tablename__ = "credit_reservations"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    reference: Mapped[str] = mapped_column(unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(server_default=ReservationStatus.HELD.value)
    job_id: Mapped[uuid.UUID | None] = fk("jobs.id", "SET NULL")

    __table_args__ = (
        enum_check("status", ReservationStatus),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(None, "user_id", "status"),
        Index(None, "job_id", postgresql_where=text("job_id IS NOT NULL")),
    )


class Payment(UUIDPk, Timestamps, Base):
    """A purchase of credits at a payment provider, driven by its webhooks; kept if the user is deleted."""

    __tablename__ = "payments"

    user_id: Mapped[uuid.UUID | None] = fk("users.id", "SET NULL")
    provider: Mapped[str]
    provider_payment_id: Mapped[str]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(server_default="USD")
    credits_bought: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(server_default=PaymentStatus.PENDING.value)
    webhook_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        enum_check("status", PaymentStatus),
        CheckConstraint("amount_cents >= 0 AND credits_bought >= 0", name="non_negative"),
        Index("uq_payments_provider_payment", "provider", "provider_payment_id", unique=True),
        Index(None, "user_id", "created_at"),
    )
