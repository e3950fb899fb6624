"""Per-stage settings in one typed place: everything that differs between `dev` and `prod` lives here.

The stacks never branch on the stage name; they read a `StageConfig`. Adding a stage means adding one entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs


@dataclass(frozen=True)
class FunctionSize:
    """Memory and reserved concurrency of one function (timeouts come from shared/resources.py)."""

    memory_mb: int
    # None: draw from the account's unreserved pool. A number caps the function (protects the database's
    # connection budget) and guarantees it that much capacity.
    reserved_concurrency: int | None = None
    # /tmp: media ingestion spools objects up to 256 MiB there for probing, and derived-file jobs their inputs.
    ephemeral_storage_mb: int = 512


@dataclass(frozen=True)
class StageConfig:
    """What a stage decides; the stacks read nothing else."""

    stage: str
    # Network: a NAT gateway is the only way out to the internet (outbound webhooks, SES, Translate). Without it
    # the functions reach S3, SQS, Secrets Manager and KMS through VPC endpoints only.
    nat_gateways: int
    max_azs: int = 2
    # Hosts that outbound webhooks may reach even if they resolve to private addresses (CONVEYOR_WEBHOOK_ALLOWED_HOSTS).
    webhook_allowed_hosts: tuple[str, ...] = ()
    # Database
    db_instance_type: ec2.InstanceType = field(
        default_factory=lambda: ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.MICRO)
    )
    db_allocated_storage_gb: int = 20
    db_max_allocated_storage_gb: int = 100
    db_multi_az: bool = False
    db_backup_retention: Duration = field(default_factory=lambda: Duration.days(7))
    db_rotation_days: int = 30
    deletion_protection: bool = False
    # What happens to data-bearing resources (database, bucket, key) when the stack is deleted.
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    # Functions
    api: FunctionSize = field(default_factory=lambda: FunctionSize(memory_mb=1024))
    worker: FunctionSize = field(
        default_factory=lambda: FunctionSize(memory_mb=1024, reserved_concurrency=10, ephemeral_storage_mb=1024)
    )
    media: FunctionSize = field(
        default_factory=lambda: FunctionSize(memory_mb=2048, reserved_concurrency=5, ephemeral_storage_mb=1024)
    )
    scheduler: FunctionSize = field(default_factory=lambda: FunctionSize(memory_mb=512, reserved_concurrency=1))
    migrate: FunctionSize = field(default_factory=lambda: FunctionSize(memory_mb=512))
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    log_level: str = "INFO"
    # API
    api_rate_limit: int = 50  # steady requests per second across the stage
    api_burst_limit: int = 100
    cors_origins: tuple[str, ...] = ("*",)
    app_url: str = "http://localhost:3000"
    email_sender: str = "no-reply@example.com"
    # Storage
    abandoned_upload_days: int = 2  # incomplete multipart uploads under media/ are aborted after this
    quarantine_expiry_days: int = 30
    # Observability: where alarms go (None: the SNS topic exists, nobody is subscribed).
    alarm_email: str | None = None
    # Payments: name of an existing Secrets Manager secret holding the provider's `whsec_…` signing secret
    # (None: the payments webhook answers 503, as designed).
    payments_webhook_secret_name: str | None = None


STAGES: dict[str, StageConfig] = {
    "dev": StageConfig(stage="dev", nat_gateways=0),
    "prod": StageConfig(
        stage="prod",
        nat_gateways=1,
        db_instance_type=ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.MEDIUM),
        db_multi_az=True,
        db_backup_retention=Duration.days(30),
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
        worker=FunctionSize(memory_mb=1769, reserved_concurrency=50, ephemeral_storage_mb=2048),
        media=FunctionSize(memory_mb=3008, reserved_concurrency=20, ephemeral_storage_mb=2048),
        log_retention=logs.RetentionDays.THREE_MONTHS,
        api_rate_limit=200,
        api_burst_limit=400,
    ),
}


def stage_config(stage: str) -> StageConfig:
    """The configuration of `stage`, or a clear error naming the stages that exist."""
    try:
        return STAGES[stage]
    except KeyError:
        raise ValueError(f"unknown stage {stage!r}; expected one of {sorted(STAGES)}") from None
