"""`/v1/cache`: the caller's own entries in the remote-listing cache that publisher plugins fill (seed 002's
GalleryCache and BrowseCache, shared/automations/cache.py): which namespaces hold entries, and clearing one.

A namespace exists for a user while it holds entries, so clearing one that holds none (or only another user's)
answers 404 like any absent resource; shared entries (no user) are never listed or cleared here.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from functions.api.responses import extra
from shared.automations import cache
from shared.errors import NotFound

router = Router()


class CacheNamespaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    namespace: str
    entries: int = Field(description="Entries still servable (fresh or stale).")
    fresh: int = Field(description="Of those, entries still fresh.")


class CacheNamespaceList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[CacheNamespaceOut]


@router.get("/v1/cache", tags=["cache"], summary="Your cache namespaces, with entry counts")
def list_cache_namespaces() -> CacheNamespaceList:
    rows = cache.namespaces(caller().user_id)
    return CacheNamespaceList(items=[CacheNamespaceOut.model_validate(r) for r in rows])


@router.delete(
    "/v1/cache/<namespace>", tags=["cache"], summary="Clear your entries in a cache namespace", responses=extra(204)
)
def clear_cache_namespace(
    namespace: Annotated[str, Path(pattern=cache.NAMESPACE_PATTERN, description="e.g. `gallery`, `browse`")],
) -> Response[None]:
    if cache.clear_namespace(caller().user_id, namespace) == 0:
        raise NotFound("No cache entries of yours in this namespace.")
    return Response(status_code=204)
