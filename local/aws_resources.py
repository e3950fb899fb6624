"""The AWS resources the CDK stacks create, created against an emulator (moto server, or `mock_aws` in tests).

One function, so the laptop stack and the pytest harness wire exactly the same bucket, queues, notification
and key; it returns the environment the functions read (the same variables Lambda gets from the stacks).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from shared import aws
from shared.config import get_settings
from shared.resources import (
    MAX_RECEIVES_BEFORE_DLQ,
    MEDIA_PREFIX,
    MEDIA_TIMEOUT_S,
    WORKER_TIMEOUT_S,
    ResourceNames,
)

# Visibility timeout = 6x the consuming function's timeout (AWS advice, same as the CDK stacks).
VISIBILITY_FACTOR = 6
# DLQs keep failed messages long enough to look at them.
DLQ_RETENTION_S = 14 * 24 * 3600


def _queue_with_dlq(sqs: Any, name: str, dlq_name: str, visibility_timeout_s: int) -> tuple[str, str]:
    """Create a queue whose messages move to its DLQ after MAX_RECEIVES_BEFORE_DLQ receives."""
    dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_S)})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES_BEFORE_DLQ)})
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(visibility_timeout_s), "RedrivePolicy": redrive},
    )["QueueUrl"]
    return url, dlq_url


def _vault_key(kms: Any, alias: str) -> str:
    """The key behind the vault alias, created once (an external emulator may already have it)."""
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except kms.exceptions.NotFoundException:
        pass
    key_id = kms.create_key(Description="Conveyor vault (local)", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def create_resources(
    names: ResourceNames,
    *,
    client: Callable[[str], Any] = aws.client,
    cors_origins: list[str] | None = None,
) -> dict[str, str]:
    """Create the media bucket, the queues with their DLQs, the S3 → SQS notification, the vault key and the
    verified SES sender identity (SES refuses to send from an unverified address, moto too).

    Returns the env settings the functions need (CONVEYOR_*); the caller sets them and resets settings/clients.
    Note: configuring the notification makes S3 send an `s3:TestEvent` message to the media queue, as AWS does.
    """
    s3, sqs, kms = client("s3"), client("sqs"), client("kms")

    with suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # an external emulator kept it from an earlier start
        s3.create_bucket(Bucket=names.media_bucket)
    s3.put_bucket_cors(
        Bucket=names.media_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    # Browsers upload with the presigned POST and read back through presigned GETs.
                    "AllowedMethods": ["POST", "PUT", "GET", "HEAD"],
                    "AllowedOrigins": cors_origins or ["*"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )

    jobs_url, _ = _queue_with_dlq(sqs, names.jobs_queue, names.jobs_dlq, VISIBILITY_FACTOR * WORKER_TIMEOUT_S)
    media_url, _ = _queue_with_dlq(sqs, names.media_queue, names.media_dlq, VISIBILITY_FACTOR * MEDIA_TIMEOUT_S)
    media_arn = sqs.get_queue_attributes(QueueUrl=media_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # What the CDK stack grants: S3 may send to the media queue for this bucket only (moto does not check it).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": media_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{names.media_bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=media_url, Attributes={"Policy": json.dumps(policy)})
    s3.put_bucket_notification_configuration(
        Bucket=names.media_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "conveyor-media-ingest",
                    "QueueArn": media_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": MEDIA_PREFIX}]}},
                }
            ]
        },
    )

    key_id = _vault_key(kms, names.vault_key_alias)
    # Verification e-mails come from this address; verifying an already verified identity is a no-op.
    email_sender = get_settings().email_sender
    client("ses").verify_email_identity(EmailAddress=email_sender)
    return {
        "CONVEYOR_STAGE": names.stage,
        "CONVEYOR_MEDIA_BUCKET": names.media_bucket,
        "CONVEYOR_JOBS_QUEUE_URL": jobs_url,
        "CONVEYOR_MEDIA_QUEUE_URL": media_url,
        "CONVEYOR_KMS_KEY_ID": key_id,
        "CONVEYOR_EMAIL_SENDER": email_sender,
    }
