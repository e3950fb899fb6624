"""The REST API: a LambdaRestApi proxy in front of functions/api, throttled, with JSON access logs and its own
error answers (gateway responses) in the API's error contract.

The routes already start with /v1, so the stage is called `api`: https://<id>.execute-api.<region>.amazonaws.com/api/v1/...
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig
from shared import api_gateway

API_STAGE_NAME = "api"
# Every other gateway response (a 4xx or 5xx API Gateway sends itself) keeps its status and message in the
# contract's shape. `$context.error.messageString` expands to a quoted JSON string.
DEFAULT_TEMPLATE = (
    '{"error": {"code": "' + api_gateway.GATEWAY_ERROR_CODE + '", "message": $context.error.messageString, '
    '"details": null}}'
)


class RestApi(Construct):
    """API Gateway REST API proxying every path and method to the API function (routing lives in the function)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, handler: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.api = apigw.LambdaRestApi(
            self,
            "Api",
            rest_api_name=f"conveyor-{config.stage}",
            description="Conveyor HTTP API (routes under /v1)",
            handler=handler,
            proxy=True,
            cloud_watch_role=False,  # the account-wide logging role is the operator's choice, see docs/infra.md
            endpoint_types=[apigw.EndpointType.REGIONAL],
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE_NAME,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                tracing_enabled=True,
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        # API Gateway's own answers in the error contract, as the laptop gateway sends them (shared/api_gateway.py).
        for answer in api_gateway.ANSWERS:
            self.api.add_gateway_response(
                answer.code.title().replace("_", ""),
                type=getattr(apigw.ResponseType, answer.response_type),
                status_code=str(answer.status),
                response_headers={name: f"'{value}'" for name, value in answer.headers},
                templates={"application/json": answer.body().decode()},
            )
        for response_id, response_type in (
            ("Default4xx", apigw.ResponseType.DEFAULT_4_XX),
            ("Default5xx", apigw.ResponseType.DEFAULT_5_XX),
        ):
            self.api.add_gateway_response(
                response_id, type=response_type, templates={"application/json": DEFAULT_TEMPLATE}
            )
