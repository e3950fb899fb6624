"""The REST API: a LambdaRestApi proxy in front of functions/api, throttled, with JSON access logs.

The routes already start with /v1, so the stage is called `api`: https://<id>.execute-api.<region>.amazonaws.com/api/v1/...
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig

API_STAGE_NAME = "api"


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
