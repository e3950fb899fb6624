"""`translate.text`: translate up to 500 texts into one language through the translation cache (seed 000).

Each text is an item of the job (`total` = number of texts): a text the provider rejects counts as a failure and
the others go on, so a partly failed job ends in `review` with `null` in its place in the result. Texts are
handled in chunks: one cache query and one count update per chunk, which also heartbeats (a cancel is seen
between chunks). Throttling is a retryable error; what was translated before it is cached, so the retry is
cheap. Credits: one per started 1,000 characters of input (cached or not: the price is known at creation).
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.db.enums import LogLevel
from shared.i18n import cache, translations
from shared.jobs.context import JobContext
from shared.jobs.registry import job_type
from shared.metrics import service as metrics

MAX_TEXTS = 500
CHUNK = 50
# Stop starting chunks this close to the Lambda timeout; the retry resumes from the cache.
MIN_TIME_LEFT_MS = 15_000

Text = Annotated[str, StringConstraints(min_length=1, max_length=translations.MAX_TEXT_CHARS)]
Language = Annotated[str, StringConstraints(pattern=cache.LANGUAGE_PATTERN, max_length=cache.MAX_LANGUAGE_CHARS)]


class TranslateText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS, description="1 to 500 texts, each 1-5,000 chars.")
    target_language: Language = Field(description='BCP-47-style code, e.g. "de" or "zh-TW".')
    source_language: Language = Field(default="auto", description='A language code, or "auto" to detect it.')
    label: Annotated[str, StringConstraints(max_length=translations.MAX_LABEL_CHARS)] | None = Field(
        default=None, description="Stored with cached translations, e.g. 'ui' or 'subtitles'."
    )

    @property
    def characters(self) -> int:
        return sum(len(t) for t in self.texts)


def translate_cost(payload: TranslateText) -> int:
    """One credit per started 1,000 characters of input."""
    return max(1, math.ceil(payload.characters / 1_000))


class OutOfTime(Exception):
    """Too little time left in this invocation to start another chunk: retry (the cache keeps the work done)."""


@job_type("translate.text", payload=TranslateText, cost_credits=translate_cost, max_attempts=5, timeout_s=900)
def translate_text(ctx: JobContext, payload: TranslateText) -> dict[str, object]:
    started = time.time()
    provider = translations.get_provider()
    ctx.set_total(len(payload.texts))
    out: list[str | None] = []
    failures: list[dict[str, object]] = []
    cached = translated = 0
    for offset in range(0, len(payload.texts), CHUNK):
        if offset and ctx.time_left_ms() < MIN_TIME_LEFT_MS:
            raise OutOfTime(f"stopped after {offset} texts with {ctx.time_left_ms()} ms left")
        chunk = payload.texts[offset : offset + CHUNK]
        batch = translations.translate_batch(
            chunk, payload.target_language, payload.source_language, payload.label, provider=provider
        )
        for index, error in sorted(batch.errors.items()):
            failures.append({"index": offset + index, "error": str(error)})
            ctx.log(f"text {offset + index} was not translated: {error}", level=LogLevel.WARNING)
        out.extend(batch.translations)
        cached += batch.cached
        translated += batch.translated
        ctx.count(success=len(chunk) - batch.failed, failure=batch.failed)

    metrics.record(
        "translate.characters",
        payload.characters,
        user_id=ctx.user_id,
        reference=ctx.job_id,
        start=started,
        label=payload.target_language,
    )
    return {
        "translations": out,
        "cached": cached,
        "translated": translated,
        "failed": failures,
        "provider": provider.name,
    }
