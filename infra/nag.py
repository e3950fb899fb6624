"""cdk-nag AwsSolutions findings Conveyor accepts, each acknowledged on the narrowest construct with its reason.

An unacknowledged finding makes synth fail (cdk-nag 3 runs as a CDK validation plugin), so this file is the
complete list of accepted deviations. Rule ids are cdk-nag's, including the `[...]` evidence for IAM findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.stack import ConveyorStack

P = "AwsSolutions::AwsSolutions-"


def function_findings(bucket_logical_id: str) -> dict[str, str]:
    """Findings on every function's role; IAM5 evidence names the media bucket by its logical id."""
    return {
        **FUNCTION_FINDINGS,
        f"IAM5[Resource::<{bucket_logical_id}.Arn>/*]": (
            "Object keys are data (media/<uuid>, derived files, quarantine/): the bucket's objects are the narrowest "
            "scope."
        ),
        f"IAM5[Resource::<{bucket_logical_id}.Arn>/media/*]": "Presigned uploads are limited to the media/ prefix.",
    }


FUNCTION_FINDINGS: Mapping[str, str] = {
    "L1": "Pinned to python3.12: the layers are compiled for 3.12 (layers/build.py); upgrade both together.",
    "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]": (
        "AWS-maintained minimal policy for writing the function's own logs."
    ),
    "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]": (
        "AWS-maintained minimal policy for the ENIs a function in a VPC needs."
    ),
    "IAM5[Resource::*]": "X-Ray PutTraceSegments/PutTelemetryRecords accept no resource; Translate neither (worker).",
}

STACK_FINDINGS: Mapping[str, str] = {
    # The S3 → SQS notification is configured by a CDK-provided Lambda.
    "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]": (
        "CDK's bucket-notifications handler uses the AWS-maintained log-writing policy."
    ),
    "EC23": (
        "cdk-nag cannot evaluate a security-group reference; every ingress rule here names a source security group "
        "(functions → endpoints, functions → database), none is open to 0.0.0.0/0."
    ),
}


def _ack(scope: IConstruct, findings: Mapping[str, str]) -> None:
    for rule, reason in findings.items():
        Validations.of(scope).acknowledge(Acknowledgment(id=f"{P}{rule}", reason=reason))


def acknowledge_findings(stack: ConveyorStack) -> None:
    """Acknowledge the accepted findings of `stack`, each on the construct it concerns."""
    _ack(stack, STACK_FINDINGS)
    bucket_logical_id = stack.get_logical_id(stack.storage.bucket.node.default_child)  # type: ignore[arg-type]
    for fn in stack.functions.values():
        _ack(fn, function_findings(bucket_logical_id))
    db = stack.database.instance
    _ack(
        db,
        {
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]": (
                "AWS-maintained policy that lets RDS publish enhanced monitoring metrics."
            ),
            "RDS11": "The database is reachable only from the function and proxy security groups in isolated subnets; "
            "a non-default port adds no protection.",
        },
    )
    if not stack.config.db_multi_az:
        _ack(db, {"RDS3": f"Stage {stack.config.stage} trades availability for cost (single AZ); prod is multi-AZ."})
    if not stack.config.deletion_protection:
        _ack(db, {"RDS10": f"Stage {stack.config.stage} is disposable; prod has deletion protection."})
    _ack(
        stack.storage.bucket,
        {"S1": "Uploads are audited in the database (media rows); enable CloudTrail S3 data events for an access log."},
    )
    _ack(
        stack.key_pepper,
        {"SMG4": "The API-key pepper must not rotate automatically: a new pepper invalidates every issued API key."},
    )
    _ack(
        stack.api.api,
        {
            "APIG2": "Requests are validated in the function (pydantic models, Conveyor's error contract).",
            "APIG3": "WAF is optional per deployment (cost); throttling is on. Attach a web ACL to the `api` stage.",
            "APIG4": "Authorization happens in the function (Bearer API keys and session tokens, hashed lookup).",
            "COG4": "Conveyor has its own identity (API keys, sessions); it does not use Cognito.",
            "APIG6": "Access logs are on; execution logs need the account-wide API Gateway CloudWatch role, which an "
            "operator sets once per account.",
        },
    )
