"""Templates (seed 002): `/v1/templates` CRUD per type, tenant scope, content checks, and applying one to an item."""

from __future__ import annotations

from typing import Any

import pytest

from shared.publishing import templates


def tag(name: str = "tags", tags: list[str] | None = None) -> dict[str, Any]:
    return {"type": "tag", "name": name, "content": {"tags": tags or ["art", "sketch"]}}


def test_create_get_list_patch_delete(alice) -> None:  # type: ignore[no-untyped-def]
    # Given one template of each type
    bodies = [
        tag("a tags", [" art ", "sketch", "art"]),
        {"type": "description", "name": "b desc", "content": {"text": "Made with love."}},
        {"type": "comment", "name": "c thanks", "content": {"text": "Thank you!"}},
        {"type": "note", "name": "d hello", "content": {"subject": "Hi", "body": "Hello there."}},
    ]
    created = []
    for b in bodies:
        response = alice.client.post("/v1/templates", json_body=b)
        assert response.status == 201, response.body
        created.append(response.json)
    # Then tags are trimmed and kept once, in order
    assert created[0]["content"] == {"tags": ["art", "sketch"]}
    assert (created[3]["type"], created[3]["content"]) == ("note", {"subject": "Hi", "body": "Hello there."})

    # The list is by name, filtered by type, paginated by offset
    listed = alice.client.get("/v1/templates").json
    assert [t["name"] for t in listed["items"]] == ["a tags", "b desc", "c thanks", "d hello"]
    assert listed["next_offset"] is None
    assert [t["id"] for t in alice.client.get("/v1/templates", query={"type": "comment"}).json["items"]] == [
        created[2]["id"]
    ]
    page = alice.client.get("/v1/templates", query={"limit": "3"}).json
    assert (len(page["items"]), page["next_offset"]) == (3, 3)
    rest = alice.client.get("/v1/templates", query={"limit": "3", "offset": "3"}).json
    assert ([t["name"] for t in rest["items"]], rest["next_offset"]) == (["d hello"], None)
    assert alice.client.get("/v1/templates", query={"type": "poem"}).status == 422

    # GET one, PATCH name and content (checked against the stored type), DELETE
    tid = created[2]["id"]
    assert alice.client.get(f"/v1/templates/{tid}").json == created[2]
    patched = alice.client.patch(f"/v1/templates/{tid}", json_body={"name": "c merci", "content": {"text": "Merci"}})
    assert patched.status == 200, patched.body
    assert (patched.json["name"], patched.json["content"], patched.json["type"]) == (
        "c merci",
        {"text": "Merci"},
        "comment",
    )
    assert alice.client.delete(f"/v1/templates/{tid}").status == 204
    assert alice.client.get(f"/v1/templates/{tid}").status == 404
    assert alice.client.delete(f"/v1/templates/{tid}").status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "tag", "name": "x", "content": {"text": "not tags"}}, "content.tags"),
        ({"type": "description", "name": "x", "content": {"tags": ["a"]}}, "content.text"),
        (
            {"type": "comment", "name": "x", "content": {"text": "c" * (templates.MAX_COMMENT_CHARS + 1)}},
            "content.text",
        ),
        ({"type": "note", "name": "x", "content": {"text": "a note needs a body"}}, "content.body"),
    ],
)
def test_content_that_does_not_fit_the_type_is_422(alice, body: dict[str, Any], field: str) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post("/v1/templates", json_body=body)
    assert response.status == 422, response.body
    assert response.json["error"]["code"] == "invalid_template_content"
    assert response.json["error"]["details"]["field"] == field
    assert alice.client.get("/v1/templates").json["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"type": "tag", "name": "x", "content": {"tags": []}},
        {"type": "tag", "name": "x", "content": {"tags": ["t"] * 101}},
        {"type": "tag", "name": "x", "content": {"tags": ["t" * 101]}},
        {"type": "description", "name": "x", "content": {"text": "d" * 50_001}},
        {"type": "description", "name": "", "content": {"text": "d"}},
        {"type": "description", "name": "x", "content": {"text": "d", "extra": 1}},
        {"type": "tag", "name": "x", "content": {"tags": ["a"]}, "owner": "me"},
    ],
)
def test_out_of_bounds_bodies_are_422(alice, body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    assert alice.client.post("/v1/templates", json_body=body).status == 422


def test_a_patch_is_checked_against_the_templates_own_type(alice) -> None:  # type: ignore[no-untyped-def]
    tid = alice.client.post("/v1/templates", json_body=tag()).json["id"]
    response = alice.client.patch(f"/v1/templates/{tid}", json_body={"content": {"text": "now a description?"}})
    assert response.status == 422
    assert response.json["error"]["details"]["field"] == "content.tags"
    assert alice.client.get(f"/v1/templates/{tid}").json["content"] == {"tags": ["art", "sketch"]}


def test_templates_are_the_callers_own(make_user) -> None:  # type: ignore[no-untyped-def]
    owner, other = make_user(), make_user()
    tid = owner.client.post("/v1/templates", json_body=tag()).json["id"]
    assert other.client.get("/v1/templates").json["items"] == []
    for method in ("GET", "DELETE"):
        assert other.client.request(method, f"/v1/templates/{tid}").status == 404
    assert other.client.patch(f"/v1/templates/{tid}", json_body={"name": "mine now"}).status == 404
    item = other.client.post("/v1/items", json_body={"title": "theirs"}).json["id"]
    response = other.client.post(f"/v1/items/{item}/apply-template", json_body={"template_id": tid})
    assert response.status == 404
    assert owner.client.get(f"/v1/templates/{tid}").json["name"] == "tags"


def test_applying_a_template_to_an_item(alice) -> None:  # type: ignore[no-untyped-def]
    item = alice.client.post("/v1/items", json_body={"title": "mine", "tags": ["own", "art"]}).json["id"]
    tags = alice.client.post("/v1/templates", json_body=tag()).json["id"]
    desc = alice.client.post(
        "/v1/templates", json_body={"type": "description", "name": "d", "content": {"text": "Made with love."}}
    ).json["id"]
    note = alice.client.post(
        "/v1/templates", json_body={"type": "note", "name": "n", "content": {"body": "Hello."}}
    ).json["id"]

    # A tag template adds its tags after the item's own, each once
    got = alice.client.post(f"/v1/items/{item}/apply-template", json_body={"template_id": tags})
    assert got.status == 200, got.body
    assert got.json["tags"] == ["own", "art", "sketch"]
    # A description template replaces the description
    got = alice.client.post(f"/v1/items/{item}/apply-template", json_body={"template_id": desc})
    assert got.json["description"] == "Made with love."
    # A note has no item field
    got = alice.client.post(f"/v1/items/{item}/apply-template", json_body={"template_id": note})
    assert (got.status, got.json["error"]["code"]) == (422, "template_not_applicable")
    # A missing template is 404, and the item is as the last success left it
    missing = "00000000-0000-4000-8000-000000000000"
    assert alice.client.post(f"/v1/items/{item}/apply-template", json_body={"template_id": missing}).status == 404
    final = alice.client.get(f"/v1/items/{item}").json
    assert (final["tags"], final["description"]) == (["own", "art", "sketch"], "Made with love.")


def test_applying_tags_beyond_the_item_limit_is_422(alice) -> None:  # type: ignore[no-untyped-def]
    own = [f"own{i}" for i in range(60)]
    item = alice.client.post("/v1/items", json_body={"title": "full", "tags": own}).json["id"]
    tid = alice.client.post("/v1/templates", json_body=tag(tags=[f"t{i}" for i in range(60)])).json["id"]
    got = alice.client.post(f"/v1/items/{item}/apply-template", json_body={"template_id": tid})
    assert (got.status, got.json["error"]["code"]) == (422, "too_many_tags")
    assert alice.client.get(f"/v1/items/{item}").json["tags"] == own
