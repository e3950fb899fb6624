"""Data: RDS PostgreSQL 17 (encrypted, backed up), its credentials in Secrets Manager with rotation, RDS Proxy.

Functions connect through the proxy, which multiplexes many short-lived Lambda connections onto a few database
connections and rides over failovers and secret rotations. A session-level `SET` would pin each client connection
to one database connection (defeating that multiplexing), so the session defaults the code relies on
(`statement_timeout`, `TimeZone`: `shared.db.engine.session_defaults`) are the instance's parameter group instead,
and in AWS the functions SET nothing on connect (`Settings.db_session_defaults`). The proxy's InitQuery would do the
same, but CDK documents it as unsupported for PostgreSQL.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.config import StageConfig
from infra.network import Network
from shared.config import Settings
from shared.db.engine import session_defaults
from shared.resources import ResourceNames

DB_PORT = 5432
DATABASE_NAME = "conveyor"  # Settings.database_name's default
# A full minor version: a bare "17" is reported deprecated by cfn-lint (W3691). Minor upgrades then happen in the
# maintenance window (auto_minor_version_upgrade); bump this when CDK knows a newer one.
ENGINE_VERSION = rds.PostgresEngineVersion.VER_17_9
# The statement timeout the functions run with (they set none of their own in the stack): one number for the
# parameter group and for the driver's read timeout (shared.db.engine.read_timeout_s).
STATEMENT_TIMEOUT_MS: int = Settings.model_fields["statement_timeout_ms"].default


class Database(Construct):
    """The Postgres instance, its secret (rotated) and the RDS Proxy in front of it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, network: Network) -> None:
        super().__init__(scope, construct_id)
        names = ResourceNames(config.stage)
        self.credentials = rds.DatabaseSecret(self, "Secret", username="conveyor", secret_name=names.database_secret)
        engine = rds.DatabaseInstanceEngine.postgres(version=ENGINE_VERSION)
        # Dynamic parameters: applied without a reboot once the group is the instance's (associating a new group with
        # an existing instance needs one reboot, in the maintenance window).
        self.parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="Conveyor session defaults (server-side, so that no SET pins RDS Proxy connections)",
            parameters=session_defaults(STATEMENT_TIMEOUT_MS),
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            parameter_group=self.parameter_group,
            instance_type=config.db_instance_type,
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            security_groups=[network.database_sg],
            credentials=rds.Credentials.from_secret(self.credentials),
            database_name=DATABASE_NAME,
            port=DB_PORT,
            storage_encrypted=True,
            allocated_storage=config.db_allocated_storage_gb,
            max_allocated_storage=config.db_max_allocated_storage_gb,
            storage_type=rds.StorageType.GP3,
            multi_az=config.db_multi_az,
            backup_retention=config.db_backup_retention,
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
            auto_minor_version_upgrade=True,
            enable_performance_insights=False,
            monitoring_interval=Duration.seconds(60),
            cloudwatch_logs_exports=["postgresql"],
            iam_authentication=True,
            publicly_accessible=False,
        )
        self.instance.add_rotation_single_user(
            automatically_after=Duration.days(config.db_rotation_days),
            vpc_subnets=network.app_subnets,
            security_group=network.function_sg,
        )
        self.proxy = self.instance.add_proxy(
            "Proxy",
            secrets=[self.credentials],
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            security_groups=[network.database_sg],
            require_tls=True,
            idle_client_timeout=Duration.minutes(30),
        )
        network.database_sg.add_ingress_rule(network.function_sg, ec2.Port.tcp(DB_PORT), "Postgres from functions")
        # The proxy and the instance share a security group that allows no outbound by default: let the proxy
        # reach the instance.
        network.database_sg.add_ingress_rule(network.database_sg, ec2.Port.tcp(DB_PORT), "Proxy to the instance")
        network.database_sg.add_egress_rule(network.database_sg, ec2.Port.tcp(DB_PORT), "Proxy to the instance")
