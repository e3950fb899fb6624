"""Item 13 (seed 002's GalleryCache / BrowseCache): a publisher plugin caches a remote listing through the publisher
interface (`self.cache`), and a user lists and clears their own cache namespaces over the API."""

from __future__ import annotations

from typing import Any

from shared.automations import cache
from shared.publishing.base import ItemSnapshot, Publisher, PublishResult, _registry, register
from tests.integration.test_items import new_item, ready_media
from tests.integration.test_publishing import item_row
from tests.support.jobs import drain


def test_a_publisher_plugin_caches_a_remote_gallery_listing_per_user(alice, bob, aws_env) -> None:  # type: ignore[no-untyped-def]
    # Given a deployment's plugin that needs the remote gallery's folders before posting, cached for 5 minutes
    remote_calls: list[int] = []

    def remote_folders() -> list[dict[str, Any]]:
        remote_calls.append(1)
        return [{"id": "f1", "name": "Featured"}]

    @register("cached-gallery")
    class CachedGallery(Publisher):
        def publish(self, item: ItemSnapshot) -> PublishResult:
            folders = self.cache.get_or_refresh("gallery", "folders", remote_folders, fresh_s=300)
            self.cache.put("browse", f"posted:{item.id}", {"folder": folders.data[0]["id"]})
            return PublishResult(remote_id=f"cg-{item.id}", details={"folder": folders.data[0]["id"]})

    try:
        r = alice.client.post(
            "/v1/publishers", json_body={"kind": "custom", "name": "cg", "settings": {"plugin": "cached-gallery"}}
        )
        assert r.status == 201, r.json
        ids = []
        for title in ("one", "two"):
            item = new_item(alice, title=title, publisher_id=r.json["id"])
            alice.client.post(f"/v1/items/{item['id']}/files", json_body={"media_id": ready_media(alice)})
            assert alice.client.post(f"/v1/items/{item['id']}/publish-now").status == 202
            drain()
            ids.append(item["id"])
    finally:
        _registry.pop("cached-gallery", None)

    # Then both items published, the remote listing was fetched once (the second publish read the cache)
    assert [item_row(i).status for i in ids] == ["published", "published"]
    assert len(remote_calls) == 1
    # And the entries are alice's own: the service sees them under her id, not bob's nor the shared entry
    assert cache.get("gallery", "folders", alice.id).data == [{"id": "f1", "name": "Featured"}]  # type: ignore[union-attr]
    assert cache.get("gallery", "folders", bob.id) is None
    assert cache.get("gallery", "folders") is None
    # And alice sees her namespaces with counts; bob sees none
    listed = alice.client.get("/v1/cache")
    assert listed.status == 200, listed.json
    assert listed.json["items"] == [
        {"namespace": "browse", "entries": 2, "fresh": 2},
        {"namespace": "gallery", "entries": 1, "fresh": 1},
    ]
    assert bob.client.get("/v1/cache").json["items"] == []


def test_deleting_a_namespace_clears_only_the_callers_entries(alice, bob, aws_env) -> None:  # type: ignore[no-untyped-def]
    # Given gallery entries of alice, of bob and a shared one, and alice's browse entry
    cache.put("gallery", "folders", ["alice"], user_id=alice.id)
    cache.put("gallery", "page:2", ["alice 2"], user_id=alice.id)
    cache.put("gallery", "folders", ["bob"], user_id=bob.id)
    cache.put("gallery", "folders", ["shared"])
    cache.put("browse", "popular", ["alice"], user_id=alice.id)

    # When alice clears her gallery namespace
    r = alice.client.delete("/v1/cache/gallery")

    # Then it is gone for her only: bob's entry, the shared entry and her other namespace survive
    assert r.status == 204, r.body
    assert cache.get("gallery", "folders", alice.id) is None
    assert cache.get("gallery", "page:2", alice.id) is None
    assert cache.get("gallery", "folders", bob.id).data == ["bob"]  # type: ignore[union-attr]
    assert cache.get("gallery", "folders").data == ["shared"]  # type: ignore[union-attr]
    assert cache.get("browse", "popular", alice.id).data == ["alice"]  # type: ignore[union-attr]
    assert [n["namespace"] for n in alice.client.get("/v1/cache").json["items"]] == ["browse"]
    assert bob.client.get("/v1/cache").json["items"] == [{"namespace": "gallery", "entries": 1, "fresh": 1}]
    # And clearing it again (nothing of hers left) is 404; bad namespace names are 422
    assert alice.client.delete("/v1/cache/gallery").status == 404
    for bad in ("Gallery", "a" * 65, "gal.lery", "%00"):
        assert alice.client.delete(f"/v1/cache/{bad}").status == 422, bad
