"""Storage: the media bucket (private, encrypted, TLS only, CORS for browser POST uploads, lifecycle rules) and
its `ObjectCreated` notification to the media queue for keys under media/ (as local/aws_resources.py wires it)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from shared.resources import MEDIA_PREFIX, QUARANTINE_PREFIX, ResourceNames


class MediaStorage(Construct):
    """The media bucket; uploads arrive through presigned POSTs straight from browsers."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, media_queue: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=ResourceNames(config.stage).media_bucket,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=config.removal_policy,
            cors=[
                s3.CorsRule(
                    # Browsers upload with the presigned POST and read back through presigned GETs.
                    allowed_methods=[
                        s3.HttpMethods.POST,
                        s3.HttpMethods.PUT,
                        s3.HttpMethods.GET,
                        s3.HttpMethods.HEAD,
                    ],
                    allowed_origins=list(config.cors_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abandoned-uploads",
                    prefix=MEDIA_PREFIX,
                    abort_incomplete_multipart_upload_after=Duration.days(config.abandoned_upload_days),
                ),
                s3.LifecycleRule(
                    id="quarantine-expiry",
                    prefix=QUARANTINE_PREFIX,
                    expiration=Duration.days(config.quarantine_expiry_days),
                ),
            ],
        )
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.SqsDestination(media_queue), s3.NotificationKeyFilter(prefix=MEDIA_PREFIX)
        )
