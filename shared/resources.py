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


# Served media lives under this prefix; objects that fail inspection are moved under the quarantine prefix.
MEDIA_PREFIX = "media/"
QUARANTINE_PREFIX = "quarantine/"
