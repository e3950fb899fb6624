"""The API's request and response models for templates (`/v1/templates`, `POST /v1/items/{id}/apply-template`).

Like shared/publishing/schemas.py, they live in the models layer (compiled) and are built on first use
(`defer_build`). The content's per-type shape is stated here as one of the content models and checked against the
template's type by `templates.checked_content`. No `from __future__ import annotations` (pydantic evaluates these).
"""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.db.enums import TemplateType
from shared.publishing import templates as service

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=service.MAX_NAME_CHARS)]
Content = Annotated[
    service.TagContent | service.DescriptionContent | service.NoteContent,
    Field(
        description="By type: tag `{tags: [..]}` (1-100 tags of 1-100 characters); description `{text}` (at most "
        "50,000 characters); comment `{text}` (at most 10,000); note `{subject?, body}` (500 / 50,000)."
    ),
]


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: TemplateType
    name: Name
    content: Content


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name | None = Field(default=None, description="A new name; cannot be null.")
    content: Content | None = Field(default=None, description="Replaces the content; checked against the type.")


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    type: TemplateType
    name: str
    content: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TemplateList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[TemplateOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


class ApplyTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    template_id: uuid.UUID
