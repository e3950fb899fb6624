"""The translation cache's rows (seed 000 `Translation`): the one module that reads and writes `translations`.

`translate.text` (through `shared.i18n.translations`) and the `/v1/translations` API both go through here, so a
row an admin writes is what the next job reads, and a row a job fills is what the API lists.

The table is instance-wide, as in the seed (a `Translation` has no user): a cached translation serves every user
who translates the same text. So writes through the API are for admins only (a user could otherwise put any text
in front of everyone else's translations), and listing without naming hashes is for admins only too (the cache
holds translations of other users' texts; naming a hash means you already know its source text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert

from shared.db.models import Translation
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import session

MAX_TEXT_CHARS = 5_000  # Amazon Translate's per-request limit is 10,000 UTF-8 bytes; 5,000 chars fits most text
MAX_LABEL_CHARS = 200
MAX_PAGE = 100
MAX_HASHES = 50  # per request: 50 repeated `hash=` parameters are about 3.5 KB of query string
HASH_PATTERN = r"^[0-9a-f]{64}$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
MAX_LANGUAGE_CHARS = 32


def text_hash(text: str, source_language: str = "auto") -> str:
    """The cache key of a source text: sha256 over `source_language + "\\0" + text` (UTF-8), lowercase hex."""
    return hashlib.sha256(f"{source_language}\0{text}".encode()).hexdigest()


def lookup(language: str, hashes: Sequence[str]) -> dict[str, str]:
    """Cached translations for `hashes` in one query (the unique (language, hash) index answers it)."""
    if not hashes:
        return {}
    with session() as s:
        rows = s.execute(
            select(Translation.hash, Translation.text).where(
                Translation.language == language, Translation.hash.in_(list(hashes))
            )
        )
        return {row.hash: row.text for row in rows}


def fill(language: str, label: str | None, translations: dict[str, str]) -> None:
    """Insert new rows (hash → translation); a row that exists already wins (ON CONFLICT DO NOTHING)."""
    if not translations:
        return
    rows = [{"language": language, "label": label or "", "hash": h, "text": t} for h, t in translations.items()]
    with session() as s:
        s.execute(insert(Translation).values(rows).on_conflict_do_nothing(index_elements=["language", "hash"]))


def put(*, language: str, hash: str, text: str, label: str | None) -> Translation:
    """Insert or replace the row of (language, hash) and return it (one statement: two writers cannot collide)."""
    values = {"language": language, "hash": hash, "text": text, "label": label or ""}
    stmt = insert(Translation).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["language", "hash"], set_={"text": stmt.excluded.text, "label": stmt.excluded.label}
    ).returning(Translation)
    with session() as s:
        return s.scalars(stmt, execution_options={"populate_existing": True}).one()


@dataclass(frozen=True)
class TranslationFilter:
    language: str | None = None
    label: str | None = None
    hashes: tuple[str, ...] = ()


def list_translations(
    flt: TranslationFilter, *, limit: int, cursor: str | None
) -> tuple[list[Translation], str | None]:
    """Oldest first, keyset-paginated on (created_at, id); with hashes, served by the (language, hash) index."""
    query = select(Translation)
    if flt.language is not None:
        query = query.where(Translation.language == flt.language)
    if flt.label is not None:
        query = query.where(Translation.label == flt.label)
    if flt.hashes:
        query = query.where(Translation.hash.in_(sorted(set(flt.hashes))))
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(tuple_(Translation.created_at, Translation.id) > tuple_(created_at, last_id))
    query = query.order_by(Translation.created_at, Translation.id).limit(min(limit, MAX_PAGE) + 1)
    with session() as s:
        rows = list(s.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
