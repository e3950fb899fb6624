"""Upload a file to the running laptop stack through a presigned POST, as a browser would.

    .venv/bin/python -m local.upload --endpoint <AWS endpoint printed by make dev> photo.jpg

The object lands under the media prefix, S3 notifies the media queue, and functions/media logs it.
"""

from __future__ import annotations

import argparse
import mimetypes
import uuid
from pathlib import Path

import boto3
import requests
from botocore.config import Config

from shared.resources import MEDIA_PREFIX, ResourceNames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--endpoint", required=True, help="the AWS endpoint `make dev` printed")
    args = parser.parse_args()

    data = args.file.read_bytes()
    content_type = mimetypes.guess_type(args.file.name)[0] or "application/octet-stream"
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 (moto accepts any credentials)
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    key = f"{MEDIA_PREFIX}local-upload/{uuid.uuid4()}/{args.file.name}"
    post = s3.generate_presigned_post(
        ResourceNames("local").media_bucket,
        key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", len(data), len(data)]],
        ExpiresIn=900,
    )
    response = requests.post(post["url"], data=post["fields"], files={"file": (args.file.name, data)}, timeout=30)
    response.raise_for_status()
    print(f"uploaded {len(data)} bytes to s3://{ResourceNames('local').media_bucket}/{key} ({response.status_code})")


if __name__ == "__main__":
    main()
