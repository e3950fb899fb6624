"""A schedule's own retry delay (schedules.retry_delay_ms; NULL: the job type's) and the index behind the keyset
order of GET /v1/metrics/raw (metrics: user_id, created_at, id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: added without rewriting the table. The upper bound is admission's, in code.
    op.add_column("schedules", sa.Column("retry_delay_ms", sa.Integer(), nullable=True))
    op.create_check_constraint(op.f("ck_schedules_retry_delay_non_negative"), "schedules", "retry_delay_ms >= 0")
    op.create_index(op.f("ix_metrics_user_id_created_at_id"), "metrics", ["user_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_metrics_user_id_created_at_id"), table_name="metrics")
    op.drop_constraint(op.f("ck_schedules_retry_delay_non_negative"), "schedules", type_="check")
    op.drop_column("schedules", "retry_delay_ms")
