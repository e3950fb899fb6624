"""Names of the AWS resources, shared by the CDK stacks and the laptop stack so both wire the same things."""

from __future__ import annotations

from dataclasses import dataclass

# How long a message stays invisible while a function works on it: at least 6x the function timeout (AWS advice).
WORKER_TIMEOUT_S = 300  # long jobs split into segments (child jobs) instead of outliving this
MEDIA_TIMEOUT_S = 120
SCHEDULER_TIMEOUT_S = 60
MAX_RECEIVES_BEFORE_DLQ = 5


@dataclass(frozen=True)
class ResourceNames:
    stage: str

    @property
    def prefix(self) -> str:
        return f"conveyor-{self.stage}"

    @property
    def media_bucket(self) -> str:
        return f"{self.prefix}-media"

    @property
    def jobs_queue(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def jobs_dlq(self) -> str:
        return f"{self.prefix}-jobs-dlq"

    @property
    def media_queue(self) -> str:
        return f"{self.prefix}-media"

    @property
    def media_dlq(self) -> str:
        return f"{self.prefix}-media-dlq"

    @property
    def vault_key_alias(self) -> str:
        return f"alias/{self.prefix}-vault"

    @property
    def database_secret(self) -> str:
        return f"{self.prefix}/database"


# Uploads arrive under this prefix (presigned POSTs name keys under it; S3 notifies the media queue for it).
MEDIA_PREFIX = "media/"
# Objects that fail inspection are moved under the quarantine prefix.
QUARANTINE_PREFIX = "quarantine/"
# Uploads that passed inspection are served from an immutable copy under this prefix: no POST policy names it
# (the API role may put objects under MEDIA_PREFIX only) and no notification watches it.
STORED_PREFIX = "stored/"
