"""The API's request and response models for the translation cache (`/v1/translations`).

Built on first use (`defer_build`); no `from __future__ import annotations` (pydantic would evaluate every
annotation string while defining the classes).
"""

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.i18n import cache

Language = Annotated[
    str,
    StringConstraints(pattern=cache.LANGUAGE_PATTERN, max_length=cache.MAX_LANGUAGE_CHARS),
    Field(description='The translation\'s (target) language, BCP-47-style: "de", "zh-TW".'),
]
SourceLanguage = Annotated[
    str,
    StringConstraints(pattern=cache.LANGUAGE_PATTERN, max_length=cache.MAX_LANGUAGE_CHARS),
    Field(description='The source text\'s language as `translate.text` was given it, or "auto".'),
]
Hash = Annotated[
    str,
    StringConstraints(pattern=cache.HASH_PATTERN, min_length=64, max_length=64),
    Field(description='sha256 of `source_language + "\\0" + source_text` (UTF-8), 64 lowercase hex digits.'),
]
Label = Annotated[str, StringConstraints(max_length=cache.MAX_LABEL_CHARS)]
TranslatedText = Annotated[str, StringConstraints(min_length=1, max_length=cache.MAX_TEXT_CHARS)]
SourceText = Annotated[str, StringConstraints(min_length=1, max_length=cache.MAX_TEXT_CHARS)]


class TranslationPut(BaseModel):
    """A cache row to insert or replace: name the source by its `hash`, or give `source_text` to have it hashed."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    language: Language
    text: TranslatedText = Field(description="The translation (1-5,000 characters).")
    hash: Hash | None = Field(default=None, description="The source's hash; or give `source_text` instead.")
    source_text: SourceText | None = Field(default=None, description="The source text, hashed here (not stored).")
    source_language: SourceLanguage = "auto"
    label: Label | None = Field(default=None, description='A free-form grouping ("ui", "subtitles"); "" when none.')

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.hash is None) == (self.source_text is None):
            raise ValueError("Give exactly one of hash and source_text.")
        if self.hash is not None and "source_language" in self.model_fields_set:
            raise ValueError("source_language goes with source_text: a hash already includes it.")
        return self

    @property
    def key(self) -> str:
        if self.hash is not None:
            return self.hash
        assert self.source_text is not None
        return cache.text_hash(self.source_text, self.source_language)


class TranslationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    language: str
    hash: str
    text: str = Field(description="The translation.")
    label: str
    created_at: datetime


class TranslationList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[TranslationOut] = Field(description="Oldest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
