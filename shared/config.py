"""All settings, read once from the environment (pydantic-settings).

Nothing else in the code reads `os.environ`: a function's whole configuration is validated at cold start,
and the laptop stack and the tests configure Conveyor by setting the same variables Lambda gets.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVEYOR_", extra="ignore")

    stage: str = "local"
    # Database: a URL (laptop, tests) or, in Lambda, a Secrets Manager secret holding the RDS credentials.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    database_secret_arn: str | None = None
    # In AWS: connect here (the RDS Proxy endpoint) instead of the instance host the secret names.
    database_host: str | None = None
    # TLS to the database; on by default whenever the credentials come from Secrets Manager (i.e. in AWS).
    database_tls: bool | None = None
    database_name: str = "conveyor"
    statement_timeout_ms: int = 15_000
    # Bounds each step of connecting (TCP connect, TLS, startup and authentication, first queries) and the pre-use
    # ping; statements get statement_timeout_ms plus a margin instead. Small, so a database outage answers 503 at once.
    connect_timeout_s: float = Field(default=2.0, gt=0)
    # Who applies statement_timeout and TimeZone: "connect" SETs them on each new connection (laptop, tests); "server"
    # relies on the database's parameter group, as behind RDS Proxy, where a session-level SET pins the connection.
    # Unset: "server" when the credentials come from Secrets Manager (i.e. in AWS), else "connect".
    db_session_defaults: Literal["connect", "server"] | None = None
    # A pooled connection idle for longer than this is pinged before use (0: always).
    db_ping_after_idle_s: float = 5.0

    # AWS: region and an optional endpoint (moto on the laptop); resource names come from the stack.
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_DEFAULT_REGION")
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    media_bucket: str = "conveyor-local-media"
    jobs_queue_url: str | None = None
    media_queue_url: str | None = None
    kms_key_id: str | None = None

    # Jobs
    demo_job_types: bool = False  # demo.sleep / demo.fail and friends: laptop stack and tests only
    # A job's lease is its timeout plus this margin: a crashed worker's jobs run again within lease + one tick.
    job_lease_margin_s: int = 30
    # The worker registry's heartbeat is written at most this often per environment (not once per batch).
    worker_heartbeat_every_s: float = 10.0
    # translate.text: "pseudo" (deterministic pseudo-locale, laptop stack and tests) or "amazon" (Amazon Translate;
    # what a deployed stage sets).
    translation_provider: Literal["pseudo", "amazon"] = "pseudo"
    # Outbound webhooks may not reach private addresses, except these hosts (the laptop stack allows loopback).
    webhook_allowed_hosts: list[str] = Field(default_factory=list)

    # Media
    media_max_bytes: int = 5 * 1024**3  # largest upload accepted (the presigned POST enforces it too)
    media_allowed_types: list[str] = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "video/mp4",
            "video/quicktime",
            "video/webm",
            "audio/mpeg",
            "audio/mp4",
            "audio/aac",
            "audio/wav",
            "audio/ogg",
            "audio/flac",
            "application/vnd.apple.mpegurl",
            "application/dash+xml",
        ]
    )
    media_max_image_pixels: int = 100_000_000  # decompression-bomb guard for images
    media_upload_ttl_s: int = 900  # how long a presigned POST is valid

    # API
    api_docs_enabled: bool = True
    # Per-credential rate limit (API key or session token), counted in Postgres so every execution environment shares
    # it: at most rate_limit_requests per fixed window of rate_limit_window_s, then 429 with Retry-After. 0: off.
    rate_limit_requests: int = Field(default=600, ge=0)
    rate_limit_window_s: int = Field(default=60, ge=1, le=86_400)
    # How long a client should wait after a 503 (the Retry-After header).
    unavailable_retry_after_s: int = Field(default=5, ge=1)
    cors_origin: str | None = None

    # Secret used to key API-key hashes (HMAC), so a leaked table alone cannot be brute-forced offline.
    # In AWS it comes from Secrets Manager (key_pepper_secret_arn), read once per execution environment.
    key_pepper: str = "local-development-pepper"
    key_pepper_secret_arn: str | None = None

    # Payments: the provider's Standard Webhooks signing secret (`whsec_<base64>`); webhooks answer 503 without it.
    payments_webhook_secret: str | None = None
    # The name stored in payments.provider for events arriving on POST /v1/payments/webhook.
    payments_provider: str = "default"

    # Identity: sign-in sessions, email verification (SES) and open sign-up.
    session_ttl_hours: int = Field(default=24, ge=1)
    verification_ttl_hours: int = Field(default=48, ge=1)
    email_sender: str = "no-reply@conveyor.local"  # an SES-verified identity
    app_url: str = "http://localhost:3000"  # where verification links point (the front end)
    # Open sign-up when the instance_settings row does not exist yet (the row, once written, wins).
    signup_enabled: bool = True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The one settings object; cached so it is read once per execution environment."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (the laptop stack re-reads them after it has set up its environment)."""
    get_settings.cache_clear()
