"""Build Lambda events exactly as AWS delivers them (shapes taken from real samples in tests/events/).

The laptop stack and the tests both use these, so a handler sees on a laptop what it sees in Lambda:
API Gateway REST proxy (v1) events, SQS batches, EventBridge "Scheduled Event"s and CloudFormation
custom-resource requests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
API_ID = "conveyorlocal"
STAGE = "v1stage"

# Content types API Gateway passes through as text; anything else arrives base64-encoded (binary media types "*/*").
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def _is_text(content_type: str | None) -> bool:
    return content_type is None or any(content_type.lower().startswith(t) for t in _TEXT_TYPES)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def _single(multi: Mapping[str, Sequence[str]] | None) -> dict[str, str] | None:
    # API Gateway's single-value maps keep the last value of a repeated key; empty maps arrive as null.
    if not multi:
        return None
    return {k: v[-1] for k, v in multi.items()}


def api_gateway_event(
    method: str,
    path: str,
    *,
    headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    query: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """A REST API proxy-integration event for `ANY /{proxy+}` (how Conveyor's API is wired)."""
    header_pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    query_pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        multi_query.setdefault(name, []).append(value)

    content_type = next((v for k, v in header_pairs if k.lower() == "content-type"), None)
    is_base64 = False
    body_text: str | None
    if not body:
        body_text = None
    elif isinstance(body, bytes) and (not _is_text(content_type) or not _is_utf8(body)):
        body_text, is_base64 = base64.b64encode(body).decode(), True
    else:
        body_text = body.decode() if isinstance(body, bytes) else body

    now = datetime.now(UTC)
    user_agent = next((v for k, v in header_pairs if k.lower() == "user-agent"), None)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method.upper(),
        "headers": _single(multi_headers),
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": _single(multi_query),
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "proxy0",
            "resourcePath": "/{proxy+}",
            "httpMethod": method.upper(),
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes)[:16].decode(),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "apiId": API_ID,
        },
        "body": body_text,
        "isBase64Encoded": is_base64,
    }


def queue_arn(queue_url_or_name: str, region: str = REGION) -> str:
    name = queue_url_or_name.rstrip("/").rsplit("/", 1)[-1]
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"


def sqs_record(message: Mapping[str, Any], queue: str, region: str = REGION) -> dict[str, Any]:
    """One record of an SQS event from a `ReceiveMessage` result (with AttributeNames=All)."""
    attributes = message.get("Attributes", {})
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
            ),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (AWS's field)
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue, region),
        "awsRegion": region,
    }


def sqs_event(messages: Iterable[Mapping[str, Any]], queue: str, region: str = REGION) -> dict[str, Any]:
    """The event the SQS event source mapping sends: up to 10 records from one queue."""
    return {"Records": [sqs_record(m, queue, region) for m in messages]}


def sqs_message(body: str, *, receive_count: int = 1, attributes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A `ReceiveMessage`-shaped message, for tests that call a handler without a queue in between."""
    now = str(int(time.time() * 1000))
    return {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": base64.b64encode(uuid.uuid4().bytes * 4).decode(),
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (AWS's field)
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "MessageAttributes": {k: {"StringValue": v, "DataType": "String"} for k, v in (attributes or {}).items()},
    }


def s3_object_created_body(
    bucket: str,
    key_encoded: str,
    *,
    size: int,
    etag: str,
    sequencer: str | None = None,
    event_name: str = "ObjectCreated:Post",
    region: str = REGION,
) -> str:
    """The SQS message body S3 sends for an `ObjectCreated` event (key already URL-encoded, as S3 sends it)."""

    now = datetime.now(UTC)
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": region,
                    "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                    "eventName": event_name,
                    "userIdentity": {"principalId": "AWS:AIDAEXAMPLEUPLOADER"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {
                        "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                        "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 3).decode(),
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "conveyor-media-ingest",
                        "bucket": {
                            "name": bucket,
                            "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                            "arn": f"arn:aws:s3:::{bucket}",
                        },
                        "object": {
                            "key": key_encoded,
                            "size": size,
                            "eTag": etag,
                            "sequencer": sequencer or f"{int(time.time() * 1e6):016X}",
                        },
                    },
                }
            ]
        }
    )


def scheduled_event(when: datetime | None = None, rule_arn: str | None = None) -> dict[str, Any]:
    """The event an EventBridge `rate(...)` rule sends to its target."""
    when = when or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn or f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/conveyor-local-scheduler-tick"],
        "detail": {},
    }


def custom_resource_event(
    request_type: str,
    response_url: str,
    *,
    properties: Mapping[str, Any] | None = None,
    physical_resource_id: str | None = None,
    old_properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom-resource request (Create, Update or Delete)."""
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/conveyor-local/{uuid.uuid4()}"
    token = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:conveyor-local-migrate"
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": token,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": token, **(properties or {})},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_resource_id or "conveyor-migrations"
    if request_type == "Update":
        event["OldResourceProperties"] = {"ServiceToken": token, **(old_properties or {})}
    return event
