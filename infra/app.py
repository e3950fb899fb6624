"""build_app(): the CDK app for the stage given in context (`cdk synth -c stage=prod`), with cdk-nag checks.

Everything stage-specific comes from infra/config.py; the only other context read here is `alarmEmail`, so an
operator can subscribe without editing code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import StageConfig, stage_config
from infra.nag import acknowledge_findings
from infra.packaging import LAYER_NAMES, function_code, layer_code
from infra.stack import FUNCTION_NAMES, ConveyorStack, FunctionAssets

DEFAULT_STAGE = "dev"


def real_assets() -> FunctionAssets:
    """The function folders and the layers from layers/build/ (placeholders when not built)."""
    return FunctionAssets(
        code={name: function_code(name) for name in FUNCTION_NAMES},
        layers={name: layer_code(name) for name in LAYER_NAMES},
    )


def build_stack(
    app: cdk.App, config: StageConfig, assets: FunctionAssets, *, env: cdk.Environment | None = None
) -> ConveyorStack:
    """One stage's stack, cdk-nag AwsSolutions attached and every accepted finding acknowledged with a reason."""
    stack = ConveyorStack(
        app,
        f"Conveyor-{config.stage}",
        config=config,
        assets=assets,
        env=env,
        description=f"Conveyor serverless backend ({config.stage})",
    )
    # AWS::RDS::DBProxyTargetGroup takes no tags (CloudFormation rejects them).
    untaggable = ["AWS::RDS::DBProxyTargetGroup"]
    cdk.Tags.of(stack).add("project", "conveyor", exclude_resource_types=untaggable)
    cdk.Tags.of(stack).add("stage", config.stage, exclude_resource_types=untaggable)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge_findings(stack)
    return stack


def build_app(
    context: Mapping[str, object] | None = None, assets: FunctionAssets | None = None, outdir: str | None = None
) -> cdk.App:
    """The app for `-c stage=...` (default dev). The stack is environment-agnostic (deploys to the CLI's account
    and region; two AZs through Fn::GetAZs), so synth needs no credentials and no context lookups."""
    app = cdk.App(context=dict(context) if context else None, outdir=outdir)
    stage = str(app.node.try_get_context("stage") or DEFAULT_STAGE)
    config = stage_config(stage)
    alarm_email = app.node.try_get_context("alarmEmail")
    if alarm_email:
        config = dataclasses.replace(config, alarm_email=str(alarm_email))
    build_stack(app, config, assets or real_assets())
    return app
