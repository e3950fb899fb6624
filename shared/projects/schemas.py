"""The API's request and response models for projects (`/v1/projects`).

They live here, not in functions/api/routes/, because the function's own code ships without valid .pyc and is
compiled on every cold start, while this module ships compiled in the models layer. Each model is built on first
use (`defer_build`): a request validates against a few of them, not all. No `from __future__ import annotations`:
pydantic would then compile and evaluate every annotation string while defining the classes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.fields import Flag
from shared.projects import service

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=service.MAX_NAME_CHARS)]
Description = Annotated[str, Field(max_length=service.MAX_DESCRIPTION_CHARS)]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name
    description: Description | None = None


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name | None = Field(default=None, description="A new name; cannot be null.")
    description: Description | None = Field(default=None, description="A new description; null clears it.")
    archived: Flag | None = Field(default=None, description="Archive (true) or restore (false) the project.")


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    name: str
    description: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProjectList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[ProjectOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")
