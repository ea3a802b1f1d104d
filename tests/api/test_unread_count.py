"""The unread count a badge shows agrees with the notifications the viewer can open: a notification about an
idea since hidden from them is in neither (and both come back when the idea does)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.test_moderation import moderate
from tests.api.test_permissions import World, mutate

NOTES = "{ viewer { unreadNotificationCount notifications(unreadOnly: true) { totalCount edges { node { kind } } } } }"
CHANGE = "mutation($input: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $input) { userErrors { code } } }"
MARK = "mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) { unreadCount } }"


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def notes(world: World, auth: str) -> tuple[int, list[str]]:
    viewer = (await world.api(NOTES, auth=auth))["data"]["viewer"]
    kinds = [edge["node"]["kind"] for edge in viewer["notifications"]["edges"]]
    assert viewer["notifications"]["totalCount"] == len(kinds)
    return viewer["unreadNotificationCount"], kinds


async def test_the_unread_count_leaves_out_notifications_about_ideas_hidden_from_the_viewer(world: World) -> None:
    idea = await world.idea()
    fay = world.ws.token("fay")
    followed = await world.api(
        "mutation($i: FollowIdeaInput!) { followIdea(input: $i) { userErrors { code } } }",
        {"i": {"ideaId": idea, "follow": True}},
        auth=fay,
    )
    assert followed["data"]["followIdea"]["userErrors"] == []
    changed = await mutate(world, "admin", CHANGE, {"ideaId": idea, "status": "UNDER_REVIEW"})
    assert changed["userErrors"] == []
    assert await notes(world, fay) == (1, ["STATUS_CHANGED"])

    assert (await moderate(world, "moderator", idea, "HIDE", "Off topic"))["userErrors"] == []
    # The follower can no longer open the idea: its notification is neither listed nor counted.
    assert await notes(world, fay) == (0, [])
    # Its author (who follows it from the start) still reads it, and is told it was hidden: both are counted.
    assert await notes(world, world.ws.token("alice")) == (2, ["CONTENT_HIDDEN", "STATUS_CHANGED"])

    assert (await moderate(world, "moderator", idea, "RESTORE"))["userErrors"] == []
    assert await notes(world, fay) == (1, ["STATUS_CHANGED"])
    marked = await world.api(MARK, {"input": {"ids": None}}, auth=fay)
    assert marked["data"]["markNotificationsRead"]["unreadCount"] == 0
    assert await notes(world, fay) == (0, [])
