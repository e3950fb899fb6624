"""Initial schema: every Conveyor table (see docs/data-model.md).

Revision ID: 0001
Revises:
Create Date: 2026-11-25 15:17:21.516682
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:  # noqa: PLR0915 - one statement per table and index
    op.create_table(
        "instance_settings",
        sa.Column("id", sa.String(), server_default="singleton", nullable=False),
        sa.Column("signup_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("team_invites_enabled", sa.Boolean(), nullable=True),
        sa.Column(
            "extra", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 'singleton'", name=op.f("ck_instance_settings_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_settings")),
    )
    op.create_table(
        "translations",
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_translations")),
        sa.UniqueConstraint("language", "hash", name=op.f("uq_translations_language_hash")),
    )
    op.create_table(
        "users",
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("role", sa.String(), server_default="member", nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("avatar_url", sa.String(), nullable=True),
        sa.Column("timezone", sa.String(), server_default="UTC", nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("postal_code", sa.String(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'member')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("uq_users_lower_email", "users", [sa.literal_column("lower(email)")], unique=True)
    op.create_table(
        "workers",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("hostname", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), server_default="active", nullable=False),
        sa.Column("concurrency", sa.Integer(), server_default="1", nullable=False),
        sa.Column("active_jobs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("processed_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'draining', 'stopped', 'stale')", name=op.f("ck_workers_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_last_heartbeat_at"), "workers", ["last_heartbeat_at"], unique=False)
    op.create_index(op.f("ix_workers_status"), "workers", ["status"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    op.create_table(
        "cache_entries",
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("namespace", sa.String(), nullable=False),
        sa.Column("cache_key", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cached_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stale_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cache_entries_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_entries")),
    )
    op.create_index(op.f("ix_cache_entries_stale_until"), "cache_entries", ["stale_until"], unique=False)
    op.create_index(
        op.f("ix_cache_entries_user_id"),
        "cache_entries",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_index(
        "uq_cache_entries_namespace_cache_key_user_id",
        "cache_entries",
        ["namespace", "cache_key", "user_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "credentials",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("provider_account_id", sa.String(), nullable=True),
        sa.Column("ciphertext", postgresql.BYTEA(), nullable=False),
        sa.Column("nonce", postgresql.BYTEA(), nullable=False),
        sa.Column("tag", postgresql.BYTEA(), nullable=False),
        sa.Column("encrypted_data_key", postgresql.BYTEA(), nullable=False),
        sa.Column("kms_key_id", sa.String(), nullable=False),
        sa.Column("refresh_ciphertext", postgresql.BYTEA(), nullable=True),
        sa.Column("refresh_nonce", postgresql.BYTEA(), nullable=True),
        sa.Column("refresh_tag", postgresql.BYTEA(), nullable=True),
        sa.Column("last4", sa.String(), nullable=True),
        sa.Column("scope", sa.String(), nullable=True),
        sa.Column("token_type", sa.String(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_warning_email_sent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("refresh_expired_email_sent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('oauth', 'api_key')", name=op.f("ck_credentials_kind")),
        sa.CheckConstraint(
            "(refresh_ciphertext IS NULL) = (refresh_nonce IS NULL)"
            " AND (refresh_nonce IS NULL) = (refresh_tag IS NULL)",
            name=op.f("ck_credentials_refresh_parts"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credentials_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    op.create_index(
        op.f("ix_credentials_refresh_expires_at"),
        "credentials",
        ["refresh_expires_at"],
        unique=False,
        postgresql_where=sa.text("refresh_expires_at IS NOT NULL"),
    )
    op.create_index(op.f("ix_credentials_user_id_provider"), "credentials", ["user_id", "provider"], unique=False)
    op.create_index(
        "uq_credentials_default_per_provider",
        "credentials",
        ["user_id", "provider"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_index("uq_credentials_provider_account", "credentials", ["provider", "provider_account_id"], unique=True)
    op.create_table(
        "credit_accounts",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reserved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_credit_accounts_balance_non_negative")),
        sa.CheckConstraint("reserved <= balance", name=op.f("ck_credit_accounts_reserved_within_balance")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_credit_accounts_reserved_non_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credit_accounts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credit_accounts")),
    )
    op.create_table(
        "metrics",
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("start", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_metrics_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
    )
    op.create_index(op.f("ix_metrics_reference"), "metrics", ["reference"], unique=False)
    op.create_index(
        op.f("ix_metrics_user_id_name_created_at"), "metrics", ["user_id", "name", "created_at"], unique=False
    )
    op.create_table(
        "one_time_tokens",
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('verify_email', 'reset_password', 'magic_link', 'invite')",
            name=op.f("ck_one_time_tokens_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_one_time_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_one_time_tokens_token_hash")),
    )
    op.create_index(op.f("ix_one_time_tokens_expires_at"), "one_time_tokens", ["expires_at"], unique=False)
    op.create_index(
        op.f("ix_one_time_tokens_identifier_purpose"), "one_time_tokens", ["identifier", "purpose"], unique=False
    )
    op.create_index(
        op.f("ix_one_time_tokens_user_id"),
        "one_time_tokens",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_table(
        "payments",
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("provider_payment_id", sa.String(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(), server_default="USD", nullable=False),
        sa.Column("credits_bought", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), server_default="pending", nullable=False),
        sa.Column("webhook_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'cancelled', 'refunded')", name=op.f("ck_payments_status")
        ),
        sa.CheckConstraint("amount_cents >= 0 AND credits_bought >= 0", name=op.f("ck_payments_non_negative")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payments_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_user_id_created_at"), "payments", ["user_id", "created_at"], unique=False)
    op.create_index("uq_payments_provider_payment", "payments", ["provider", "provider_payment_id"], unique=True)
    op.create_table(
        "price_presets",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("min_price_cents", sa.Integer(), nullable=True),
        sa.Column("max_price_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(), server_default="USD", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "price_cents >= 0 AND min_price_cents >= 0 AND max_price_cents >= min_price_cents",
            name=op.f("ck_price_presets_prices"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_price_presets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_presets")),
    )
    op.create_index(
        op.f("ix_price_presets_user_id_sort_order"), "price_presets", ["user_id", "sort_order"], unique=False
    )
    op.create_index(
        "uq_price_presets_default_per_user",
        "price_presets",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "projects",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_projects_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(op.f("ix_projects_user_id_created_at"), "projects", ["user_id", "created_at"], unique=False)
    op.create_table(
        "schedules",
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("job_type", sa.String(), nullable=False),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("priority", sa.SmallInteger(), server_default="2", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False),
        sa.Column("cron_expression", sa.String(), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(), server_default="UTC", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_job_id", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(cron_expression IS NULL) <> (interval_seconds IS NULL)", name=op.f("ck_schedules_cron_or_interval")
        ),
        sa.CheckConstraint("interval_seconds > 0", name=op.f("ck_schedules_interval_positive")),
        sa.CheckConstraint("max_attempts >= 1", name=op.f("ck_schedules_max_attempts_positive")),
        sa.CheckConstraint("priority IN (0, 1, 2, 3)", name=op.f("ck_schedules_priority")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_schedules_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index("ix_schedules_due", "schedules", ["next_run_at"], unique=False, postgresql_where=sa.text("enabled"))
    op.create_index(op.f("ix_schedules_user_id"), "schedules", ["user_id"], unique=False)
    op.create_table(
        "sessions",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(), nullable=True),
        sa.Column("ip_address", sa.String(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"], unique=False)
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)
    op.create_table(
        "templates",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column(
            "content", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("type IN ('tag', 'description', 'comment', 'note')", name=op.f("ck_templates_type")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_templates_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
    )
    op.create_index(op.f("ix_templates_user_id_type"), "templates", ["user_id", "type"], unique=False)
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("theme", sa.String(), server_default="system", nullable=False),
        sa.Column("default_provider", sa.String(), nullable=True),
        sa.Column("default_model", sa.String(), nullable=True),
        sa.Column(
            "preferences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("theme IN ('light', 'dark', 'system')", name=op.f("ck_user_settings_theme")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_settings")),
    )
    op.create_table(
        "automations",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("color", sa.String(), server_default="#6366f1", nullable=False),
        sa.Column("icon", sa.String(), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("draft_selection_method", sa.String(), server_default="fifo", nullable=False),
        sa.Column("remote_draft_only_by_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("jitter_min_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("jitter_max_seconds", sa.Integer(), server_default="300", nullable=False),
        sa.Column("auto_add_to_sale_queue", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sale_queue_preset_id", sa.UUID(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "draft_selection_method IN ('random', 'fifo', 'lifo')", name=op.f("ck_automations_draft_selection_method")
        ),
        sa.CheckConstraint(
            "jitter_min_seconds >= 0 AND jitter_max_seconds >= jitter_min_seconds", name=op.f("ck_automations_jitter")
        ),
        sa.ForeignKeyConstraint(
            ["sale_queue_preset_id"],
            ["price_presets.id"],
            name=op.f("fk_automations_sale_queue_preset_id_price_presets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_automations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
    )
    op.create_index(
        "ix_automations_due", "automations", ["next_run_at"], unique=False, postgresql_where=sa.text("enabled")
    )
    op.create_index(
        op.f("ix_automations_sale_queue_preset_id"),
        "automations",
        ["sale_queue_preset_id"],
        unique=False,
        postgresql_where=sa.text("sale_queue_preset_id IS NOT NULL"),
    )
    op.create_index(op.f("ix_automations_user_id_enabled"), "automations", ["user_id", "enabled"], unique=False)
    op.create_index(op.f("ix_automations_user_id_sort_order"), "automations", ["user_id", "sort_order"], unique=False)
    op.create_table(
        "media_files",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=True),
        sa.Column("bucket", sa.String(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("original_filename", sa.String(), nullable=True),
        sa.Column("declared_content_type", sa.String(), nullable=True),
        sa.Column("declared_size", sa.BigInteger(), nullable=True),
        sa.Column("content_type", sa.String(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("checksum_sha256", sa.String(), nullable=True),
        sa.Column("status", sa.String(), server_default="requested", nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("quarantine_reason", sa.String(), nullable=True),
        sa.Column("origin", sa.String(), server_default="upload", nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("purpose", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("frame_rate", sa.Numeric(precision=9, scale=3), nullable=True),
        sa.Column("bitrate", sa.BigInteger(), nullable=True),
        sa.Column("orientation", sa.String(), nullable=True),
        sa.Column("is_animated", sa.Boolean(), nullable=True),
        sa.Column("container", sa.String(), nullable=True),
        sa.Column("video_codec", sa.String(), nullable=True),
        sa.Column("audio_codec", sa.String(), nullable=True),
        sa.Column("streaming_format", sa.String(), nullable=True),
        sa.Column("stream_count", sa.SmallInteger(), nullable=True),
        sa.Column("derived_from_id", sa.UUID(), nullable=True),
        sa.Column("derivation", sa.String(), nullable=True),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("ttl_seconds", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_key", sa.String(), nullable=True),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "audio_codec IN ('aac', 'mp3', 'opus', 'vorbis', 'ac3', 'eac3', 'dts', 'flac', 'pcm', 'mp2', 'unknown')",
            name=op.f("ck_media_files_audio_codec"),
        ),
        sa.CheckConstraint(
            "derivation IN ('thumbnail', 'poster', 'preview', 'transcode', 'rendition', 'audio', 'subtitles', 'other')",
            name=op.f("ck_media_files_derivation"),
        ),
        sa.CheckConstraint(
            "kind IN ('image', 'video', 'audio', 'document', 'streaming', 'other')", name=op.f("ck_media_files_kind")
        ),
        sa.CheckConstraint(
            "orientation IN ('landscape', 'portrait', 'square')", name=op.f("ck_media_files_orientation")
        ),
        sa.CheckConstraint("origin IN ('upload', 'remote', 'generated')", name=op.f("ck_media_files_origin")),
        sa.CheckConstraint(
            "status IN ('requested', 'uploading', 'stored', 'scanning', 'ready', 'failed', 'quarantined', "
            "'attached', 'deleted')",
            name=op.f("ck_media_files_status"),
        ),
        sa.CheckConstraint(
            "streaming_format IN ('hls', 'dash', 'smooth')", name=op.f("ck_media_files_streaming_format")
        ),
        sa.CheckConstraint(
            "video_codec IN ('h264', 'h265', 'vp8', 'vp9', 'av1', 'mpeg4', 'h263', 'theora', 'prores', 'dnxhd', "
            "'unknown')",
            name=op.f("ck_media_files_video_codec"),
        ),
        sa.CheckConstraint(
            "(derived_from_id IS NULL) = (derivation IS NULL)", name=op.f("ck_media_files_derivation_pair")
        ),
        sa.CheckConstraint("size_bytes >= 0 AND declared_size >= 0", name=op.f("ck_media_files_sizes")),
        sa.CheckConstraint("ttl_seconds > 0", name=op.f("ck_media_files_ttl_positive")),
        sa.ForeignKeyConstraint(
            ["derived_from_id"],
            ["media_files.id"],
            name=op.f("fk_media_files_derived_from_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_media_files_project_id_projects"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_media_files_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_files")),
    )
    op.create_index(
        op.f("ix_media_files_derived_from_id"),
        "media_files",
        ["derived_from_id"],
        unique=False,
        postgresql_where=sa.text("derived_from_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_media_files_expires_at"),
        "media_files",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_media_files_status_status_changed_at"), "media_files", ["status", "status_changed_at"], unique=False
    )
    op.create_index(op.f("ix_media_files_user_id_created_at"), "media_files", ["user_id", "created_at"], unique=False)
    op.create_index(op.f("ix_media_files_user_id_project_id"), "media_files", ["user_id", "project_id"], unique=False)
    op.create_index("uq_media_files_bucket_key", "media_files", ["bucket", "key"], unique=True)
    op.create_table(
        "publishers",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("endpoint_url", sa.Text(), nullable=True),
        sa.Column("credential_id", sa.UUID(), nullable=True),
        sa.Column(
            "settings", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('deviantart', 'webhook', 'custom')", name=op.f("ck_publishers_kind")),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_publishers_credential_id_credentials"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_publishers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publishers")),
    )
    op.create_index(
        op.f("ix_publishers_credential_id"),
        "publishers",
        ["credential_id"],
        unique=False,
        postgresql_where=sa.text("credential_id IS NOT NULL"),
    )
    op.create_index(op.f("ix_publishers_user_id"), "publishers", ["user_id"], unique=False)
    op.create_table(
        "automation_default_values",
        sa.Column("automation_id", sa.UUID(), nullable=False),
        sa.Column("field_name", sa.String(), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("apply_if_empty", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_default_values_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_default_values")),
    )
    op.create_index(
        "uq_automation_default_values_automation_id_field_name",
        "automation_default_values",
        ["automation_id", "field_name"],
        unique=True,
    )
    op.create_table(
        "automation_rules",
        sa.Column("automation_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("time_of_day", sa.Time(), nullable=True),
        sa.Column("interval_minutes", sa.Integer(), nullable=True),
        sa.Column("items_per_interval", sa.Integer(), nullable=True),
        sa.Column("daily_quota", sa.Integer(), nullable=True),
        sa.Column("days_of_week", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(type <> 'fixed_time' OR time_of_day IS NOT NULL) AND (type <> 'fixed_interval' OR interval_minutes > "
            "0) AND (type <> 'daily_quota' OR daily_quota > 0)",
            name=op.f("ck_automation_rules_shape"),
        ),
        sa.CheckConstraint(
            "days_of_week <@ ARRAY['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', "
            "'sunday']::text[]",
            name=op.f("ck_automation_rules_days_of_week"),
        ),
        sa.CheckConstraint(
            "type IN ('fixed_time', 'fixed_interval', 'daily_quota')", name=op.f("ck_automation_rules_type")
        ),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_rules_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
    )
    op.create_index(op.f("ix_automation_rules_automation_id"), "automation_rules", ["automation_id"], unique=False)
    op.create_table(
        "items",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=True),
        sa.Column("automation_id", sa.UUID(), nullable=True),
        sa.Column("publisher_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(), server_default="draft", nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("category_path", sa.String(), nullable=True),
        sa.Column("collection_ids", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("is_mature", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("mature_level", sa.String(), nullable=True),
        sa.Column("allow_comments", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("allow_free_download", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_ai_generated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("no_ai", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("remote_draft_only", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("add_watermark", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("display_resolution", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("upload_mode", sa.String(), server_default="single", nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("jitter_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("actual_publish_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_draft_id", sa.String(), nullable=True),
        sa.Column("remote_id", sa.String(), nullable=True),
        sa.Column("remote_url", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_lock_id", sa.String(), nullable=True),
        sa.Column("execution_locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("post_count_incremented", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("mature_level IN ('moderate', 'strict')", name=op.f("ck_items_mature_level")),
        sa.CheckConstraint(
            "status IN ('review', 'draft', 'scheduled', 'uploading', 'publishing', 'published', 'failed')",
            name=op.f("ck_items_status"),
        ),
        sa.CheckConstraint("upload_mode IN ('single', 'multiple')", name=op.f("ck_items_upload_mode")),
        sa.CheckConstraint("display_resolution BETWEEN 0 AND 8", name=op.f("ck_items_display_resolution_range")),
        sa.CheckConstraint("jitter_seconds >= 0 AND retry_count >= 0", name=op.f("ck_items_non_negative")),
        sa.ForeignKeyConstraint(
            ["automation_id"], ["automations.id"], name=op.f("fk_items_automation_id_automations"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_items_project_id_projects"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["publishers.id"], name=op.f("fk_items_publisher_id_publishers"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_items_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("remote_id", name=op.f("uq_items_remote_id")),
    )
    op.create_index(op.f("ix_items_automation_id"), "items", ["automation_id"], unique=False)
    op.create_index(op.f("ix_items_execution_lock_id_status"), "items", ["execution_lock_id", "status"], unique=False)
    op.create_index(
        op.f("ix_items_project_id"),
        "items",
        ["project_id"],
        unique=False,
        postgresql_where=sa.text("project_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_items_publisher_id"),
        "items",
        ["publisher_id"],
        unique=False,
        postgresql_where=sa.text("publisher_id IS NOT NULL"),
    )
    op.create_index(op.f("ix_items_status_actual_publish_at"), "items", ["status", "actual_publish_at"], unique=False)
    op.create_index(op.f("ix_items_user_id_status"), "items", ["user_id", "status"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("project_id", sa.UUID(), nullable=True),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("schedule_id", sa.UUID(), nullable=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("status", sa.String(), server_default="pending", nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="2", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False),
        sa.Column("retry_base_ms", sa.Integer(), server_default="1000", nullable=False),
        sa.Column("retry_cap_ms", sa.Integer(), server_default="300000", nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("timeout_s", sa.Integer(), server_default="900", nullable=False),
        sa.Column("locked_by", sa.String(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress", sa.Numeric(precision=5, scale=2), server_default="0", nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("success_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failure_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skip_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret_ref", sa.String(), nullable=True),
        sa.Column("cost_credits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("input_media_id", sa.UUID(), nullable=True),
        sa.Column("output_media_id", sa.UUID(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("request_hash", sa.String(), nullable=True),
        sa.Column("dedupe_key", sa.String(), nullable=True),
        sa.Column("worker_id", sa.UUID(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'queued', 'running', 'retrying', 'review', 'completed', 'failed', 'cancelled', "
            "'done')",
            name=op.f("ck_jobs_status"),
        ),
        sa.CheckConstraint(
            "attempts >= 0 AND max_attempts >= 1 AND total >= 0 AND success_count >= 0 AND failure_count >= 0 AND "
            "skip_count >= 0 AND cost_credits >= 0",
            name=op.f("ck_jobs_non_negative"),
        ),
        sa.CheckConstraint("priority IN (0, 1, 2, 3)", name=op.f("ck_jobs_priority")),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name=op.f("ck_jobs_progress_range")),
        sa.CheckConstraint("retry_base_ms >= 0 AND retry_cap_ms >= retry_base_ms", name=op.f("ck_jobs_retry_delays")),
        sa.CheckConstraint("timeout_s > 0", name=op.f("ck_jobs_timeout_positive")),
        sa.ForeignKeyConstraint(
            ["input_media_id"], ["media_files.id"], name=op.f("fk_jobs_input_media_id_media_files"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["output_media_id"],
            ["media_files.id"],
            name=op.f("fk_jobs_output_media_id_media_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["jobs.id"], name=op.f("fk_jobs_parent_id_jobs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_jobs_project_id_projects"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_jobs_schedule_id_schedules"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_jobs_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.id"], name=op.f("fk_jobs_worker_id_workers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(
        op.f("ix_jobs_input_media_id"),
        "jobs",
        ["input_media_id"],
        unique=False,
        postgresql_where=sa.text("input_media_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_jobs_output_media_id"),
        "jobs",
        ["output_media_id"],
        unique=False,
        postgresql_where=sa.text("output_media_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_jobs_parent_id"),
        "jobs",
        ["parent_id"],
        unique=False,
        postgresql_where=sa.text("parent_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_jobs_project_id"),
        "jobs",
        ["project_id"],
        unique=False,
        postgresql_where=sa.text("project_id IS NOT NULL"),
    )
    op.create_index(
        "ix_jobs_queued_enqueued_at",
        "jobs",
        ["enqueued_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_jobs_runnable",
        "jobs",
        ["priority", "run_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'retrying')"),
    )
    op.create_index(
        "ix_jobs_running_lease",
        "jobs",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_index(
        op.f("ix_jobs_schedule_id"),
        "jobs",
        ["schedule_id"],
        unique=False,
        postgresql_where=sa.text("schedule_id IS NOT NULL"),
    )
    op.create_index(op.f("ix_jobs_type"), "jobs", ["type"], unique=False)
    op.create_index(op.f("ix_jobs_user_id_created_at"), "jobs", ["user_id", "created_at"], unique=False)
    op.create_index(op.f("ix_jobs_user_id_status"), "jobs", ["user_id", "status"], unique=False)
    op.create_index(
        op.f("ix_jobs_worker_id"),
        "jobs",
        ["worker_id"],
        unique=False,
        postgresql_where=sa.text("worker_id IS NOT NULL"),
    )
    op.create_index(
        "uq_jobs_active_dedupe_key",
        "jobs",
        ["user_id", "dedupe_key"],
        unique=True,
        postgresql_nulls_not_distinct=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL AND status IN ('pending', 'queued', 'running', 'retrying')"),
    )
    op.create_index("uq_jobs_user_idempotency_key", "jobs", ["user_id", "idempotency_key"], unique=True)
    # schedules and jobs reference each other: this FK can only exist once both tables do.
    op.create_foreign_key(
        op.f("fk_schedules_last_job_id_jobs"), "schedules", "jobs", ["last_job_id"], ["id"], ondelete="SET NULL"
    )
    op.create_table(
        "media_status_events",
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'uploading', 'stored', 'scanning', 'ready', 'failed', 'quarantined', "
            "'attached', 'deleted')",
            name=op.f("ck_media_status_events_status"),
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media_files.id"],
            name=op.f("fk_media_status_events_media_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_status_events")),
    )
    op.create_index(op.f("ix_media_status_events_media_id_at"), "media_status_events", ["media_id", "at"], unique=False)
    op.create_table(
        "automation_execution_logs",
        sa.Column("automation_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.UUID(), nullable=True),
        sa.Column("triggered_by_rule_type", sa.String(), nullable=True),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("scheduled_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "triggered_by_rule_type IN ('fixed_time', 'fixed_interval', 'daily_quota')",
            name=op.f("ck_automation_execution_logs_triggered_by_rule_type"),
        ),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_execution_logs_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["automation_rules.id"],
            name=op.f("fk_automation_execution_logs_rule_id_automation_rules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_execution_logs")),
    )
    op.create_index(
        op.f("ix_automation_execution_logs_automation_id_executed_at"),
        "automation_execution_logs",
        ["automation_id", "executed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_automation_execution_logs_rule_id"),
        "automation_execution_logs",
        ["rule_id"],
        unique=False,
        postgresql_where=sa.text("rule_id IS NOT NULL"),
    )
    op.create_table(
        "credit_ledger",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("job_id", sa.UUID(), nullable=True),
        sa.Column("payment_id", sa.UUID(), nullable=True),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("reserved_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('grant', 'reserve', 'capture', 'release', 'purchase', 'refund', 'adjust')",
            name=op.f("ck_credit_ledger_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_credit_ledger_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_credit_ledger_payment_id_payments"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credit_ledger_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
    )
    op.create_index(
        op.f("ix_credit_ledger_job_id"),
        "credit_ledger",
        ["job_id"],
        unique=False,
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_credit_ledger_payment_id"),
        "credit_ledger",
        ["payment_id"],
        unique=False,
        postgresql_where=sa.text("payment_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_credit_ledger_user_id_created_at"), "credit_ledger", ["user_id", "created_at"], unique=False
    )
    op.create_index(
        "uq_credit_ledger_user_id_kind_reference", "credit_ledger", ["user_id", "kind", "reference"], unique=True
    )
    op.create_table(
        "credit_reservations",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), server_default="held", nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('held', 'captured', 'released')", name=op.f("ck_credit_reservations_status")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_reservations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_credit_reservations_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credit_reservations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_reservations")),
        sa.UniqueConstraint("reference", name=op.f("uq_credit_reservations_reference")),
    )
    op.create_index(
        op.f("ix_credit_reservations_job_id"),
        "credit_reservations",
        ["job_id"],
        unique=False,
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_credit_reservations_user_id_status"), "credit_reservations", ["user_id", "status"], unique=False
    )
    op.create_table(
        "item_files",
        sa.Column("item_id", sa.UUID(), nullable=False),
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_files_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_files.id"], name=op.f("fk_item_files_media_id_media_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_files")),
    )
    op.create_index(op.f("ix_item_files_media_id"), "item_files", ["media_id"], unique=False)
    op.create_index("uq_item_files_item_id_media_id", "item_files", ["item_id", "media_id"], unique=True)
    op.create_table(
        "job_logs",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("level", sa.String(), server_default="info", nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("level IN ('debug', 'info', 'warning', 'error')", name=op.f("ck_job_logs_level")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_logs_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_logs")),
    )
    op.create_index(op.f("ix_job_logs_job_id_created_at"), "job_logs", ["job_id", "created_at"], unique=False)
    op.create_table(
        "job_segments",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("segment_index", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=True),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'skipped')", name=op.f("ck_job_segments_status")
        ),
        sa.CheckConstraint("end_ms >= start_ms", name=op.f("ck_job_segments_span")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_segments_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_segments")),
    )
    op.create_index("uq_job_segments_job_id_segment_index", "job_segments", ["job_id", "segment_index"], unique=True)
    op.create_table(
        "sale_queue",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("item_id", sa.UUID(), nullable=False),
        sa.Column("price_preset_id", sa.UUID(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processing_by", sa.String(), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("screenshot_key", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed', 'skipped')", name=op.f("ck_sale_queue_status")
        ),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_sale_queue_price_non_negative")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_sale_queue_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["price_preset_id"],
            ["price_presets.id"],
            name=op.f("fk_sale_queue_price_preset_id_price_presets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sale_queue_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_queue")),
        sa.UniqueConstraint("item_id", name=op.f("uq_sale_queue_item_id")),
    )
    op.create_index(op.f("ix_sale_queue_price_preset_id"), "sale_queue", ["price_preset_id"], unique=False)
    op.create_index(op.f("ix_sale_queue_status_created_at"), "sale_queue", ["status", "created_at"], unique=False)
    op.create_index(op.f("ix_sale_queue_user_id_status"), "sale_queue", ["user_id", "status"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("status", sa.String(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f("ck_webhook_deliveries_status")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_webhook_deliveries_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(op.f("ix_webhook_deliveries_job_id"), "webhook_deliveries", ["job_id"], unique=False)


def downgrade() -> None:  # noqa: PLR0915
    op.drop_constraint(op.f("fk_schedules_last_job_id_jobs"), "schedules", type_="foreignkey")
    op.drop_index(op.f("ix_webhook_deliveries_job_id"), table_name="webhook_deliveries")
    op.drop_index(
        "ix_webhook_deliveries_due", table_name="webhook_deliveries", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_sale_queue_user_id_status"), table_name="sale_queue")
    op.drop_index(op.f("ix_sale_queue_status_created_at"), table_name="sale_queue")
    op.drop_index(op.f("ix_sale_queue_price_preset_id"), table_name="sale_queue")
    op.drop_table("sale_queue")
    op.drop_index("uq_job_segments_job_id_segment_index", table_name="job_segments")
    op.drop_table("job_segments")
    op.drop_index(op.f("ix_job_logs_job_id_created_at"), table_name="job_logs")
    op.drop_table("job_logs")
    op.drop_index("uq_item_files_item_id_media_id", table_name="item_files")
    op.drop_index(op.f("ix_item_files_media_id"), table_name="item_files")
    op.drop_table("item_files")
    op.drop_index(op.f("ix_credit_reservations_user_id_status"), table_name="credit_reservations")
    op.drop_index(
        op.f("ix_credit_reservations_job_id"),
        table_name="credit_reservations",
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.drop_table("credit_reservations")
    op.drop_index("uq_credit_ledger_user_id_kind_reference", table_name="credit_ledger")
    op.drop_index(op.f("ix_credit_ledger_user_id_created_at"), table_name="credit_ledger")
    op.drop_index(
        op.f("ix_credit_ledger_payment_id"),
        table_name="credit_ledger",
        postgresql_where=sa.text("payment_id IS NOT NULL"),
    )
    op.drop_index(
        op.f("ix_credit_ledger_job_id"), table_name="credit_ledger", postgresql_where=sa.text("job_id IS NOT NULL")
    )
    op.drop_table("credit_ledger")
    op.drop_index(
        op.f("ix_automation_execution_logs_rule_id"),
        table_name="automation_execution_logs",
        postgresql_where=sa.text("rule_id IS NOT NULL"),
    )
    op.drop_index(
        op.f("ix_automation_execution_logs_automation_id_executed_at"), table_name="automation_execution_logs"
    )
    op.drop_table("automation_execution_logs")
    op.drop_index(op.f("ix_media_status_events_media_id_at"), table_name="media_status_events")
    op.drop_table("media_status_events")
    op.drop_index("uq_jobs_user_idempotency_key", table_name="jobs")
    op.drop_index(
        "uq_jobs_active_dedupe_key",
        table_name="jobs",
        postgresql_nulls_not_distinct=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL AND status IN ('pending', 'queued', 'running', 'retrying')"),
    )
    op.drop_index(op.f("ix_jobs_worker_id"), table_name="jobs", postgresql_where=sa.text("worker_id IS NOT NULL"))
    op.drop_index(op.f("ix_jobs_user_id_status"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_user_id_created_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_type"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_schedule_id"), table_name="jobs", postgresql_where=sa.text("schedule_id IS NOT NULL"))
    op.drop_index("ix_jobs_running_lease", table_name="jobs", postgresql_where=sa.text("status = 'running'"))
    op.drop_index("ix_jobs_runnable", table_name="jobs", postgresql_where=sa.text("status IN ('queued', 'retrying')"))
    op.drop_index("ix_jobs_queued_enqueued_at", table_name="jobs", postgresql_where=sa.text("status = 'queued'"))
    op.drop_index(op.f("ix_jobs_project_id"), table_name="jobs", postgresql_where=sa.text("project_id IS NOT NULL"))
    op.drop_index(op.f("ix_jobs_parent_id"), table_name="jobs", postgresql_where=sa.text("parent_id IS NOT NULL"))
    op.drop_index(
        op.f("ix_jobs_output_media_id"), table_name="jobs", postgresql_where=sa.text("output_media_id IS NOT NULL")
    )
    op.drop_index(
        op.f("ix_jobs_input_media_id"), table_name="jobs", postgresql_where=sa.text("input_media_id IS NOT NULL")
    )
    op.drop_table("jobs")
    op.drop_index(op.f("ix_items_user_id_status"), table_name="items")
    op.drop_index(op.f("ix_items_status_actual_publish_at"), table_name="items")
    op.drop_index(
        op.f("ix_items_publisher_id"), table_name="items", postgresql_where=sa.text("publisher_id IS NOT NULL")
    )
    op.drop_index(op.f("ix_items_project_id"), table_name="items", postgresql_where=sa.text("project_id IS NOT NULL"))
    op.drop_index(op.f("ix_items_execution_lock_id_status"), table_name="items")
    op.drop_index(op.f("ix_items_automation_id"), table_name="items")
    op.drop_table("items")
    op.drop_index(op.f("ix_automation_rules_automation_id"), table_name="automation_rules")
    op.drop_table("automation_rules")
    op.drop_index("uq_automation_default_values_automation_id_field_name", table_name="automation_default_values")
    op.drop_table("automation_default_values")
    op.drop_index(op.f("ix_publishers_user_id"), table_name="publishers")
    op.drop_index(
        op.f("ix_publishers_credential_id"),
        table_name="publishers",
        postgresql_where=sa.text("credential_id IS NOT NULL"),
    )
    op.drop_table("publishers")
    op.drop_index("uq_media_files_bucket_key", table_name="media_files")
    op.drop_index(op.f("ix_media_files_user_id_project_id"), table_name="media_files")
    op.drop_index(op.f("ix_media_files_user_id_created_at"), table_name="media_files")
    op.drop_index(op.f("ix_media_files_status_status_changed_at"), table_name="media_files")
    op.drop_index(
        op.f("ix_media_files_expires_at"), table_name="media_files", postgresql_where=sa.text("expires_at IS NOT NULL")
    )
    op.drop_index(
        op.f("ix_media_files_derived_from_id"),
        table_name="media_files",
        postgresql_where=sa.text("derived_from_id IS NOT NULL"),
    )
    op.drop_table("media_files")
    op.drop_index(op.f("ix_automations_user_id_sort_order"), table_name="automations")
    op.drop_index(op.f("ix_automations_user_id_enabled"), table_name="automations")
    op.drop_index(
        op.f("ix_automations_sale_queue_preset_id"),
        table_name="automations",
        postgresql_where=sa.text("sale_queue_preset_id IS NOT NULL"),
    )
    op.drop_index("ix_automations_due", table_name="automations", postgresql_where=sa.text("enabled"))
    op.drop_table("automations")
    op.drop_table("user_settings")
    op.drop_index(op.f("ix_templates_user_id_type"), table_name="templates")
    op.drop_table("templates")
    op.drop_index(op.f("ix_sessions_user_id"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_index(op.f("ix_schedules_user_id"), table_name="schedules")
    op.drop_index("ix_schedules_due", table_name="schedules", postgresql_where=sa.text("enabled"))
    op.drop_table("schedules")
    op.drop_index(op.f("ix_projects_user_id_created_at"), table_name="projects")
    op.drop_table("projects")
    op.drop_index(
        "uq_price_presets_default_per_user", table_name="price_presets", postgresql_where=sa.text("is_default")
    )
    op.drop_index(op.f("ix_price_presets_user_id_sort_order"), table_name="price_presets")
    op.drop_table("price_presets")
    op.drop_index("uq_payments_provider_payment", table_name="payments")
    op.drop_index(op.f("ix_payments_user_id_created_at"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(
        op.f("ix_one_time_tokens_user_id"),
        table_name="one_time_tokens",
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.drop_index(op.f("ix_one_time_tokens_identifier_purpose"), table_name="one_time_tokens")
    op.drop_index(op.f("ix_one_time_tokens_expires_at"), table_name="one_time_tokens")
    op.drop_table("one_time_tokens")
    op.drop_index(op.f("ix_metrics_user_id_name_created_at"), table_name="metrics")
    op.drop_index(op.f("ix_metrics_reference"), table_name="metrics")
    op.drop_table("metrics")
    op.drop_table("credit_accounts")
    op.drop_index("uq_credentials_provider_account", table_name="credentials")
    op.drop_index(
        "uq_credentials_default_per_provider", table_name="credentials", postgresql_where=sa.text("is_default")
    )
    op.drop_index(op.f("ix_credentials_user_id_provider"), table_name="credentials")
    op.drop_index(
        op.f("ix_credentials_refresh_expires_at"),
        table_name="credentials",
        postgresql_where=sa.text("refresh_expires_at IS NOT NULL"),
    )
    op.drop_table("credentials")
    op.drop_index(
        "uq_cache_entries_namespace_cache_key_user_id", table_name="cache_entries", postgresql_nulls_not_distinct=True
    )
    op.drop_index(
        op.f("ix_cache_entries_user_id"), table_name="cache_entries", postgresql_where=sa.text("user_id IS NOT NULL")
    )
    op.drop_index(op.f("ix_cache_entries_stale_until"), table_name="cache_entries")
    op.drop_table("cache_entries")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_workers_status"), table_name="workers")
    op.drop_index(op.f("ix_workers_last_heartbeat_at"), table_name="workers")
    op.drop_table("workers")
    op.drop_index("uq_users_lower_email", table_name="users")
    op.drop_table("users")
    op.drop_table("translations")
    op.drop_table("instance_settings")
