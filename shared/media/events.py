"""Reading S3 notifications as S3 sends them through SQS.

Keys arrive URL-encoded (`+` for spaces, `%xx` for the rest); S3 sends an `s3:TestEvent` when a
notification is configured; both are handled here so no caller has to remember.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from shared.errors import InvalidInput


@dataclass(frozen=True)
class S3ObjectEvent:
    bucket: str
    key: str
    size: int
    etag: str | None
    sequencer: str | None
    event_name: str
    event_time: str


def parse_s3_notification(body: str) -> Iterator[S3ObjectEvent]:
    """Yield the `ObjectCreated` objects of one SQS message body; test events and other kinds yield nothing."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidInput("SQS message body is not an S3 notification", details={"error": str(exc)}) from exc
    if not isinstance(message, dict):
        raise InvalidInput("SQS message body is not an S3 notification")
    if message.get("Event") == "s3:TestEvent":
        return
    for record in message.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        obj = s3["object"]
        yield S3ObjectEvent(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            size=int(obj.get("size", 0)),
            etag=obj.get("eTag"),
            sequencer=obj.get("sequencer"),
            event_name=record["eventName"],
            event_time=record.get("eventTime", ""),
        )
