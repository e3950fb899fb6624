"""`/v1/translations`: the instance-wide translation cache as a resource — batch lookup by hash, admin listing and
upserts, the refusals that keep one user from poisoning another's translations, and `translate.text` reading and
filling the very rows the API shows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.billing import ledger
from shared.db import session
from shared.db.models import Job, Translation
from shared.i18n import translations
from shared.i18n.translations import PseudoLocaleProvider, text_hash, translate_batch
from shared.jobs import wakeups


@pytest.fixture(autouse=True)
def no_wakeups() -> Iterator[None]:
    previous = wakeups.set_transport(lambda _: None)
    yield
    wakeups.set_transport(previous)


class CountingProvider:
    name = "counting"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def translate_one(self, text: str, *, source_language: str, target_language: str) -> str:
        self.calls.append(text)
        return PseudoLocaleProvider().translate_one(
            text, source_language=source_language, target_language=target_language
        )


def put(who: Any, body: dict[str, Any]) -> Any:
    return who.client.request("PUT", "/v1/translations", json_body=body)


def rows() -> list[tuple[str, str, str, str]]:
    with session() as s:
        return [
            (r.language, r.hash, r.text, r.label) for r in s.scalars(select(Translation).order_by(Translation.hash))
        ]


def test_the_hash_is_sha256_of_source_language_nul_and_text() -> None:
    import hashlib

    assert text_hash("Hello", "en") == hashlib.sha256(b"en\x00Hello").hexdigest()
    assert text_hash("Hello") == hashlib.sha256(b"auto\x00Hello").hexdigest()


def test_an_admin_upserts_by_language_and_hash_and_gets_the_row(admin) -> None:  # type: ignore[no-untyped-def]
    # Given an admin writing a translation by source text
    first = put(admin, {"language": "de", "source_text": "Hello", "source_language": "en", "text": "Hallo"})

    # Then the row comes back, keyed by the source's hash
    assert first.status == 200, first.json
    assert first.json["hash"] == text_hash("Hello", "en")
    assert (first.json["language"], first.json["text"], first.json["label"]) == ("de", "Hallo", "")

    # When the same (language, hash) is written again, by hash, with a label
    second = put(admin, {"language": "de", "hash": text_hash("Hello", "en"), "text": "Servus", "label": "ui"})

    # Then it is the same row, replaced — one row, not two
    assert second.status == 200, second.json
    assert second.json["id"] == first.json["id"]
    assert (second.json["text"], second.json["label"]) == ("Servus", "ui")
    assert rows() == [("de", text_hash("Hello", "en"), "Servus", "ui")]
    # And another language is another row
    assert put(admin, {"language": "fr", "hash": text_hash("Hello", "en"), "text": "Bonjour"}).status == 200
    assert len(rows()) == 2


def test_a_user_cannot_write_the_shared_cache(alice, admin) -> None:  # type: ignore[no-untyped-def]
    # Given a translation every user's translate.text jobs are served from
    key = text_hash("Hello")
    assert put(admin, {"language": "de", "hash": key, "text": "Hallo"}).status == 200

    # When a user tries to replace it (or add one)
    response = put(alice, {"language": "de", "hash": key, "text": "poisoned"})
    other = put(alice, {"language": "de", "source_text": "New", "text": "neu"})

    # Then both are refused and nothing changed
    assert (response.status, response.json["error"]["code"]) == (403, "forbidden")
    assert other.status == 403
    assert rows() == [("de", key, "Hallo", "")]


def test_a_batch_lookup_by_hash_answers_the_rows_found(alice, admin) -> None:  # type: ignore[no-untyped-def]
    # Given cached translations of two texts in two languages
    hello, bye, missing = text_hash("Hello"), text_hash("Bye"), text_hash("Never translated")
    for language, key, text in (("de", hello, "Hallo"), ("fr", hello, "Bonjour"), ("de", bye, "Tschüss")):
        assert put(admin, {"language": language, "hash": key, "text": text, "label": "ui"}).status == 200

    # When a user looks up three hashes in German in one call
    query = [("language", "de"), ("hash", hello), ("hash", bye), ("hash", missing)]
    response = alice.client.get("/v1/translations", query=query)

    # Then the two German rows come back (the missing hash is simply absent), not the French one
    assert response.status == 200, response.json
    assert sorted((i["hash"], i["text"]) for i in response.json["items"]) == sorted(
        [(hello, "Hallo"), (bye, "Tschüss")]
    )
    assert response.json["next_cursor"] is None
    # And without a language, a hash's every language
    every = alice.client.get("/v1/translations", query={"hash": hello}).json["items"]
    assert sorted(i["language"] for i in every) == ["de", "fr"]
    # And the label filter narrows it
    assert alice.client.get("/v1/translations", query={"hash": hello, "label": "other"}).json["items"] == []


def test_listing_without_hashes_is_for_admins_and_paginated(alice, admin) -> None:  # type: ignore[no-untyped-def]
    # Given five German rows
    for n in range(5):
        assert put(admin, {"language": "de", "source_text": f"text {n}", "text": f"Text {n}"}).status == 200

    # When a user lists the language without naming hashes
    refused = alice.client.get("/v1/translations", query={"language": "de"})

    # Then it is refused: the cache holds other users' translated texts
    assert (refused.status, refused.json["error"]["code"]) == (403, "forbidden")
    # And an admin pages through all of them, oldest first, two at a time
    seen: list[str] = []
    query: dict[str, str] = {"language": "de", "limit": "2"}
    while True:
        page = admin.client.get("/v1/translations", query=query)
        assert page.status == 200, page.json
        seen += [i["text"] for i in page.json["items"]]
        if page.json["next_cursor"] is None:
            break
        query["cursor"] = page.json["next_cursor"]
    assert seen == [f"Text {n}" for n in range(5)]


@pytest.mark.parametrize(
    "body",
    [
        {"language": "de", "hash": "ABC", "text": "x"},  # not a sha256 hex digest
        {"language": "de", "hash": "A" * 64, "text": "x"},  # upper case: the hash is lowercase hex
        {"language": "de", "text": "x"},  # neither hash nor source_text
        {"language": "de", "hash": "a" * 64, "source_text": "x", "text": "x"},  # both
        {"language": "de", "hash": "a" * 64, "source_language": "en", "text": "x"},  # hash already has it
        {"language": "not a language", "hash": "a" * 64, "text": "x"},
        {"language": "de", "hash": "a" * 64, "text": ""},
        {"language": "de", "hash": "a" * 64, "text": "x" * 5_001},
        {"language": "de", "hash": "a" * 64, "text": "x", "label": "l" * 201},
        {"language": "de", "hash": "a" * 64, "text": "x", "extra": 1},
    ],
)
def test_bad_translations_are_422_and_store_nothing(admin, body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    response = put(admin, body)
    assert (response.status, response.json["error"]["code"]) == (422, "validation_failed")
    assert rows() == []


@pytest.mark.parametrize(
    "query",
    [
        [("hash", "xyz")],
        [("hash", "a" * 63)],
        [("hash", f"{n:064x}") for n in range(51)],  # more than 50 hashes
        [("hash", "a" * 64), ("limit", "0")],
        [("hash", "a" * 64), ("limit", "101")],
        [("hash", "a" * 64), ("cursor", "not-a-cursor")],
        [("hash", "a" * 64), ("language", "x" * 40)],
    ],
)
def test_bad_lookups_are_422(alice, query: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.get("/v1/translations", query=query)
    assert (response.status, response.json["error"]["code"]) == (422, "validation_failed")


def test_translate_text_reads_and_fills_the_rows_the_api_shows(  # type: ignore[no-untyped-def]
    alice, admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.jobs.runner import run_batch

    # Given an admin's translation of "Hello" into German, and a provider that counts its calls
    assert put(admin, {"language": "de", "source_text": "Hello", "text": "Hallo (curated)"}).status == 200
    provider = CountingProvider()
    monkeypatch.setattr(translations, "get_provider", lambda: provider)
    ledger.grant(alice.id, 10)

    # When alice's translate.text job runs over "Hello" and "World"
    job = {"type": "translate.text", "payload": {"texts": ["Hello", "World"], "target_language": "de", "label": "ui"}}
    created = alice.client.post("/v1/jobs", json_body=job)
    assert created.status == 201, created.json
    assert run_batch(5, worker="test-worker", remaining_ms=lambda: 60_000).claimed == 1

    # Then "Hello" came from the admin's row and only "World" went to the provider
    with session() as s:
        done = s.get(Job, created.json["id"])
        assert done is not None
        assert done.result is not None
        assert done.result["translations"][0] == "Hallo (curated)"
    assert provider.calls == ["World"]
    # And the row the job filled is what the API answers for World's hash
    found = alice.client.get("/v1/translations", query={"language": "de", "hash": text_hash("World")}).json["items"]
    assert [(i["text"], i["label"]) for i in found] == [(done.result["translations"][1], "ui")]
    # And an admin's correction of that row is what the next translation reads
    put(admin, {"language": "de", "hash": text_hash("World"), "text": "Welt"})
    assert translate_batch(["World"], "de", provider=provider).translations == ["Welt"]
    assert provider.calls == ["World"]
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Translation)) == 2
