"""The CDK stack, synthesized once per session with inline code and a tiny layer (never bundles or downloads).

Given the dev stage, when the app synthesizes (cdk-nag AwsSolutions attached), then the template wires what
the laptop stack wires (names from shared/resources.py), the functions get exactly the settings they read,
and cfn-lint finds nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk")

from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from infra.app import build_app
from infra.config import stage_config
from infra.functions import handler_path
from infra.packaging import LAYER_NAMES
from infra.stack import FUNCTION_NAMES, FunctionAssets
from shared import api_gateway
from shared.config import Settings
from shared.resources import (
    MAX_RECEIVES_BEFORE_DLQ,
    MEDIA_PREFIX,
    MEDIA_TIMEOUT_S,
    SCHEDULER_TIMEOUT_S,
    WORKER_TIMEOUT_S,
    ResourceNames,
)

pytestmark = pytest.mark.xdist_group("infra")  # one worker, so the session fixture synthesizes once

ROOT = Path(__file__).resolve().parents[2]
STAGE = "dev"
NAMES = ResourceNames(STAGE)
ENV_PREFIX = Settings.model_config["env_prefix"]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Synthesize the dev app once; app.synth() runs cdk-nag and raises on any unacknowledged finding."""
    layer_dir = tmp_path_factory.mktemp("layer")
    (layer_dir / "python").mkdir()
    (layer_dir / "python" / "marker.py").write_text("")
    assets = FunctionAssets(
        code={
            name: lambda_.Code.from_inline(f"def handler(event, context):\n    return {name!r}\n")
            for name in FUNCTION_NAMES
        },
        layers={name: lambda_.Code.from_asset(str(layer_dir)) for name in LAYER_NAMES},
    )
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app({"stage": STAGE}, assets=assets, outdir=str(outdir))
    assembly = app.synth()
    stack = assembly.get_stack_by_name(f"Conveyor-{STAGE}")
    return {"template": stack.template, "path": outdir / stack.template_file, "outdir": outdir}


@pytest.fixture(scope="session")
def template(synthesized: dict[str, Any]) -> Template:
    return Template.from_json(synthesized["template"])


def resources(template: Template, kind: str, props: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return template.find_resources(kind, {"Properties": props} if props else None)


def function(template: Template, name: str) -> tuple[str, dict[str, Any]]:
    """(logical id, properties) of the function whose handler is functions.<name>.handler.handler."""
    found = resources(template, "AWS::Lambda::Function", {"Handler": handler_path(name)})
    assert len(found) == 1, f"expected one {name} function, found {sorted(found)}"
    logical_id, resource = next(iter(found.items()))
    return logical_id, resource["Properties"]


def queue_id(template: Template, name: str) -> str:
    found = resources(template, "AWS::SQS::Queue", {"QueueName": name})
    assert len(found) == 1, name
    return next(iter(found))


# --- functions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_is_python312_arm64_traced_with_powertools(template: Template, name: str) -> None:
    _, props = function(template, name)
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == f"functions.{name}.handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["VpcConfig"]["SubnetIds"]
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Conveyor"
    assert env["POWERTOOLS_LOG_LEVEL"]


def test_timeouts_come_from_shared_resources(template: Template) -> None:
    assert function(template, "worker")[1]["Timeout"] == WORKER_TIMEOUT_S
    assert function(template, "media")[1]["Timeout"] == MEDIA_TIMEOUT_S
    assert function(template, "scheduler")[1]["Timeout"] == SCHEDULER_TIMEOUT_S
    assert function(template, "api")[1]["Timeout"] <= 29  # API Gateway's integration limit


def test_every_function_has_a_log_group_with_retention(template: Template) -> None:
    for name in FUNCTION_NAMES:
        template.has_resource_properties(
            "AWS::Logs::LogGroup",
            {"LogGroupName": f"/aws/lambda/conveyor-{STAGE}-{name}", "RetentionInDays": Match.any_value()},
        )


def _layer_ids(template: Template) -> dict[str, str]:
    layers = resources(template, "AWS::Lambda::LayerVersion")
    by_description = {r["Properties"]["Description"]: logical_id for logical_id, r in layers.items()}
    return {name: by_description[f"Conveyor {name} layer"] for name in LAYER_NAMES}


def test_only_worker_and_media_carry_the_media_layer(template: Template) -> None:
    layer_ids = _layer_ids(template)
    for name in FUNCTION_NAMES:
        refs = {ref["Ref"] for ref in function(template, name)[1]["Layers"]}
        assert {layer_ids["deps"], layer_ids["models"]} <= refs, name
        assert (layer_ids["media"] in refs) == (name in {"worker", "media"}), name


# --- settings: what the stack sets is what shared.config reads ---------------------------------------------


def _env(template: Template, name: str) -> dict[str, Any]:
    return function(template, name)[1]["Environment"]["Variables"]


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_conveyor_variable_is_a_settings_field(template: Template, name: str) -> None:
    fields = {f"{ENV_PREFIX}{field}".upper() for field in Settings.model_fields}
    keys = {key for key in _env(template, name) if key.startswith(ENV_PREFIX)}
    assert keys <= fields, f"{name} sets variables Settings never reads: {sorted(keys - fields)}"
    assert "DATABASE_URL" not in _env(template, name)  # laptop-only


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_knows_its_stage_and_database_secret(template: Template, name: str) -> None:
    env = _env(template, name)
    assert env["CONVEYOR_STAGE"] == STAGE
    assert "Ref" in env["CONVEYOR_DATABASE_SECRET_ARN"]  # the secret's ARN, never the credentials


@pytest.mark.parametrize("name", ["api", "worker", "scheduler", "media"])
def test_app_functions_get_bucket_queues_key_and_mail_settings(template: Template, name: str) -> None:
    env = _env(template, name)
    for key in (
        "CONVEYOR_MEDIA_BUCKET",
        "CONVEYOR_JOBS_QUEUE_URL",
        "CONVEYOR_MEDIA_QUEUE_URL",
        "CONVEYOR_KMS_KEY_ID",
        "CONVEYOR_EMAIL_SENDER",
        "CONVEYOR_APP_URL",
    ):
        assert key in env, f"{name} lacks {key}"
    assert env["CONVEYOR_TRANSLATION_PROVIDER"] == "amazon"
    assert "CONVEYOR_KEY_PEPPER_SECRET_ARN" in env
    assert "CONVEYOR_DATABASE_HOST" in env  # RDS Proxy
    assert "CONVEYOR_KEY_PEPPER" not in env  # never the secret itself


# --- names shared with the laptop stack ----------------------------------------------------------------------


def test_resource_names_come_from_shared_resources(template: Template) -> None:
    for name in (NAMES.jobs_queue, NAMES.jobs_dlq, NAMES.media_queue, NAMES.media_dlq):
        queue_id(template, name)
    template.has_resource_properties("AWS::S3::Bucket", {"BucketName": NAMES.media_bucket})
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": NAMES.vault_key_alias})
    template.has_resource_properties("AWS::SecretsManager::Secret", {"Name": NAMES.database_secret})


# --- queues --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "dlq", "consumer_timeout_s"),
    [(NAMES.jobs_queue, NAMES.jobs_dlq, WORKER_TIMEOUT_S), (NAMES.media_queue, NAMES.media_dlq, MEDIA_TIMEOUT_S)],
)
def test_queue_redrives_to_its_dlq_with_six_times_the_function_timeout(
    template: Template, queue: str, dlq: str, consumer_timeout_s: int
) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": queue,
            "VisibilityTimeout": 6 * consumer_timeout_s,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [queue_id(template, dlq), "Arn"]},
                "maxReceiveCount": MAX_RECEIVES_BEFORE_DLQ,
            },
        },
    )


@pytest.mark.parametrize(("name", "queue"), [("worker", NAMES.jobs_queue), ("media", NAMES.media_queue)])
def test_sqs_event_sources_use_batches_of_ten_with_partial_failures(template: Template, name: str, queue: str) -> None:
    function_id, _ = function(template, name)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_id},
            "EventSourceArn": {"Fn::GetAtt": [queue_id(template, queue), "Arn"]},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


@pytest.mark.parametrize(("name", "queue"), [("worker", NAMES.jobs_queue), ("media", NAMES.media_queue)])
def test_sqs_event_sources_never_scale_past_the_consumer_s_reserved_concurrency(
    template: Template, name: str, queue: str
) -> None:
    """Past its reservation the consumer is throttled and each throttled batch spends a receive towards the DLQ."""
    function_id, props = function(template, name)
    reserved = props["ReservedConcurrentExecutions"]
    assert reserved == getattr(stage_config(STAGE), name).reserved_concurrency
    [mapping] = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Ref": function_id}
    ]

    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id(template, queue), "Arn"]}
    assert 2 <= mapping["ScalingConfig"]["MaximumConcurrency"] <= min(reserved, 1000)
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == reserved  # the queue is its only caller


def test_only_worker_and_media_consume_queues(template: Template) -> None:
    assert len(resources(template, "AWS::Lambda::EventSourceMapping")) == 2


# --- storage -------------------------------------------------------------------------------------------------


def test_object_created_under_media_prefix_notifies_the_media_queue(template: Template) -> None:
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": MEDIA_PREFIX}]}},
                        "QueueArn": {"Fn::GetAtt": [queue_id(template, NAMES.media_queue), "Arn"]},
                    }
                ]
            }
        },
    )


def test_bucket_is_private_encrypted_with_cors_and_lifecycle(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": NAMES.media_bucket,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": Match.object_like({}),
            "CorsConfiguration": {
                "CorsRules": [Match.object_like({"AllowedMethods": Match.array_with(["POST", "GET"])})]
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"Prefix": MEDIA_PREFIX, "AbortIncompleteMultipartUpload": Match.any_value()}
                        ),
                        Match.object_like({"Prefix": "quarantine/", "ExpirationInDays": Match.any_value()}),
                    ]
                )
            },
        },
    )
    policy = json.dumps(resources(template, "AWS::S3::BucketPolicy"))
    assert "aws:SecureTransport" in policy


# --- schedule, API, migrations -------------------------------------------------------------------------------


def test_scheduler_runs_every_minute(template: Template) -> None:
    scheduler_id, _ = function(template, "scheduler")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [scheduler_id, "Arn"]}})],
        },
    )


def test_rest_api_proxies_everything_to_the_api_function_on_stage_api(template: Template) -> None:
    api_id, _ = function(template, "api")
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "{proxy+}"})
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "ANY",
            "Integration": Match.object_like({"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST"}),
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "api",
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with([Match.object_like({"ThrottlingRateLimit": Match.any_value()})]),
        },
    )
    assert api_id in json.dumps(resources(template, "AWS::ApiGateway::Method"))


@pytest.mark.parametrize("answer", api_gateway.ANSWERS, ids=lambda a: a.response_type)
def test_api_gateway_s_own_answers_are_in_the_error_contract_as_on_the_laptop(
    template: Template, answer: api_gateway.GatewayAnswer
) -> None:
    [props] = [
        r["Properties"]
        for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == answer.response_type
    ]

    assert props["StatusCode"] == str(answer.status)
    body = json.loads(props["ResponseTemplates"]["application/json"])
    assert body == json.loads(answer.body())  # the laptop gateway sends exactly this
    assert set(body["error"]) == {"code", "message", "details"}
    for name, value in answer.headers:
        assert props["ResponseParameters"][f"gatewayresponse.header.{name}"] == f"'{value}'"


def test_every_other_gateway_error_keeps_its_status_in_the_contract_s_shape(template: Template) -> None:
    found = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        props = found[response_type]
        assert "StatusCode" not in props  # each error keeps its own status
        rendered = props["ResponseTemplates"]["application/json"].replace(
            "$context.error.messageString", json.dumps("Forbidden")
        )
        assert json.loads(rendered) == {
            "error": {"code": api_gateway.GATEWAY_ERROR_CODE, "message": "Forbidden", "details": None}
        }


def test_migrations_run_as_a_custom_resource_before_the_api_function(template: Template) -> None:
    migrate_id, _ = function(template, "migrate")
    found = template.find_resources(
        "Custom::ConveyorMigrations", {"Properties": {"ServiceToken": {"Fn::GetAtt": [migrate_id, "Arn"]}}}
    )
    assert len(found) == 1
    migration_id = next(iter(found))
    api_id, _ = function(template, "api")
    api_resource = resources(template, "AWS::Lambda::Function")[api_id]
    assert migration_id in api_resource.get("DependsOn", [])


# --- data, security ------------------------------------------------------------------------------------------


def test_database_is_postgres17_encrypted_private_behind_a_proxy(template: Template) -> None:
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": Match.string_like_regexp(r"^17\."),
            "StorageEncrypted": True,
            "PubliclyAccessible": False,
            "BackupRetentionPeriod": Match.any_value(),
        },
    )
    template.has_resource_properties("AWS::RDS::DBProxy", {"EngineFamily": "POSTGRESQL", "RequireTLS": True})
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 1)
    # The proxy shares the database's security group, which has no default egress: it must reach the instance.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress", {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}
    )


def test_vpc_has_endpoints_and_no_nat_in_dev(template: Template) -> None:
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    endpoints = json.dumps(resources(template, "AWS::EC2::VPCEndpoint"))
    for service in (".s3", ".sqs", ".secretsmanager", ".kms", ".email", ".translate"):  # no NAT: all by endpoint
        assert service in endpoints, service


def _policy_statements(template: Template, function_name: str) -> list[dict[str, Any]]:
    _, props = function(template, function_name)
    role_id = props["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_wildcard_resources_only_for_services_without_resource_permissions(template: Template) -> None:
    for name in FUNCTION_NAMES:
        for statement in _policy_statements(template, name):
            if statement["Resource"] == "*":
                assert all(a.startswith(("xray:", "translate:")) for a in _actions(statement)), (name, statement)


def test_least_privilege_highlights(template: Template) -> None:
    def actions(name: str) -> set[str]:
        return {a for s in _policy_statements(template, name) for a in _actions(s)}

    assert "translate:TranslateText" in actions("worker")
    assert "translate:TranslateText" not in actions("api")
    assert {"kms:GenerateDataKey", "kms:Decrypt"} <= actions("api")
    assert not any(a.startswith(("kms:", "ses:", "s3:")) for a in actions("migrate"))
    assert any(a.startswith("ses:Send") for a in actions("worker"))
    assert "s3:PutObject" not in actions("scheduler")


def test_alarms_notify_the_alarm_topic(template: Template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    metrics = {a["Properties"].get("MetricName") for a in alarms.values()}
    for metric in (
        "Errors",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "5XXError",
        "CPUUtilization",
        "DatabaseConnections",
    ):
        assert metric in metrics, metric
    topic_ids = set(resources(template, "AWS::SNS::Topic"))
    for alarm in alarms.values():
        assert {a["Ref"] for a in alarm["Properties"]["AlarmActions"]} <= topic_ids
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::SES::EmailIdentity", 1)


# --- cdk-nag and cfn-lint -----------------------------------------------------------------------------------


def test_cdk_nag_ran_and_left_no_unacknowledged_finding(synthesized: dict[str, Any]) -> None:
    # synth() raises ValidationFailed on an unacknowledged error; the report also lists warnings, so check it too.
    report = json.loads((synthesized["outdir"] / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert "AwsSolutions" in plugins
    for name, plugin in plugins.items():
        assert plugin["violations"] == [], f"{name}: {[v['ruleName'] for v in plugin['violations']]}"


def test_every_acknowledgement_has_a_reason(synthesized: dict[str, Any]) -> None:
    metadata = json.loads((synthesized["outdir"] / f"Conveyor-{STAGE}.metadata.json").read_text())
    acknowledged = [
        entry["data"]
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
    ]
    assert acknowledged
    for item in acknowledged:
        for rule, reason in item.items():
            assert len(reason.strip()) > 20, rule


def test_cfn_lint_finds_no_errors(synthesized: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(synthesized["template"]))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            "--config-file",
            str(ROOT / ".cfnlintrc"),
            "--",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_media_and_worker_functions_have_room_in_tmp_for_spooled_media(template: Template) -> None:
    for name in ("media", "worker"):
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {"FunctionName": f"conveyor-dev-{name}", "EphemeralStorage": {"Size": 1024}},
        )


# --- database session defaults, throttling (issue 11) ----------------------------------------------------------


def test_session_defaults_are_the_instances_parameter_group_so_no_set_pins_the_proxy(template: Template) -> None:
    from infra.data import STATEMENT_TIMEOUT_MS
    from shared.db.engine import session_defaults

    groups = resources(template, "AWS::RDS::DBParameterGroup")
    assert len(groups) == 1
    group_id, group = next(iter(groups.items()))
    assert group["Properties"]["Family"] == "postgres17"
    assert group["Properties"]["Parameters"] == {"statement_timeout": "15000", "timezone": "UTC"}
    assert group["Properties"]["Parameters"] == session_defaults(STATEMENT_TIMEOUT_MS)
    assert Settings().statement_timeout_ms == STATEMENT_TIMEOUT_MS  # the driver's read timeout follows the same number
    template.has_resource_properties("AWS::RDS::DBInstance", {"DBParameterGroupName": {"Ref": group_id}})
    # The proxy gets no InitQuery of its own (unsupported for PostgreSQL, says CDK): the group already applies.
    for target_group in resources(template, "AWS::RDS::DBProxyTargetGroup").values():
        assert "InitQuery" not in json.dumps(target_group)


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_functions_in_aws_leave_session_defaults_to_the_server(template: Template, name: str) -> None:
    from shared.config import get_settings, reset_settings
    from shared.db.engine import sets_session_defaults_on_connect

    _, props = function(template, name)
    env = props["Environment"]["Variables"]
    assert "DATABASE_URL" not in env
    assert env.get(f"{ENV_PREFIX}DB_SESSION_DEFAULTS".upper(), "server") == "server"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DATABASE_URL", raising=False)
        patch.setenv(f"{ENV_PREFIX}DATABASE_SECRET_ARN".upper(), "arn:aws:secretsmanager:us-east-1:1:secret:db")
        reset_settings()
        assert get_settings().database_secret_arn
        assert not sets_session_defaults_on_connect()
    reset_settings()


def test_the_api_stage_throttles_every_method_at_the_stage_limits(template: Template) -> None:
    from infra.config import stage_config

    config = stage_config(STAGE)
    [stage] = resources(template, "AWS::ApiGateway::Stage", {"StageName": "api"}).values()
    throttled = [
        m for m in stage["Properties"]["MethodSettings"] if (m.get("HttpMethod"), m.get("ResourcePath")) == ("*", "/*")
    ]
    assert len(throttled) == 1
    assert throttled[0]["ThrottlingRateLimit"] == config.api_rate_limit == 50
    assert throttled[0]["ThrottlingBurstLimit"] == config.api_burst_limit == 100
