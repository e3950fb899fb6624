"""Templates: a user's reusable metadata (seed 002's Template) — tag lists, descriptions, comments, note bodies.

Every function sees the caller's templates only: another user's id answers like a missing one (404). The
content's shape depends on the type and is checked here, with per-type bounds, on create and on every patch
(the type itself never changes). `apply_to_item` copies a tag or description template onto an editable item.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import session
from shared.db.enums import TemplateType
from shared.db.models import Template
from shared.errors import InvalidInput, NotFound
from shared.publishing import items as item_service

MAX_NAME_CHARS = 200
MAX_PAGE = 100
MAX_TAGS = 100  # an item's own limit
MAX_TAG_CHARS = 100
MAX_DESCRIPTION_CHARS = 50_000  # an item's description
MAX_COMMENT_CHARS = 10_000
MAX_NOTE_SUBJECT_CHARS = 500
MAX_NOTE_BODY_CHARS = 50_000
#: Templates whose content can be copied onto an item, and the item field it lands in.
APPLIES_TO = {TemplateType.TAG: "tags", TemplateType.DESCRIPTION: "description"}

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG_CHARS)]


class TagContent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    tags: list[Tag] = Field(min_length=1, max_length=MAX_TAGS)


class DescriptionContent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: str = Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)


class CommentContent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)


class NoteContent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    subject: str | None = Field(default=None, max_length=MAX_NOTE_SUBJECT_CHARS)
    body: str = Field(min_length=1, max_length=MAX_NOTE_BODY_CHARS)


CONTENT: dict[TemplateType, TypeAdapter[Any]] = {
    TemplateType.TAG: TypeAdapter(TagContent),
    TemplateType.DESCRIPTION: TypeAdapter(DescriptionContent),
    TemplateType.COMMENT: TypeAdapter(CommentContent),
    TemplateType.NOTE: TypeAdapter(NoteContent),
}
assert set(CONTENT) == set(TemplateType)


@dataclass(frozen=True)
class TemplatePage:
    items: list[Template]
    next_offset: int | None


def checked_content(template_type: TemplateType, content: Any) -> dict[str, Any]:
    """The content as stored (a JSON object), or 422 naming the first field that does not fit the type."""
    try:
        model = CONTENT[template_type].validate_python(content, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(
            f"This is not the content of a {template_type.value} template: {first['msg']}",
            code="invalid_template_content",
            details={"field": ".".join(["content", *map(str, first["loc"])]), "type": template_type.value},
        ) from None
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    if template_type is TemplateType.TAG:
        dumped["tags"] = list(dict.fromkeys(dumped["tags"]))  # repeated tags once, first order kept
    return dumped


def _clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidInput(f"A template name is 1-{MAX_NAME_CHARS} characters.", details={"field": "name"})
    return name


def _owned(s: Session, user_id: uuid.UUID, template_id: uuid.UUID, *, lock: bool = False) -> Template:
    query = select(Template).where(Template.id == template_id, Template.user_id == user_id)
    template = s.scalar(query.with_for_update() if lock else query)
    if template is None:
        raise NotFound("No such template.")
    return template


def create_template(user_id: uuid.UUID, *, template_type: TemplateType, name: str, content: Any) -> Template:
    values = {
        "type": template_type.value,
        "name": _clean_name(name),
        "content": checked_content(template_type, content),
    }
    with session() as s:
        template = Template(user_id=user_id, **values)
        s.add(template)
        s.flush()
        s.refresh(template)
    return template


def list_templates(
    user_id: uuid.UUID, *, template_type: TemplateType | None = None, limit: int = 50, offset: int = 0
) -> TemplatePage:
    """By name, then id; one row more than asked is read to know whether a next page exists."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit is 1-{MAX_PAGE} and offset at least 0.")
    query = select(Template).where(Template.user_id == user_id)
    if template_type is not None:
        query = query.where(Template.type == template_type.value)
    query = query.order_by(Template.name, Template.id).offset(offset).limit(limit + 1)
    with session() as s:
        rows = list(s.scalars(query))
    return TemplatePage(items=rows[:limit], next_offset=offset + limit if len(rows) > limit else None)


def get_template(user_id: uuid.UUID, template_id: uuid.UUID) -> Template:
    with session() as s:
        return _owned(s, user_id, template_id)


def update_template(
    user_id: uuid.UUID, template_id: uuid.UUID, *, name: str | None = None, content: Any = None
) -> Template:
    """Rename and/or replace the content (checked against the template's own type); None leaves a field."""
    with session() as s:
        template = _owned(s, user_id, template_id, lock=True)
        if name is not None:
            template.name = _clean_name(name)
        if content is not None:
            template.content = checked_content(TemplateType(template.type), content)
        if name is not None or content is not None:
            template.updated_at = func.now()
        s.flush()
        s.refresh(template)
    return template


def delete_template(user_id: uuid.UUID, template_id: uuid.UUID) -> None:
    with session() as s:
        s.delete(_owned(s, user_id, template_id, lock=True))


def apply_to_item(user_id: uuid.UUID, item_id: uuid.UUID, template_id: uuid.UUID) -> item_service.ItemView:
    """Copy a template onto an editable item: a tag template adds its tags after the item's own (each once, at most
    MAX_TAGS), a description template replaces the description. Comment and note templates have no item field.

    The item is checked first (another user's item is 404 whatever the body says), then the template; the write
    is `items.update_item` (its status rule: 409 once publishing started). Limit: the tags are merged from a read
    just before that write, so a concurrent edit of the item's tags in between is overwritten.
    """
    item = item_service.get_item(user_id, item_id).item
    with session() as s:
        template = _owned(s, user_id, template_id)
        template_type = TemplateType(template.type)
        field = APPLIES_TO.get(template_type)
        if field is None:
            raise InvalidInput(
                f"A {template_type.value} template has no item field to fill.",
                code="template_not_applicable",
                details={"type": template_type.value, "applicable": sorted(t.value for t in APPLIES_TO)},
            )
        if template_type is TemplateType.TAG:
            value: Any = list(dict.fromkeys([*(item.tags or []), *template.content["tags"]]))
            if len(value) > MAX_TAGS:
                raise InvalidInput(
                    f"The item would have more than {MAX_TAGS} tags.",
                    code="too_many_tags",
                    details={"field": "tags", "would_have": len(value)},
                )
        else:
            value = template.content["text"]
    return item_service.update_item(user_id, item_id, {field: value})
