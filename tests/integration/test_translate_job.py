"""translate.text and the translation cache: cache hits, per-language entries, concurrent inserts, the providers
(pseudo-locale; Amazon Translate through botocore's Stubber, as moto does not emulate Translate) and the job
handler, run directly with a JobContext and end to end through the runner."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from sqlalchemy import func, select, update

from shared.billing import ledger
from shared.db import session
from shared.db.enums import JobStatus
from shared.db.models import Job, Metric, Translation
from shared.errors import InvalidInput
from shared.i18n import translations
from shared.i18n.translate_job import TranslateText, translate_cost, translate_text
from shared.i18n.translations import (
    AmazonTranslateProvider,
    PseudoLocaleProvider,
    TextRejected,
    TranslationUnavailable,
    text_hash,
    translate,
    translate_batch,
)
from shared.jobs import wakeups
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.service import create_job


class CountingProvider:
    """Pseudo-locale output, counting calls; texts in `reject` are refused, `fail_on` raises throttling."""

    name = "counting"

    def __init__(self, reject: frozenset[str] = frozenset(), fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.reject = reject
        self.fail_on = fail_on
        self.inner = PseudoLocaleProvider()

    def translate_one(self, text: str, *, source_language: str, target_language: str) -> str:
        self.calls.append((text, target_language))
        if text in self.reject:
            raise TextRejected(f"cannot translate {text!r}")
        if text == self.fail_on:
            raise TranslationUnavailable("throttled")
        return self.inner.translate_one(text, source_language=source_language, target_language=target_language)


@pytest.fixture(autouse=True)
def no_wakeups() -> Iterator[None]:
    """Jobs are run here directly or by run_batch; their SQS wake-ups are not needed."""
    previous = wakeups.set_transport(lambda _: None)
    yield
    wakeups.set_transport(previous)


def cache_rows(language: str | None = None) -> int:
    stmt = select(func.count()).select_from(Translation)
    if language is not None:
        stmt = stmt.where(Translation.language == language)
    with session() as s:
        return int(s.scalar(stmt) or 0)


def running_job(user_id: uuid.UUID, type: str, payload: dict[str, Any]) -> JobContext:
    """A job created as the API would, then marked running by 'test' as if a worker had claimed it."""
    job = create_job(user_id=user_id, type=type, payload=payload).job
    with session() as s:
        s.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.RUNNING.value, locked_by="test"))
    return JobContext(job_id=job.id, user_id=user_id, type=type, attempt=1, max_attempts=3, worker="test", lease_s=60)


# ------------------------------------------------------------------------------------------------- providers


def test_the_pseudo_provider_is_deterministic_marked_and_longer() -> None:
    # Given the pseudo-locale provider
    provider = PseudoLocaleProvider()
    text = "Hello {name}, you have %s new <b>messages</b>"

    # When it translates the same text twice
    first = provider.translate_one(text, source_language="auto", target_language="de")
    second = provider.translate_one(text, source_language="en", target_language="de")

    # Then the output is identical, bracketed, names the language, keeps placeholders and is ~30% longer
    assert first == second
    assert first.startswith("[!! de: ")
    assert first.endswith(" !!]")
    assert "Hélló" in first
    assert "{name}" in first
    assert "%s" in first
    assert "<b>" in first
    assert "</b>" in first
    assert len(first) >= len(text) * 1.3
    # And another language gives another output
    assert provider.translate_one(text, source_language="auto", target_language="fr") != first


def test_the_provider_follows_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import reconfigure

    assert isinstance(translations.get_provider(), PseudoLocaleProvider)
    monkeypatch.setenv("CONVEYOR_TRANSLATION_PROVIDER", "amazon")
    reconfigure()
    try:
        assert isinstance(translations.get_provider(), AmazonTranslateProvider)
    finally:
        monkeypatch.delenv("CONVEYOR_TRANSLATION_PROVIDER")
        reconfigure()


def stubbed_amazon() -> tuple[AmazonTranslateProvider, Stubber]:
    client = boto3.client("translate", region_name="us-east-1")
    return AmazonTranslateProvider(client_factory=lambda: client), Stubber(client)


def test_amazon_translate_is_called_with_the_languages_and_its_text_returned() -> None:
    provider, stubber = stubbed_amazon()
    stubber.add_response(
        "translate_text",
        {"TranslatedText": "Hallo Welt", "SourceLanguageCode": "en", "TargetLanguageCode": "de"},
        {"Text": "Hello world", "SourceLanguageCode": "auto", "TargetLanguageCode": "de"},
    )
    with stubber:
        assert provider.translate_one("Hello world", source_language="auto", target_language="de") == "Hallo Welt"
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("TooManyRequestsException", TranslationUnavailable),
        ("ServiceUnavailableException", TranslationUnavailable),
        ("TextSizeLimitExceededException", TextRejected),
        ("DetectedLanguageLowConfidenceException", TextRejected),
        ("UnsupportedLanguagePairException", NonRetryable),
    ],
)
def test_amazon_errors_map_to_retryable_per_text_or_permanent(code: str, expected: type[Exception]) -> None:
    provider, stubber = stubbed_amazon()
    stubber.add_client_error("translate_text", service_error_code=code, service_message="no")
    with stubber, pytest.raises(expected) as raised:
        provider.translate_one("Hello", source_language="auto", target_language="xx")
    # A language-pair refusal fails the whole job, not just one text
    assert isinstance(raised.value, TextRejected) == (expected is TextRejected)


# ----------------------------------------------------------------------------------------------------- cache


def test_a_second_translation_of_the_same_texts_is_served_from_the_cache(db) -> None:  # type: ignore[no-untyped-def]
    # Given two texts translated once into German
    provider = CountingProvider()
    first = translate_batch(["Hello", "World"], "de", label="ui", provider=provider)
    assert (first.translated, first.cached, len(provider.calls), cache_rows()) == (2, 0, 2, 2)

    # When the same texts are translated again
    second = translate_batch(["World", "Hello"], "de", provider=provider)

    # Then the provider is not called, nothing is inserted and the translations are the cached ones
    assert (second.translated, second.cached, len(provider.calls), cache_rows()) == (0, 2, 2, 2)
    assert second.translations == [first.translations[1], first.translations[0]]
    # And the rows carry the target language, the label, the translation and the documented hash
    with session() as s:
        row = s.scalars(select(Translation).where(Translation.hash == text_hash("Hello", "auto"))).one()
    assert (row.language, row.label, row.text) == ("de", "ui", first.translations[0])
    assert row.hash == hashlib.sha256(b"auto\0Hello").hexdigest()


def test_each_target_and_source_language_has_its_own_entry(db) -> None:  # type: ignore[no-untyped-def]
    provider = CountingProvider()
    translate_batch(["Hello"], "de", provider=provider)

    # When the same text goes to French, and is read as English rather than auto-detected
    french = translate_batch(["Hello"], "fr", provider=provider)
    english_source = translate_batch(["Hello"], "de", source_language="en", provider=provider)

    # Then each is a cache miss and a row of its own
    assert (french.translated, english_source.translated) == (1, 1)
    assert (cache_rows("de"), cache_rows("fr"), len(provider.calls)) == (2, 1, 3)
    assert french.translations[0] != translate_batch(["Hello"], "de", provider=provider).translations[0]


def test_duplicates_in_a_batch_are_translated_once_and_empty_texts_pass_through(db) -> None:  # type: ignore[no-untyped-def]
    provider = CountingProvider()
    result = translate_batch(["Hi", "", "Hi"], "de", provider=provider)
    assert result.translations[0] == result.translations[2]
    assert result.translations[1] == ""
    assert (len(provider.calls), cache_rows()) == (1, 1)


def test_concurrent_translations_of_the_same_text_both_succeed_with_one_row(db) -> None:  # type: ignore[no-untyped-def]
    # Given two jobs that both miss the cache for the same text before either has stored it
    barrier = threading.Barrier(2, timeout=10)

    class WaitingProvider(CountingProvider):
        def translate_one(self, text: str, *, source_language: str, target_language: str) -> str:
            barrier.wait()
            return super().translate_one(text, source_language=source_language, target_language=target_language)

    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            batch = translate_batch(["Shared text"], "de", provider=WaitingProvider())
            results.append([t or "" for t in batch.translations])
        except BaseException as exc:
            errors.append(exc)

    # When both insert their translation
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    # Then both succeed and the cache holds one row
    assert errors == []
    assert len(results) == 2
    assert results[0] == results[1]
    assert cache_rows("de") == 1


def test_a_throttled_batch_keeps_what_it_translated_for_the_retry(db) -> None:  # type: ignore[no-untyped-def]
    # Given a provider that throttles on the third text
    provider = CountingProvider(fail_on="three")
    with pytest.raises(TranslationUnavailable):
        translate_batch(["one", "two", "three", "four"], "de", provider=provider)
    # Then the two translated before it are cached
    assert cache_rows("de") == 2

    # When retried, only the rest reaches the provider
    retry = CountingProvider()
    result = translate_batch(["one", "two", "three", "four"], "de", provider=retry)
    assert (result.cached, result.translated, [c[0] for c in retry.calls]) == (2, 2, ["three", "four"])


def test_translate_returns_the_translations_and_raises_for_a_rejected_text(
    db,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert translate(["Good"], "de") == [
        PseudoLocaleProvider().translate_one("Good", source_language="auto", target_language="de")
    ]
    monkeypatch.setattr(translations, "get_provider", lambda: CountingProvider(reject=frozenset({"Bad"})))
    with pytest.raises(TextRejected):
        translate(["Good", "Bad"], "de")


# ------------------------------------------------------------------------------------------------------- job


def test_the_payload_is_validated_and_priced_per_started_thousand_characters(alice) -> None:  # type: ignore[no-untyped-def]
    assert translate_cost(TranslateText(texts=["x" * 1000], target_language="de")) == 1
    assert translate_cost(TranslateText(texts=["x" * 1000, "y"], target_language="de")) == 2
    assert translate_cost(TranslateText(texts=["x" * 5000] * 3, target_language="zh-TW")) == 15
    bad_payloads = [
        {"texts": [], "target_language": "de"},
        {"texts": ["x"] * 501, "target_language": "de"},
        {"texts": ["x" * 5001], "target_language": "de"},
        {"texts": [""], "target_language": "de"},
        {"texts": ["x"], "target_language": "d"},
        {"texts": ["x"], "target_language": "de; DROP"},
        {"texts": ["x"], "target_language": "de", "extra": 1},
    ]
    for payload in bad_payloads:
        with pytest.raises(InvalidInput):
            create_job(user_id=alice.id, type="translate.text", payload=payload)


def test_the_job_counts_each_text_and_a_rejected_one_does_not_stop_it(
    alice,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given alice's job of three texts, one of which the provider rejects, and one already cached
    ledger.grant(alice.id, 10)
    provider = CountingProvider(reject=frozenset({"Bad"}))
    monkeypatch.setattr(translations, "get_provider", lambda: provider)
    translate_batch(["Cached"], "de", provider=provider)
    payload = {"texts": ["Good", "Bad", "Cached"], "target_language": "de", "label": "ui"}
    ctx = running_job(alice.id, "translate.text", payload)

    # When the handler runs
    result = translate_text(ctx, TranslateText.model_validate(payload))

    # Then the rejected text is null in place and the others are translated (one from the cache)
    translations_out = result["translations"]
    assert translations_out[1] is None
    assert translations_out[0]
    assert translations_out[2]
    assert (result["cached"], result["translated"]) == (1, 1)
    assert result["failed"] == [{"index": 1, "error": "cannot translate 'Bad'"}]
    # And the job's counts say so (the runner turns a failure count into `review`)
    with session() as s:
        job = s.get(Job, ctx.job_id)
        assert job is not None
        assert (job.total, job.success_count, job.failure_count, float(job.progress)) == (3, 2, 1, 100.0)
        metric = s.scalars(select(Metric).where(Metric.reference == str(ctx.job_id))).one()
    # And a metric of the characters, for alice, labelled with the language
    assert (metric.name, int(metric.value), metric.label, metric.user_id) == (
        "translate.characters",
        13,
        "de",
        alice.id,
    )


def test_the_job_runs_end_to_end_through_the_runner(alice, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from shared.jobs.runner import run_batch

    # Given two queued jobs for alice: one clean, one with a text the provider rejects
    ledger.grant(alice.id, 10)
    monkeypatch.setattr(translations, "get_provider", lambda: CountingProvider(reject=frozenset({"Bad"})))
    clean = create_job(user_id=alice.id, type="translate.text", payload={"texts": ["A", "B"], "target_language": "de"})
    partial = create_job(
        user_id=alice.id, type="translate.text", payload={"texts": ["A", "Bad"], "target_language": "fr"}
    )

    # When a worker runs them
    batch = run_batch(5, worker="test-worker", remaining_ms=lambda: 60_000)

    # Then the clean one completes and the partly failed one waits for review, each with its result
    assert batch.claimed == 2
    with session() as s:
        done = s.get(Job, clean.job.id)
        review = s.get(Job, partial.job.id)
        assert done is not None
        assert review is not None
        assert (done.status, review.status) == (JobStatus.COMPLETED.value, JobStatus.REVIEW.value)
        assert done.result is not None
        assert len(done.result["translations"]) == 2
        assert review.result is not None
        assert review.result["translations"][1] is None
        assert s.scalar(select(func.count()).select_from(Metric).where(Metric.user_id == alice.id)) == 2
