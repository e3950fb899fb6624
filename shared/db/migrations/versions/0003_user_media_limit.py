"""Per-user maximum upload size (user_settings.media_max_bytes; NULL: the instance default).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: added without rewriting the table.
    op.add_column("user_settings", sa.Column("media_max_bytes", sa.BigInteger(), nullable=True))
    op.create_check_constraint(op.f("ck_user_settings_media_max_bytes"), "user_settings", "media_max_bytes > 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_user_settings_media_max_bytes"), "user_settings", type_="check")
    op.drop_column("user_settings", "media_max_bytes")
