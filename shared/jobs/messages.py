"""What travels on the jobs queue: only a job id. The job's state is read from Postgres when claimed."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict


class JobWakeup(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: uuid.UUID
