"""Per-credential rate limit counters on api_keys and sessions (shared/identity/ratelimit.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("api_keys", "sessions")


def upgrade() -> None:
    # Nullable, or with a constant default: Postgres adds them without rewriting the table.
    for table in TABLES:
        op.add_column(table, sa.Column("rate_window_start", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("rate_hits", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "rate_hits")
        op.drop_column(table, "rate_window_start")
