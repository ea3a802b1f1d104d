"""unmergeIdea (issue 13, item 7): a wrong merge is undone exactly, in one step, whatever happened since."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ideaengine.platform.models import Comparison
from schema.relay import encode_id
from tests.api.conftest import Api, Workspace
from tests.api.ops import compare, pk, vote
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

MERGE = """mutation($input: MergeIdeasInput!) { mergeIdeas(input: $input) { userErrors { field code } } }"""
UNMERGE = """mutation($input: UnmergeIdeaInput!) { unmergeIdea(input: $input) {
  source { title status mergedInto { id } votes { up down } followerCount }
  target { title votes { up down } } userErrors { field code } } }"""
STATE = """query($id: ID!) { idea(id: $id) {
  title status mergedInto { id } votes { up down } followerCount
  comments { totalCount edges { node { body author { name } } } } } }"""
VIEWER = """query($id: ID!) { idea(id: $id) { viewerVote viewerFollows } }"""


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def state(world: World, idea: str) -> dict[str, Any]:
    found: dict[str, Any] = (await world.api(STATE, {"id": idea}, auth=world.ws.api_key))["data"]["idea"]
    return found


async def merge(world: World, source: str, target: str) -> None:
    assert await mutate(world, "admin", MERGE, {"sourceId": source, "targetId": target}) == {"userErrors": []}


async def say(world: World, token: str, idea: str, body: str) -> None:
    body_ = await world.api(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }",
        {"i": {"ideaId": idea, "body": body}},
        auth=token,
    )
    assert body_["data"]["addComment"]["userErrors"] == []


async def follow(world: World, token: str, idea: str) -> None:
    body = await world.api(
        "mutation($i: FollowIdeaInput!) { followIdea(input: $i) { userErrors { code } } }",
        {"i": {"ideaId": idea, "follow": True}},
        auth=token,
    )
    assert body["data"]["followIdea"]["userErrors"] == []


async def comparisons(world: World) -> set[tuple[int, int, int]]:
    """Every verdict as (voter, winner, loser)."""
    async with world.services.db.read() as session:
        rows = (await session.execute(select(Comparison))).scalars()
        return {(c.voter_id, c.winner_id, c.loser_id) for c in rows}


async def viewer(world: World, token: str, *ideas: str) -> list[dict[str, Any]]:
    return [(await world.api(VIEWER, {"id": i}, auth=token))["data"]["idea"] for i in ideas]


async def test_unmerge_restores_exactly_what_the_merge_moved_and_keeps_what_came_since(world: World) -> None:
    ws = world.ws
    source = await world.idea("Night theme")  # by alice, who follows it
    target = await world.idea("Dark mode")
    other = await world.idea("Offline mode")
    bob, carol, dave, erin = (ws.token(n) for n in ("bob", "carol", "dave", "erin"))
    assert (await vote(world.api, bob, source, "UP"))["userErrors"] == []
    assert (await vote(world.api, carol, source, "DOWN"))["userErrors"] == []  # carol votes on both:
    assert (await vote(world.api, carol, target, "UP"))["userErrors"] == []  # the merge keeps her target vote
    assert (await vote(world.api, dave, target, "UP"))["userErrors"] == []
    await follow(world, bob, source)
    await follow(world, carol, source)
    await follow(world, carol, target)  # follows both: the merge drops one
    await say(world, bob, source, "Yes, at night")
    await say(world, carol, target, "Dark everywhere")
    for token, winner, loser in (
        (bob, source, other),  # moves to target
        (bob, source, target),  # would pit target against itself: dropped
        (carol, source, other),  # carol judged target vs other too: dropped
        (carol, other, target),
    ):
        assert (await compare(world.api, token, winner, loser))["userErrors"] == []
    before = {i: await state(world, i) for i in (source, target, other)}
    before_verdicts = await comparisons(world)
    before_views = await viewer(world, carol, source, target)

    await merge(world, source, target)
    merged = await state(world, target)
    # bob's vote moved, carol's DOWN on the source was dropped for her UP on the target; alice (who wrote
    # both) and carol followed both, bob's follow moved, dave follows the target by his UP vote.
    assert (merged["votes"], merged["followerCount"], merged["comments"]["totalCount"]) == ({"up": 3, "down": 0}, 4, 2)
    # Since the merge: erin votes on and comments on the target.
    assert (await vote(world.api, erin, target, "UP"))["userErrors"] == []
    await say(world, erin, target, "Please ship it")

    payload = await mutate(world, "moderator", UNMERGE, {"ideaId": source})
    assert payload == {
        "source": {
            "title": "Night theme",
            "status": "SUBMITTED",
            "mergedInto": None,
            "votes": {"up": 1, "down": 1},
            "followerCount": before[source]["followerCount"],
        },
        "target": {"title": "Dark mode", "votes": {"up": 3, "down": 0}},  # carol, dave, erin
        "userErrors": [],
    }
    assert await state(world, source) == before[source]
    assert await state(world, other) == before[other]
    expected_target = before[target]
    expected_target["votes"] = {"up": 3, "down": 0}
    expected_target["followerCount"] = before[target]["followerCount"] + 1  # erin's UP vote followed it
    expected_target["comments"] = {
        "totalCount": 2,
        "edges": [
            *before[target]["comments"]["edges"],
            {"node": {"body": "Please ship it", "author": {"name": "Erin"}}},
        ],
    }
    assert await state(world, target) == expected_target
    assert await comparisons(world) == before_verdicts
    assert await viewer(world, carol, source, target) == before_views
    history = await world.api(
        "query($id: ID!) { idea(id: $id) { statusHistory { from to note } } }", {"id": source}, auth=None
    )
    assert history["data"]["idea"]["statusHistory"] == [
        {"from": None, "to": "SUBMITTED", "note": None},
        {"from": "SUBMITTED", "to": "MERGED", "note": "Merged into “Dark mode”."},
        {"from": "MERGED", "to": "SUBMITTED", "note": "Unmerged from “Dark mode”."},
    ]


async def test_an_unmerged_idea_gets_its_own_status_back_and_can_be_merged_again(world: World) -> None:
    source = await world.idea("Night theme")
    target = await world.idea("Dark mode")
    await world.api(
        "mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) { userErrors { code } } }",
        {"i": {"ideaId": source, "status": "UNDER_REVIEW"}},
        auth=world.ws.api_key,
    )
    assert (await vote(world.api, world.ws.token("bob"), source, "UP"))["userErrors"] == []
    for _ in range(2):
        await merge(world, source, target)
        assert (await state(world, target))["votes"] == {"up": 1, "down": 0}
        payload = await mutate(world, "admin", UNMERGE, {"ideaId": source})
        assert payload["userErrors"] == []
        assert (payload["source"]["status"], payload["source"]["votes"]) == ("UNDER_REVIEW", {"up": 1, "down": 0})
        assert (await state(world, target))["votes"] == {"up": 0, "down": 0}


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_unmerges"),
        pytest.param("author", FORBIDDEN, id="author_unmerges"),
        pytest.param("member", FORBIDDEN, id="member_unmerges"),
        pytest.param("moderator", ALLOWED, id="moderator_unmerges"),
        pytest.param("admin", ALLOWED, id="admin_unmerges"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_unmerges"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_unmerges"),
    ],
)
async def test_unmerging(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    source = await world.idea("Night theme")
    target = await world.idea("Dark mode")
    assert (await vote(world.api, world.ws.token("bob"), source, "UP"))["userErrors"] == []
    await merge(world, source, target)
    merged = {i: await state(world, i) for i in (source, target)}
    payload = await mutate(world, actor, UNMERGE, {"ideaId": source})
    if refusal is ALLOWED:
        assert payload["userErrors"] == []
        assert ((await state(world, source))["status"], (await state(world, source))["votes"]) == (
            "SUBMITTED",
            {"up": 1, "down": 0},
        )
    else:
        assert payload == {"source": None, "target": None, "userErrors": [refusal]}
        assert {i: await state(world, i) for i in (source, target)} == merged


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("never_merged", {"field": ["input", "ideaId"], "code": "INVALID"}, id="never_merged"),
        pytest.param("twice", {"field": ["input", "ideaId"], "code": "INVALID"}, id="unmerged_twice"),
        pytest.param("target_merged", {"field": ["input", "ideaId"], "code": "INVALID"}, id="target_merged_since"),
        pytest.param("archived", {"field": ["input", "ideaId"], "code": "BOARD_ARCHIVED"}, id="archived_board"),
        pytest.param("unknown", {"field": ["input", "ideaId"], "code": "NOT_FOUND"}, id="unknown_idea"),
        pytest.param("a_comment_id", {"field": ["input", "ideaId"], "code": "INVALID"}, id="not_an_idea_id"),
    ],
)
async def test_bad_unmerges_are_user_errors_and_change_nothing(
    world: World, case: str, expected: dict[str, Any]
) -> None:
    source = await world.idea("Night theme")
    target = await world.idea("Dark mode")
    third = await world.idea("Black theme")
    assert (await vote(world.api, world.ws.token("bob"), source, "UP"))["userErrors"] == []
    asked = source
    if case != "never_merged":
        await merge(world, source, target)
    if case == "twice":
        assert (await mutate(world, "admin", UNMERGE, {"ideaId": source}))["userErrors"] == []
    elif case == "target_merged":
        await merge(world, target, third)
    elif case == "archived":
        archive = "mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { code } } }"
        await world.api(archive, {"i": {"boardId": await world.board(), "archived": True}}, auth=world.ws.api_key)
    elif case == "unknown":
        asked = str(encode_id("Idea", pk(source) + 1000))
    elif case == "a_comment_id":
        asked = str(encode_id("Comment", pk(source)))
    before = {i: await state(world, i) for i in (source, target, third)}
    verdicts = await comparisons(world)
    payload = await mutate(world, "admin", UNMERGE, {"ideaId": asked})
    assert payload == {"source": None, "target": None, "userErrors": [expected]}
    assert {i: await state(world, i) for i in (source, target, third)} == before
    assert await comparisons(world) == verdicts
