"""`/v1/translations`: the instance-wide translation cache (seed 000) that `translate.text` fills and reads.

Reading a row needs its hash (knowing it means knowing the source text); listing without hashes and writing are
for admins, because every user's `translate.text` jobs are served from the same rows (docs/metrics.md).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Cursor
from shared.errors import Forbidden
from shared.i18n import cache
from shared.i18n.schemas import Hash, Label, Language, TranslationList, TranslationOut, TranslationPut

router = Router()


@router.get("/v1/translations", tags=["translations"], summary="Look up cached translations by hash (admins: list)")
def list_translations(
    language: Annotated[Language | None, Query()] = None,
    label: Annotated[Label | None, Query()] = None,
    hash: Annotated[
        list[Hash] | None,
        Query(
            max_length=cache.MAX_HASHES,
            description="Repeat for a batch lookup (up to 50). Required unless you are an admin.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=cache.MAX_PAGE)] = 50,
    cursor: Cursor = None,
) -> TranslationList:
    if not hash and not caller().is_admin:
        raise Forbidden("Listing translations without a hash needs an admin.", details={"needs": "hash"})
    rows, next_cursor = cache.list_translations(
        cache.TranslationFilter(language=language, label=label, hashes=tuple(hash or ())), limit=limit, cursor=cursor
    )
    return TranslationList(items=[TranslationOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.put("/v1/translations", tags=["translations"], summary="Insert or replace a cached translation (admins)")
def put_translation(body: TranslationPut) -> TranslationOut:
    if not caller().is_admin:
        raise Forbidden("Only an admin can write the instance-wide translation cache.", details={"needs": "admin"})
    row = cache.put(language=body.language, hash=body.key, text=body.text, label=body.label)
    return TranslationOut.model_validate(row)
