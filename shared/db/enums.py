"""Allowed values of every status/kind column.

Columns store these as text; each table builds its CHECK constraint from the enum (see
`shared.db.models._common.enum_check`), so Python and the database cannot drift apart.
Adding a value means a migration that replaces the CHECK.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

# --- identity -------------------------------------------------------------------------------------------------


class UserRole(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class Theme(StrEnum):
    LIGHT = "light"
    DARK = "dark"
    SYSTEM = "system"


class CredentialKind(StrEnum):
    OAUTH = "oauth"
    API_KEY = "api_key"


class TokenPurpose(StrEnum):
    """What a one-time token proves when it is used."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a secret
    MAGIC_LINK = "magic_link"
    INVITE = "invite"


# --- media ----------------------------------------------------------------------------------------------------


class MediaStatus(StrEnum):
    """Lifecycle: requested → uploading → stored → scanning → ready → attached; failed/quarantined/deleted end it."""

    REQUESTED = "requested"
    UPLOADING = "uploading"
    STORED = "stored"
    SCANNING = "scanning"
    READY = "ready"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    ATTACHED = "attached"
    DELETED = "deleted"


class MediaOrigin(StrEnum):
    UPLOAD = "upload"
    REMOTE = "remote"
    GENERATED = "generated"


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STREAMING = "streaming"
    OTHER = "other"


class Orientation(StrEnum):
    """Display orientation after any rotation metadata is applied."""

    LANDSCAPE = "landscape"
    PORTRAIT = "portrait"
    SQUARE = "square"


class StreamingFormat(StrEnum):
    HLS = "hls"
    DASH = "dash"
    SMOOTH = "smooth"


class VideoCodec(StrEnum):
    H264 = "h264"
    H265 = "h265"
    VP8 = "vp8"
    VP9 = "vp9"
    AV1 = "av1"
    MPEG4 = "mpeg4"
    H263 = "h263"
    THEORA = "theora"
    PRORES = "prores"
    DNXHD = "dnxhd"
    UNKNOWN = "unknown"


class AudioCodec(StrEnum):
    AAC = "aac"
    MP3 = "mp3"
    OPUS = "opus"
    VORBIS = "vorbis"
    AC3 = "ac3"
    EAC3 = "eac3"
    DTS = "dts"
    FLAC = "flac"
    PCM = "pcm"
    MP2 = "mp2"
    UNKNOWN = "unknown"


class Derivation(StrEnum):
    """How a derived media file relates to the file it was made from."""

    THUMBNAIL = "thumbnail"
    POSTER = "poster"
    PREVIEW = "preview"
    TRANSCODE = "transcode"
    RENDITION = "rendition"
    AUDIO = "audio"
    SUBTITLES = "subtitles"
    OTHER = "other"


# --- jobs -----------------------------------------------------------------------------------------------------


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    REVIEW = "review"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DONE = "done"


#: A job in one of these states may still run; dedupe keys are unique among them.
ACTIVE_JOB_STATUSES = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING)
#: A worker may claim a job in one of these states (once its run_at has passed).
RUNNABLE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RETRYING)


class JobPriority(IntEnum):
    """Lower runs first, so `ORDER BY priority, run_at` is the queue order."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class SegmentStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class WebhookStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WorkerStatus(StrEnum):
    ACTIVE = "active"
    DRAINING = "draining"
    STOPPED = "stopped"
    STALE = "stale"


# --- content items and automations ----------------------------------------------------------------------------


class ItemStatus(StrEnum):
    REVIEW = "review"
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    UPLOADING = "uploading"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"


class UploadMode(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


class MatureLevel(StrEnum):
    MODERATE = "moderate"
    STRICT = "strict"


class PublisherKind(StrEnum):
    DEVIANTART = "deviantart"
    WEBHOOK = "webhook"
    CUSTOM = "custom"


class TemplateType(StrEnum):
    TAG = "tag"
    DESCRIPTION = "description"
    COMMENT = "comment"
    NOTE = "note"


class DraftSelectionMethod(StrEnum):
    RANDOM = "random"
    FIFO = "fifo"
    LIFO = "lifo"


class ScheduleRuleType(StrEnum):
    FIXED_TIME = "fixed_time"
    FIXED_INTERVAL = "fixed_interval"
    DAILY_QUOTA = "daily_quota"


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


class SaleQueueStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


# --- billing --------------------------------------------------------------------------------------------------


class LedgerKind(StrEnum):
    GRANT = "grant"
    RESERVE = "reserve"
    CAPTURE = "capture"
    RELEASE = "release"
    PURCHASE = "purchase"
    REFUND = "refund"
    ADJUST = "adjust"


class ReservationStatus(StrEnum):
    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
