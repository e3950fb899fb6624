"""One construct for every Conveyor function, so runtime, architecture, tracing, logging and VPC placement are
decided once. Code and layers are parameters: the app passes assets, the tests pass inline code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import FunctionSize, StageConfig

RUNTIME = lambda_.Runtime.PYTHON_3_12  # the layers are compiled for 3.12 (layers/build.py)
ARCHITECTURE = lambda_.Architecture.ARM_64  # ~20% cheaper per GB-second; the layers are built for aarch64
METRICS_NAMESPACE = "Conveyor"


def handler_path(name: str) -> str:
    """The module path of a function's handler, the same one the laptop stack and the tests import."""
    return f"functions.{name}.handler.handler"


class ConveyorFunction(Construct):
    """A Python 3.12 arm64 function in the VPC with X-Ray tracing, Powertools settings and its own log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        config: StageConfig,
        size: FunctionSize,
        timeout_s: int,
        code: lambda_.Code,
        layers: Sequence[lambda_.ILayerVersion],
        environment: Mapping[str, str],
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/conveyor-{config.stage}-{name}",
            retention=config.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=f"conveyor-{config.stage}-{name}",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler_path(name),
            code=code,
            layers=list(layers),
            memory_size=size.memory_mb,
            ephemeral_storage_size=Size.mebibytes(size.ephemeral_storage_mb),
            timeout=Duration.seconds(timeout_s),
            reserved_concurrent_executions=size.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                **environment,
            },
        )
