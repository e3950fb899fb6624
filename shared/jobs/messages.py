"""What travels on the jobs queue: a wake-up. The job id is a hint for logs; the worker claims by priority."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict


class JobWakeup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: uuid.UUID | None  # required, null for the sweep's top-up wake-ups
