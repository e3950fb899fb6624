"""The translation cache (seed 000): a text is translated once per target language, then served from Postgres.

A cache row is keyed by `(language, hash)`: `language` is the *target* language as the caller spelled it and
`hash` is `sha256(source_language + "\\0" + source_text)` in hex (see `text_hash`), so the same text read as
another source language is another entry. The row's `text` is the *translation* (the source text is not kept:
the hash is enough to find it again) and `label` is the caller's free-form grouping ("ui", "subtitles"; "" when
none).

The rows are read and written by `shared.i18n.cache`, which the `/v1/translations` API uses too. Lookups are one
query for a whole batch; only misses go to the provider, outside any transaction (a network
call must not hold a connection); the new rows are inserted with ON CONFLICT DO NOTHING, so two jobs translating
the same text at once both succeed and leave one row.

Providers: `PseudoLocaleProvider` ("pseudo", the default: deterministic, offline, obviously not a translation)
for the laptop stack and tests, and `AmazonTranslateProvider` ("amazon") which deployed stages select with
`CONVEYOR_TRANSLATION_PROVIDER=amazon`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from shared.config import get_settings
from shared.i18n import cache
from shared.i18n.cache import MAX_LABEL_CHARS, MAX_TEXT_CHARS, text_hash
from shared.jobs.errors import NonRetryable


class TextRejected(NonRetryable):
    """The provider refuses this one text (too long, language not recognisable): other texts may still work."""


class TranslationUnavailable(Exception):
    """The provider is throttling or down: retry later (the texts translated so far are already cached)."""


class TranslationProvider(Protocol):
    name: str

    def translate_one(self, text: str, *, source_language: str, target_language: str) -> str: ...


# --------------------------------------------------------------------------------------------------- providers

_ACCENTS = str.maketrans(
    "aeiouyAEIOUYcnsz",
    "áéíóúýÁÉÍÓÚÝçñšž",
)
# Placeholders and markup survive pseudo-localisation untouched, so it can exercise formatting code paths.
_PROTECTED = re.compile(r"\{[^{}]*\}|%\([^)]*\)[sd]|%[sd]|<[^<>]+>|&\w+;")


@dataclass(frozen=True)
class PseudoLocaleProvider:
    """Not a translation: a deterministic pseudo-locale for the laptop stack and tests.

    `Hello {name}` → `[!! de: Hélló {name} ~~~~ !!]`: accented letters show untranslated strings and encoding
    bugs, the `[!! … !!]` brackets show truncation, the target language is named so nobody mistakes it for real
    output, and the `~` padding (about 30% of the text) shows layouts that cannot take longer languages.
    Placeholders (`{x}`, `%s`, `%(x)s`), tags and entities are kept as they are.
    """

    name: str = "pseudo"
    expansion: float = 0.3

    def translate_one(self, text: str, *, source_language: str, target_language: str) -> str:
        parts: list[str] = []
        last = 0
        for match in _PROTECTED.finditer(text):
            parts.append(text[last : match.start()].translate(_ACCENTS))
            parts.append(match.group())
            last = match.end()
        parts.append(text[last:].translate(_ACCENTS))
        padding = "~" * max(1, math.ceil(len(text) * self.expansion))
        return f"[!! {target_language}: {''.join(parts)} {padding} !!]"


# Amazon Translate error codes, by what they mean for the text and the job.
_RETRYABLE_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "ServiceUnavailableException", "InternalServerException"}
)
_TEXT_CODES = frozenset({"TextSizeLimitExceededException", "DetectedLanguageLowConfidenceException"})
_JOB_CODES = frozenset(
    {"UnsupportedLanguagePairException", "InvalidRequestException", "InvalidParameterValueException"}
)


@dataclass
class AmazonTranslateProvider:
    """Amazon Translate, one `TranslateText` call per text (the API takes one text at a time).

    Throttling and service errors raise TranslationUnavailable (the job retries with backoff; botocore has already
    retried a few times); a text the service refuses raises TextRejected (that text fails, the job goes on); a
    language pair or request it refuses raises NonRetryable (every text would fail the same way).
    """

    client_factory: Callable[[], Any] | None = None
    name: str = "amazon"

    def _client(self) -> Any:
        if self.client_factory is not None:
            return self.client_factory()
        from shared import aws

        return aws.client("translate")

    def translate_one(self, text: str, *, source_language: str, target_language: str) -> str:
        try:
            response = self._client().translate_text(
                Text=text, SourceLanguageCode=source_language, TargetLanguageCode=target_language
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "") or code
            details = {"provider": self.name, "code": code}
            if code in _RETRYABLE_CODES:
                raise TranslationUnavailable(f"Amazon Translate is unavailable: {code}") from exc
            if code in _TEXT_CODES:
                raise TextRejected(f"Amazon Translate refused the text: {message}", details=details) from exc
            if code in _JOB_CODES:
                raise NonRetryable(f"Amazon Translate refused the request: {message}", details=details) from exc
            raise
        return str(response["TranslatedText"])


def get_provider() -> TranslationProvider:
    """The provider this deployment is configured with (`settings.translation_provider`)."""
    name = get_settings().translation_provider
    if name == "amazon":
        return AmazonTranslateProvider()
    if name == "pseudo":
        return PseudoLocaleProvider()
    raise ValueError(f"unknown translation provider {name!r}")  # Settings validates; this is a safety net


# ------------------------------------------------------------------------------------------------------ service


@dataclass
class BatchResult:
    """Per-text outcome of `translate_batch`: `translations[i]` is None exactly when `errors` has `i`."""

    translations: list[str | None]
    errors: dict[int, TextRejected] = field(default_factory=dict)
    cached: int = 0  # texts answered from the cache
    translated: int = 0  # texts the provider translated now

    @property
    def failed(self) -> int:
        return len(self.errors)


def translate_batch(
    texts: Sequence[str],
    target_language: str,
    source_language: str = "auto",
    label: str | None = None,
    *,
    provider: TranslationProvider | None = None,
) -> BatchResult:
    """Translate `texts`, serving what the cache has and caching what the provider translates.

    A text the provider rejects (TextRejected) is reported in `errors` and the others still complete. Any other
    provider error (throttling, a refused language pair) propagates, after the translations obtained so far have
    been cached, so a retry only pays for the rest. Empty texts translate to themselves and are not cached.
    """
    provider = provider or get_provider()
    hashes = [text_hash(t, source_language) for t in texts]
    result = BatchResult(translations=[None] * len(texts))
    wanted = sorted({h for t, h in zip(texts, hashes, strict=True) if t})
    found = cache.lookup(target_language, wanted)

    fresh: dict[str, str] = {}  # hash → translation, new this call
    rejected: dict[str, TextRejected] = {}
    try:
        for index, (text, key) in enumerate(zip(texts, hashes, strict=True)):
            if not text:
                result.translations[index] = text
                result.cached += 1
            elif key in found:
                result.translations[index] = found[key]
                result.cached += 1
            elif key in fresh:  # the same text twice in one batch: one provider call
                result.translations[index] = fresh[key]
                result.translated += 1
            elif key in rejected:
                result.errors[index] = rejected[key]
            else:
                try:
                    fresh[key] = provider.translate_one(
                        text, source_language=source_language, target_language=target_language
                    )
                except TextRejected as exc:
                    rejected[key] = exc
                    result.errors[index] = exc
                    continue
                result.translations[index] = fresh[key]
                result.translated += 1
    finally:
        cache.fill(target_language, label, fresh)
    return result


def translate(
    texts: list[str], target_language: str, source_language: str = "auto", label: str | None = None
) -> list[str]:
    """Translations of `texts` in order, from the cache where possible; raises the first rejected text's error."""
    result = translate_batch(texts, target_language, source_language, label)
    if result.errors:
        raise next(iter(result.errors.values()))
    return [t for t in result.translations if t is not None]


__all__ = [
    "MAX_LABEL_CHARS",
    "MAX_TEXT_CHARS",
    "AmazonTranslateProvider",
    "BatchResult",
    "PseudoLocaleProvider",
    "TextRejected",
    "TranslationProvider",
    "TranslationUnavailable",
    "get_provider",
    "text_hash",
    "translate",
    "translate_batch",
]
