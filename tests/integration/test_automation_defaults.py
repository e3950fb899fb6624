"""Automation default values with `apply_if_empty`: "empty" as seed 002 means it (false / 0 defaults are empty)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from shared.automations import runner
from shared.db import session
from shared.db.models import ItemFile, MediaFile
from tests.integration.test_automations import body, hour_ago, make_due, rule


def _with_a_file(user_id: uuid.UUID, item_id: str) -> None:
    """Automations only take drafts with something to publish; the file row stands in for an upload."""
    with session() as s:
        media = MediaFile(user_id=user_id, bucket="b", key=f"media/{item_id}/f.png", region="us-east-1", status="ready")
        s.add(media)
        s.flush()
        s.add(ItemFile(item_id=uuid.UUID(item_id), media_id=media.id))


def test_false_and_zero_defaults_count_as_empty(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a draft left at the item defaults, and one whose owner set every field away from them
    plain = alice.client.post("/v1/items", json_body={"title": "plain"}).json["id"]
    chosen = alice.client.post(
        "/v1/items",
        json_body={
            "title": "chosen",
            "settings": {
                "is_mature": True,
                "display_resolution": 3,
                "allow_comments": False,
                "upload_mode": "multiple",
            },
        },
    ).json["id"]
    for item_id in (plain, chosen):
        _with_a_file(alice.id, item_id)
    # And the seed's own example default (isMature: true) with others, all with apply_if_empty
    defaults = {"is_mature": True, "display_resolution": 5, "no_ai": True, "allow_comments": True}
    aid = alice.client.post(
        "/v1/automations",
        json_body=body(
            rules=[rule(items_per_interval=2)],
            default_values=[{"field_name": f, "value": v, "apply_if_empty": True} for f, v in defaults.items()]
            + [{"field_name": "upload_mode", "value": "single", "apply_if_empty": True}],
        ),
    )
    assert aid.status == 201, aid.body
    slot = hour_ago()
    make_due(aid.json["id"], slot)

    # When the automation schedules them
    assert runner.run_due_automations(now=slot + timedelta(seconds=5), rng=random.Random(1)) == 2

    # Then false / 0 left at the default were filled: the seed's isMature: true applies
    got = alice.client.get(f"/v1/items/{plain}").json
    assert got["status"] == "scheduled"
    assert {f: got["settings"][f] for f in defaults} == defaults
    assert got["settings"]["upload_mode"] == "single"
    # And values the owner chose stay: true, a non-zero number, a false that is not the default, an enum
    got = alice.client.get(f"/v1/items/{chosen}").json
    assert got["status"] == "scheduled"
    assert got["settings"]["is_mature"] is True
    assert got["settings"]["display_resolution"] == 3
    assert got["settings"]["allow_comments"] is False
    assert got["settings"]["upload_mode"] == "multiple"
    assert got["settings"]["no_ai"] is True  # still at its default false, so filled


def test_an_overwriting_default_still_overwrites_what_the_owner_chose(alice) -> None:  # type: ignore[no-untyped-def]
    item_id = alice.client.post(
        "/v1/items", json_body={"title": "chosen", "settings": {"allow_comments": False, "display_resolution": 3}}
    ).json["id"]
    _with_a_file(alice.id, item_id)
    aid = alice.client.post(
        "/v1/automations",
        json_body=body(
            default_values=[
                {"field_name": "allow_comments", "value": True, "apply_if_empty": False},
                {"field_name": "display_resolution", "value": 0, "apply_if_empty": False},
            ]
        ),
    ).json["id"]
    slot = hour_ago()
    make_due(aid, slot)

    assert runner.run_due_automations(now=slot + timedelta(seconds=5)) == 1

    settings = alice.client.get(f"/v1/items/{item_id}").json["settings"]
    assert (settings["allow_comments"], settings["display_resolution"]) == (True, 0)
