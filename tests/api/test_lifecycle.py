"""Statuses, merges, follows and notifications, as moderators and followers see them."""

from __future__ import annotations

import pytest

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, compare, create_board, idea, idea_id, submit, vote

NOTIFICATIONS = """{ viewer { unreadNotificationCount notifications(first: 10) { totalCount
    edges { node { id kind message read idea { title } } } } } }"""


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        pytest.param(["UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED"], True, id="the_happy_road"),
        pytest.param(["DECLINED", "UNDER_REVIEW", "PLANNED"], True, id="declined_then_reopened"),
        pytest.param(["PLANNED"], False, id="skipping_review"),
        pytest.param(["UNDER_REVIEW", "SUBMITTED"], False, id="back_to_submitted"),
        pytest.param(["UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED", "DECLINED"], False, id="launched_is_final"),
        pytest.param(["DECLINED", "PLANNED"], False, id="reopen_skips_review"),
        pytest.param(["MERGED"], False, id="merged_only_through_merge"),
        pytest.param(["UNDER_REVIEW", "UNDER_REVIEW"], False, id="same_status_again"),
    ],
)
async def test_transitions(api: Api, ws: Workspace, board: str, path: list[str], ok: bool) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    results = [await change_status(api, ws.api_key, target, step) for step in path]
    *before, last = results
    assert all(r["userErrors"] == [] for r in before)
    if ok:
        assert last["userErrors"] == [] and last["idea"]["status"] == path[-1]
    else:
        assert last["idea"] is None
        assert [(e["code"], e["field"]) for e in last["userErrors"]] == [("INVALID_TRANSITION", ["input", "status"])]
        assert (await idea(api, None, target))["status"] == (path[-2] if len(path) > 1 else "SUBMITTED")


async def test_every_change_is_recorded_with_note_and_actor(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    mod = ws.token("mia", role="moderator", name="Mia")
    await change_status(api, mod, target, "UNDER_REVIEW", "Looking into suppliers")
    payload = await change_status(api, mod, target, "DECLINED", "  Not this year  ")
    assert payload["idea"]["statusHistory"] == [
        {"from": None, "to": "SUBMITTED", "note": None, "actor": {"name": "Alice"}},
        {"from": "SUBMITTED", "to": "UNDER_REVIEW", "note": "Looking into suppliers", "actor": {"name": "Mia"}},
        {"from": "UNDER_REVIEW", "to": "DECLINED", "note": "Not this year", "actor": {"name": "Mia"}},
    ]


async def test_note_too_long_is_invalid(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    payload = await change_status(api, ws.api_key, target, "UNDER_REVIEW", "x" * 5001)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["input", "note"])]
    assert (await idea(api, None, target, "status statusHistory { to }")) == {
        "status": "SUBMITTED",
        "statusHistory": [{"to": "SUBMITTED"}],
    }


async def test_author_follows_and_hears_of_each_status_change(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    assert (await idea(api, alice, target))["viewerFollows"] is True
    await change_status(api, ws.api_key, target, "UNDER_REVIEW", "We are on it")
    body = await api(NOTIFICATIONS, auth=alice)
    viewer = body["data"]["viewer"]
    assert viewer["unreadNotificationCount"] == 1
    [edge] = viewer["notifications"]["edges"]
    assert edge["node"]["kind"] == "STATUS_CHANGED"
    assert edge["node"]["message"] == "“Oat milk in every store” is now under review. We are on it"
    assert edge["node"]["read"] is False


async def test_follow_unfollow_and_follower_count(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    query = """mutation($i: FollowIdeaInput!) { followIdea(input: $i) {
        idea { followerCount viewerFollows } userErrors { code } } }"""
    bob = ws.token("bob")
    for follow, expected in [(True, 2), (True, 2), (False, 1), (False, 1)]:
        body = await api(query, {"i": {"ideaId": target, "follow": follow}}, auth=bob)
        assert body["data"]["followIdea"] == {
            "idea": {"followerCount": expected, "viewerFollows": follow},
            "userErrors": [],
        }


async def test_official_comment_notifies_followers_but_not_its_writer(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    mod = ws.token("mia", role="moderator")
    await api(
        """mutation($i: FollowIdeaInput!) { followIdea(input: $i) { userErrors { code } } }""",
        {"i": {"ideaId": target, "follow": True}},
        auth=mod,
    )
    body = await api(
        """mutation($i: AddCommentInput!) { addComment(input: $i) {
        comment { body official author { name } } userErrors { code } } }""",
        {"i": {"ideaId": target, "body": "Coming in spring!", "official": True}},
        auth=mod,
    )
    assert body["data"]["addComment"]["comment"] == {
        "body": "Coming in spring!",
        "official": True,
        "author": {"name": "Mia"},
    }
    alice_sees = (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["notifications"]
    assert [e["node"]["kind"] for e in alice_sees["edges"]] == ["OFFICIAL_COMMENT"]
    assert (await api(NOTIFICATIONS, auth=mod))["data"]["viewer"]["notifications"]["totalCount"] == 0


async def test_mark_notifications_read_some_then_all(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    for step in ["UNDER_REVIEW", "PLANNED", "IN_PROGRESS"]:
        await change_status(api, ws.api_key, target, step)
    edges = (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["notifications"]["edges"]
    mark = """mutation($i: MarkNotificationsReadInput!) { markNotificationsRead(input: $i) {
        unreadCount userErrors { code field } } }"""
    first = await api(mark, {"i": {"ids": [edges[0]["node"]["id"]]}}, auth=alice)
    assert first["data"]["markNotificationsRead"] == {"unreadCount": 2, "userErrors": []}
    unread = await api("{ viewer { notifications(unreadOnly: true) { totalCount } } }", auth=alice)
    assert unread["data"]["viewer"]["notifications"]["totalCount"] == 2
    everything = await api(mark, {"i": {"ids": None}}, auth=alice)
    assert everything["data"]["markNotificationsRead"] == {"unreadCount": 0, "userErrors": []}


async def test_someone_elses_notification_ids_are_ignored(api: Api, ws: Workspace, board: str) -> None:
    alice, bob = ws.token("alice"), ws.token("bob")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    await change_status(api, ws.api_key, target, "UNDER_REVIEW")
    alice_note = (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["notifications"]["edges"][0]["node"]["id"]
    mark = """mutation($i: MarkNotificationsReadInput!) { markNotificationsRead(input: $i) { unreadCount } }"""
    await api(mark, {"i": {"ids": [alice_note]}}, auth=bob)
    assert (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["unreadNotificationCount"] == 1
    assert (await api("query($id: ID!) { node(id: $id) { id } }", {"id": alice_note}, auth=bob))["data"] == {
        "node": None
    }


MERGE = """mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) {
    source { status mergedInto { id } votes { up down } } target { id votes { up down } followerCount }
    userErrors { code field } } }"""


async def test_merge_moves_votes_once_per_user_comments_and_followers(api: Api, ws: Workspace, board: str) -> None:
    alice, bob, carol, dan = (ws.token(n) for n in ("alice", "bob", "carol", "dan"))
    source = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    target = await idea_id(api, bob, board, "Oat milk in every store")
    await vote(api, carol, source, "UP")  # moves to target
    await vote(api, dan, source, "UP")  # dan voted DOWN on target already: the target vote wins
    await vote(api, dan, target, "DOWN")
    await vote(api, bob, source, "UP")  # bob (target author) voted on both: keeps target's UP
    await vote(api, bob, target, "UP")
    await api(
        """mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }""",
        {"i": {"ideaId": source, "body": "Yes please"}},
        auth=carol,
    )
    body = await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key)
    payload = body["data"]["mergeIdeas"]
    assert payload["userErrors"] == []
    assert payload["source"] == {"status": "MERGED", "mergedInto": {"id": target}, "votes": {"up": 0, "down": 0}}
    assert payload["target"]["votes"] == {"up": 2, "down": 1}  # bob UP, carol UP, dan DOWN
    # alice moved over, bob already there, carol and dan followed the source by voting UP (followOnVote) and moved
    assert payload["target"]["followerCount"] == 4
    merged = await idea(api, alice, target, "viewerFollows comments { totalCount edges { node { body } } }")
    assert merged == {"viewerFollows": True, "comments": {"totalCount": 1, "edges": [{"node": {"body": "Yes please"}}]}}
    kinds = (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["notifications"]["edges"]
    assert [k["node"]["kind"] for k in kinds] == ["MERGED"]


async def test_merge_drops_comparisons_that_would_pit_an_idea_against_itself(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    from sqlalchemy import func, select

    from ideaengine.platform.models import Comparison

    alice, bob = ws.token("alice"), ws.token("bob")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    b = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    c = await idea_id(api, alice, board, "Longer opening hours on Sundays")
    assert (await compare(api, bob, a, b))["userErrors"] == []
    assert (await compare(api, bob, a, c))["userErrors"] == []
    assert (await compare(api, bob, b, c))["userErrors"] == []  # bob judged c against both: one verdict survives
    body = await api(MERGE, {"i": {"sourceId": b, "targetId": a}}, auth=ws.api_key)
    assert body["data"]["mergeIdeas"]["userErrors"] == []
    async with services.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Comparison))).scalar_one() == 1


COMMENT = """mutation($i: AddCommentInput!) { addComment(input: $i) {
    comment { body } userErrors { code field message } } }"""


@pytest.mark.parametrize(
    ("who", "official"),
    [
        pytest.param("member", False, id="member_comments_on_merged_idea"),
        pytest.param("moderator", True, id="moderator_answers_officially_on_merged_idea"),
    ],
)
async def test_a_merged_idea_refuses_comments_as_it_refuses_votes(
    api: Api, ws: Workspace, board: str, who: str, official: bool
) -> None:
    alice = ws.token("alice")
    source = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    assert (await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key))["data"]["mergeIdeas"][
        "userErrors"
    ] == []
    auth = ws.token("bob") if who == "member" else ws.token("mia", role="moderator")

    body = await api(COMMENT, {"i": {"ideaId": source, "body": "Me too", "official": official}}, auth=auth)
    refused_vote = await vote(api, auth, source, "UP")

    assert body["data"]["addComment"] == {
        "comment": None,
        "userErrors": [
            {
                "code": "INVALID",
                "field": ["input", "ideaId"],
                "message": "This idea was merged into another; comment on the idea it was merged into.",
            }
        ],
    }
    assert [(e["code"], e["field"]) for e in refused_vote["userErrors"]] == [("INVALID", ["input", "ideaId"])]
    for merged_or_target in (source, target):
        assert (await idea(api, None, merged_or_target, "comments { totalCount }")) == {"comments": {"totalCount": 0}}
    assert (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["unreadNotificationCount"] == 1  # the merge


async def test_launched_and_declined_ideas_still_take_comments(api: Api, ws: Workspace, board: str) -> None:
    """Only a merge closes the conversation: people thank the team for a launch, or argue with a decline."""
    launched = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    declined = await idea_id(api, ws.token("alice"), board, "A 24-hour store")
    for step in ("UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED"):
        assert (await change_status(api, ws.api_key, launched, step))["userErrors"] == []
    assert (await change_status(api, ws.api_key, declined, "DECLINED"))["userErrors"] == []
    for target in (launched, declined):
        body = await api(COMMENT, {"i": {"ideaId": target, "body": "Thanks!"}}, auth=ws.token("bob"))
        assert body["data"]["addComment"] == {"comment": {"body": "Thanks!"}, "userErrors": []}


@pytest.mark.parametrize("case", ["into_itself", "into_merged", "already_merged", "across_boards"])
async def test_invalid_merges_are_user_errors_and_change_nothing(
    api: Api, ws: Workspace, board: str, case: str
) -> None:
    alice = ws.token("alice")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    b = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    c = await idea_id(api, alice, board, "Longer opening hours on Sundays")
    await vote(api, ws.token("bob"), b, "UP")
    if case in ("into_merged", "already_merged"):
        await api(MERGE, {"i": {"sourceId": c, "targetId": a}}, auth=ws.api_key)
    source, target, field = {
        "into_itself": (b, b, "targetId"),
        "into_merged": (b, c, "targetId"),
        "already_merged": (c, b, "sourceId"),
        "across_boards": (b, None, "targetId"),
    }[case]
    if target is None:
        other_board = await create_board(api, ws.api_key, slug="other")
        target = (await submit(api, alice, other_board, "Oat milk on the other board"))["idea"]["id"]
    payload = (await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key))["data"]["mergeIdeas"]
    assert payload["source"] is None and payload["target"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["input", field])]
    assert (await idea(api, None, b, "status votes { up }")) == {"status": "SUBMITTED", "votes": {"up": 1}}
