"""ConveyorStack: the whole deployment as one stack of well-named constructs (why one: docs/infra.md).

Assets are parameters (`FunctionAssets`): `infra.app` passes the real function folders and built layers,
the tests pass inline code and a tiny layer, so a test never bundles or downloads anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, CustomResource, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.api import API_STAGE_NAME, RestApi
from infra.config import StageConfig
from infra.data import Database
from infra.functions import ConveyorFunction
from infra.network import Network
from infra.observability import Observability
from infra.queues import QueueWithDlq, sqs_max_concurrency
from infra.storage import MediaStorage
from shared.config import Settings
from shared.resources import MEDIA_PREFIX, MEDIA_TIMEOUT_S, SCHEDULER_TIMEOUT_S, WORKER_TIMEOUT_S, ResourceNames

FUNCTION_NAMES = ("api", "worker", "scheduler", "media", "migrate")
API_TIMEOUT_S = 29  # API Gateway's integration timeout
MIGRATE_TIMEOUT_S = 900  # a long migration must finish inside one custom-resource call
SQS_BATCH_SIZE = 10
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "shared" / "db" / "migrations"
ENV_PREFIX = Settings.model_config.get("env_prefix", "")


@dataclass(frozen=True)
class FunctionAssets:
    """Code per function (keys: FUNCTION_NAMES) and the three layers' code (deps, media, models)."""

    code: Mapping[str, lambda_.Code]
    layers: Mapping[str, lambda_.Code]


def settings_env(**values: str) -> dict[str, str]:
    """CONVEYOR_* variables for the given Settings fields; refuses a name Settings does not read, so the stack
    can never set a variable the code ignores."""
    unknown = set(values) - set(Settings.model_fields)
    if unknown:
        raise KeyError(f"not fields of shared.config.Settings: {sorted(unknown)}")
    return {f"{ENV_PREFIX}{key}".upper(): value for key, value in values.items()}


def migrations_fingerprint(directory: Path = MIGRATIONS_DIR) -> str:
    """A hash of the migration scripts: the custom resource changes (and migrates) whenever they do."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.py")) if directory.is_dir() else []:
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ConveyorStack(Stack):
    """Network, data, storage, queues, functions, API, schedule, migrations and observability of one stage."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, assets: FunctionAssets, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        names = ResourceNames(config.stage)
        self.config = config

        self.network = Network(self, "Network", config=config)
        self.database = Database(self, "Data", config=config, network=self.network)
        self.jobs = QueueWithDlq(
            self, "Jobs", queue_name=names.jobs_queue, dlq_name=names.jobs_dlq, consumer_timeout_s=WORKER_TIMEOUT_S
        )
        self.media_queue = QueueWithDlq(
            self,
            "MediaQueue",
            queue_name=names.media_queue,
            dlq_name=names.media_dlq,
            consumer_timeout_s=MEDIA_TIMEOUT_S,
        )
        self.storage = MediaStorage(self, "Storage", config=config, media_queue=self.media_queue.queue)
        self.vault_key = kms.Key(
            self,
            "VaultKey",
            alias=names.vault_key_alias,
            description="Conveyor vault: envelope encryption of stored provider and OAuth secrets",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        self.email_identity = ses.EmailIdentity(self, "EmailSender", identity=ses.Identity.email(config.email_sender))
        # HMAC key for API-key hashes. Never rotated automatically: a new pepper invalidates every API key.
        self.key_pepper = secretsmanager.Secret(
            self,
            "KeyPepper",
            secret_name=f"{names.prefix}/key-pepper",
            description="Conveyor API-key hash pepper",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=64),
            removal_policy=config.removal_policy,
        )
        payments_secret = (
            secretsmanager.Secret.from_secret_name_v2(
                self, "PaymentsWebhookSecret", config.payments_webhook_secret_name
            )
            if config.payments_webhook_secret_name
            else None
        )

        layers = {
            name: lambda_.LayerVersion(
                self,
                f"{name.capitalize()}Layer",
                code=code,
                compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
                compatible_architectures=[lambda_.Architecture.ARM_64],
                description=f"Conveyor {name} layer",
            )
            for name, code in assets.layers.items()
        }
        base_layers = [layers["deps"], layers["models"]]
        media_layers = [*base_layers, layers["media"]]

        # Credentials from the secret, but connect through RDS Proxy rather than the instance host it names.
        common = settings_env(
            stage=config.stage,
            database_secret_arn=self.database.credentials.secret_arn,
            database_host=self.database.proxy.endpoint,
        )
        app_env = common | settings_env(
            media_bucket=self.storage.bucket.bucket_name,
            jobs_queue_url=self.jobs.queue.queue_url,
            media_queue_url=self.media_queue.queue.queue_url,
            kms_key_id=self.vault_key.key_id,
            email_sender=config.email_sender,
            app_url=config.app_url,
            translation_provider="amazon",
            cors_origin=config.cors_origins[0],
        )
        if config.webhook_allowed_hosts:
            app_env |= settings_env(webhook_allowed_hosts=json.dumps(list(config.webhook_allowed_hosts)))
        app_env |= settings_env(key_pepper_secret_arn=self.key_pepper.secret_arn)  # read by the function itself
        api_env = dict(app_env)
        if payments_secret is not None:
            api_env |= settings_env(payments_webhook_secret=payments_secret.secret_value.unsafe_unwrap())

        def function(
            name: str, *, timeout_s: int, fn_layers: list[lambda_.ILayerVersion], env: dict[str, str], description: str
        ) -> lambda_.Function:
            built = ConveyorFunction(
                self,
                f"{name.capitalize()}Function",
                name=name,
                config=config,
                size=getattr(config, name),
                timeout_s=timeout_s,
                code=assets.code[name],
                layers=fn_layers,
                environment=env,
                vpc=self.network.vpc,
                subnets=self.network.app_subnets,
                security_group=self.network.function_sg,
                description=description,
            )
            self.database.credentials.grant_read(built.function)
            return built.function

        self.api_fn = function(
            "api",
            timeout_s=API_TIMEOUT_S,
            fn_layers=base_layers,
            env=api_env,
            description="HTTP API (API Gateway REST proxy)",
        )
        self.worker_fn = function(
            "worker",
            timeout_s=WORKER_TIMEOUT_S,
            fn_layers=media_layers,
            env=app_env,
            description="Runs jobs woken by the jobs queue",
        )
        self.scheduler_fn = function(
            "scheduler",
            timeout_s=SCHEDULER_TIMEOUT_S,
            fn_layers=base_layers,
            env=app_env,
            description="Scheduler tick (EventBridge, every minute)",
        )
        self.media_fn = function(
            "media",
            timeout_s=MEDIA_TIMEOUT_S,
            fn_layers=media_layers,
            env=app_env,
            description="Inspects uploads (S3 ObjectCreated via the media queue)",
        )
        self.migrate_fn = function(
            "migrate",
            timeout_s=MIGRATE_TIMEOUT_S,
            fn_layers=base_layers,
            env=common,
            description="Runs Alembic migrations (CloudFormation custom resource)",
        )
        self.functions = {
            "api": self.api_fn,
            "worker": self.worker_fn,
            "scheduler": self.scheduler_fn,
            "media": self.media_fn,
            "migrate": self.migrate_fn,
        }
        self._grant(payments_secret)

        # Event sources
        for fn, queue, size in (
            (self.worker_fn, self.jobs.queue, config.worker),
            (self.media_fn, self.media_queue.queue, config.media),
        ):
            fn.add_event_source(
                sources.SqsEventSource(
                    queue,
                    batch_size=SQS_BATCH_SIZE,
                    report_batch_item_failures=True,
                    max_concurrency=sqs_max_concurrency(size.reserved_concurrency),
                )
            )
        self.schedule = events.Rule(
            self,
            "SchedulerTick",
            description="Conveyor scheduler tick",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            # A missed tick is not retried: the next one, a minute later, does the same due work.
            targets=[targets.LambdaFunction(self.scheduler_fn, retry_attempts=0, max_event_age=Duration.minutes(1))],
        )

        # Migrations run before the API serves: the API function depends on the custom resource.
        self.migration = CustomResource(
            self,
            "DatabaseMigrations",
            service_token=self.migrate_fn.function_arn,
            resource_type="Custom::ConveyorMigrations",
            properties={"Migrations": migrations_fingerprint()},
        )
        # The migrate function needs the database, the proxy and the VPC endpoints (Secrets Manager) in place.
        self.migration.node.add_dependency(self.database)
        self.migration.node.add_dependency(self.network)
        self.api_fn.node.add_dependency(self.migration)

        self.api = RestApi(self, "Http", config=config, handler=self.api_fn)
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            functions=self.functions,
            queues={"Jobs": self.jobs, "Media": self.media_queue},
            api=self.api.api,
            database=self.database.instance,
        )
        CfnOutput(self, "ApiUrl", value=f"{self.api.api.url}v1/", description=f"API base URL (stage {API_STAGE_NAME})")
        CfnOutput(self, "MediaBucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(self, "MigrateFunctionName", value=self.migrate_fn.function_name)

    def _grant(self, payments_secret: secretsmanager.ISecret | None) -> None:
        """Exactly what each function's code calls, on the named resources (docs/infra.md lists the calls).

        Explicit actions rather than `grant_read`/`grant_encrypt_decrypt`, which add wildcard actions
        (s3:GetObject*, s3:List*, kms:ReEncrypt*) the code never uses.
        """
        bucket, jobs = self.storage.bucket, self.jobs.queue
        api, worker, scheduler, media = self.api_fn, self.worker_fn, self.scheduler_fn, self.media_fn
        objects, uploads = bucket.arn_for_objects("*"), bucket.arn_for_objects(f"{MEDIA_PREFIX}*")

        def allow(fn: lambda_.Function, actions: list[str], resources: list[str]) -> None:
            fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))

        for fn in (api, worker, scheduler, media):
            self.key_pepper.grant_read(fn)
            jobs.grant_send_messages(fn)  # wake-ups after commit, retries, derived work
        # API: signs presigned POSTs (uploads under media/ only) and GETs; deletes media on request.
        allow(api, ["s3:PutObject"], [uploads])
        allow(api, ["s3:GetObject", "s3:DeleteObject"], [objects])
        # Worker: downloads sources, writes derived files (ListBucket: a missing key is a 404, not a 403).
        allow(worker, ["s3:GetObject", "s3:PutObject"], [objects])
        allow(worker, ["s3:ListBucket"], [bucket.bucket_arn])
        # Media: checks the upload's size, copies it to stored/ (what is hashed, probed and served) or quarantine/,
        # tags it, deletes the upload.
        allow(media, ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"], [objects])
        allow(media, ["s3:ListBucket"], [bucket.bucket_arn])
        # Scheduler: housekeeping deletes expired media; the sweeper reads the jobs queue's depth.
        allow(scheduler, ["s3:DeleteObject"], [objects])
        jobs.grant(scheduler, "sqs:GetQueueAttributes")
        for fn in (api, worker):
            # Vault envelope encryption: data keys are generated and unwrapped, never re-encrypted.
            allow(fn, ["kms:GenerateDataKey", "kms:Decrypt"], [self.vault_key.key_arn])
            self.email_identity.grant_send_email(fn)  # verification mail (API), email jobs (worker)
        # Amazon Translate has no resource-level permissions: "*" is the only resource it accepts.
        allow(worker, ["translate:TranslateText"], ["*"])
        if payments_secret is not None:
            payments_secret.grant_read(api)
