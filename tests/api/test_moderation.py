"""Moderation: reports that hide content, the moderators' queue and decisions, pre-moderation per board.

Hidden and pending content must appear in no list, count, matchup or notification of anyone but moderators,
admins and its author; every refusal is checked to have changed nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from ideaengine.platform.models import WebhookDelivery
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, compare, drain, idea, vote
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

REPORT = (
    """mutation($input: ReportContentInput!) { reportContent(input: $input) { userErrors { field code message } } }"""
)
MODERATE = """mutation($input: ModerateContentInput!) { moderateContent(input: $input) {
  subject { __typename ... on Idea { id moderationState } ... on Comment { id moderationState } }
  userErrors { field code message } } }"""
UPDATE = """mutation($input: UpdateBoardInput!) { updateBoard(input: $input) {
  board { requiresApproval reportThreshold } userErrors { field code } } }"""
QUEUE = """query($slug: String!, $states: [ModerationState!]) { board(workspace: "acme", slug: $slug) {
  moderationQueue(states: $states) { totalCount edges { node {
    subject { __typename ... on Idea { id title } ... on Comment { id body } }
    state reportCount reports { reason note }
    decisions { action from to reason moderator { name } } } } } } }"""
BOARD_IDEAS = """query($slug: String!) { board(workspace: "acme", slug: $slug) {
  ideas(first: 50) { totalCount edges { node { id moderationState } } } tags } }"""
MATCHUP = "query($b: ID!) { pairwiseMatchup(boardId: $b) { left { id } right { id } } }"
IDEA = "query($id: ID!) { idea(id: $id) { id moderationState comments { totalCount edges { node { id } } } } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
NOTIFICATIONS = (
    "{ viewer { unreadNotificationCount notifications { edges { node { kind message "
    "idea { id title moderationState } } } } } }"
)
REPORTERS = ["bob", "carol", "dave"]
SCORES = "score { stale comparisons bradleyTerry }"


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def report(world: World, auth: str | None, subject: str, reason: str = "SPAM", note: str | None = None) -> Any:
    body = await world.api(REPORT, {"input": {"subjectId": subject, "reason": reason, "note": note}}, auth=auth)
    return body["data"]["reportContent"]["userErrors"]


async def moderate(world: World, actor: str, subject: str, action: str, reason: str | None = None) -> dict[str, Any]:
    return await mutate(world, actor, MODERATE, {"subjectId": subject, "action": action, "reason": reason})


async def queue(world: World, slug: str = "public", states: list[str] | None = None) -> dict[str, Any]:
    body = await world.api(QUEUE, {"slug": slug, "states": states}, auth=world.ws.api_key)
    found: dict[str, Any] = body["data"]["board"]["moderationQueue"]
    return found


async def read_idea(world: World, auth: str | None, idea_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await world.api(IDEA, {"id": idea_id}, auth=auth))["data"]["idea"]
    return found


async def listed(world: World, auth: str | None, slug: str = "public") -> tuple[int, list[str]]:
    board = (await world.api(BOARD_IDEAS, {"slug": slug}, auth=auth))["data"]["board"]
    ideas = board["ideas"]
    return ideas["totalCount"], [e["node"]["id"] for e in ideas["edges"]]


async def matchup(world: World) -> Any:
    return (await world.api(MATCHUP, {"b": await world.board()}, auth=world.ws.token("erin")))["data"][
        "pairwiseMatchup"
    ]


async def hide_by_reports(world: World, subject: str) -> None:
    for sub in REPORTERS:
        assert await report(world, world.ws.token(sub), subject) == []


# Reports -------------------------------------------------------------------------------------------------------


REPORT_CELLS = [
    pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_reports"),
    pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_reports"),
    pytest.param("member", ALLOWED, id="member_reports_others_idea"),
    pytest.param("moderator", ALLOWED, id="moderator_reports"),
    pytest.param("admin", ALLOWED, id="admin_reports"),
    pytest.param("author", {"field": ["input", "subjectId"], "code": "INVALID"}, id="author_reports_own_idea"),
]


@pytest.mark.parametrize(("actor", "outcome"), REPORT_CELLS)
async def test_report_permissions(world: World, actor: str, outcome: dict[str, Any] | None) -> None:
    idea = await world.idea()
    errors = await report(world, await world.auth(actor), idea)
    assert [{"field": e["field"], "code": e["code"]} for e in errors] == ([] if outcome is None else [outcome])
    items = (await queue(world))["edges"]
    if outcome is None:
        assert [(i["node"]["reportCount"], i["node"]["state"]) for i in items] == [(1, "VISIBLE")]
    else:
        assert items == []  # the refusal wrote nothing


async def test_reports_from_three_members_hide_an_idea_from_all_but_moderators_and_its_authors_notification(
    world: World,
) -> None:
    hidden = await world.idea("Dark mode", tags=["ui"])
    kept = await world.idea("Export to CSV")
    member = world.ws.token("erin")
    assert (await listed(world, None))[0] == 2
    assert (await vote(world.api, member, hidden, "UP"))["userErrors"] == []  # erin follows it
    assert (await change_status(world.api, world.ws.api_key, hidden, "UNDER_REVIEW"))["userErrors"] == []
    assert (await world.api(NOTIFICATIONS, auth=member))["data"]["viewer"]["unreadNotificationCount"] == 1
    await report(world, world.ws.token("bob"), hidden, "ABUSE", "Rude words")
    await report(world, world.ws.token("carol"), hidden)
    assert (await read_idea(world, None, hidden)) is not None  # two reports: still visible
    await report(world, world.ws.token("dave"), hidden)

    # HIDDEN is taken down for everyone but moderators and admins, its author included (the contract's rule).
    # An earlier notification about it leaves the follower's list and badge alike.
    assert (await world.api(NOTIFICATIONS, auth=member))["data"]["viewer"] == {
        "unreadNotificationCount": 0,
        "notifications": {"edges": []},
    }
    for auth in (None, member, world.ws.token("bob"), world.ws.token("alice")):
        assert await listed(world, auth) == (1, [kept])
        assert await read_idea(world, auth, hidden) is None
        assert (await world.api(NODE, {"id": hidden}, auth=auth))["data"]["node"] is None
    board = (await world.api(BOARD_IDEAS, {"slug": "public"}))["data"]["board"]
    assert board["tags"] == []  # the hidden idea's tag is gone from the board's tags
    assert await matchup(world) is None  # one visible idea: no pair to offer
    for auth in (world.ws.api_key, world.ws.token("mona", role="moderator")):
        assert await read_idea(world, auth, hidden) == {
            "id": hidden,
            "moderationState": "HIDDEN",
            "comments": {"totalCount": 0, "edges": []},
        }
    assert (await listed(world, world.ws.api_key))[0] == 2

    # Its author is told, and reads what was taken down in that notification only.
    notes = (await world.api(NOTIFICATIONS, auth=world.ws.token("alice")))["data"]["viewer"]
    assert notes["unreadNotificationCount"] == 2  # with the status change before
    told, earlier = notes["notifications"]["edges"]
    assert told["node"] == {
        "kind": "CONTENT_HIDDEN",
        "message": "Your idea on “Dark mode” was hidden after reports from members.",
        "idea": {"id": hidden, "title": "Dark mode", "moderationState": "HIDDEN"},
    }
    assert earlier["node"]["kind"] == "STATUS_CHANGED"
    assert (await queue(world))["edges"] == [
        {
            "node": {
                "subject": {"__typename": "Idea", "id": hidden, "title": "Dark mode"},
                "state": "HIDDEN",
                "reportCount": 3,
                "reports": [
                    {"reason": "SPAM", "note": None},
                    {"reason": "SPAM", "note": None},
                    {"reason": "ABUSE", "note": "Rude words"},
                ],
                "decisions": [
                    {
                        "action": "HIDE",
                        "from": "VISIBLE",
                        "to": "HIDDEN",
                        "reason": "Hidden automatically: reported by 3 people.",
                        "moderator": None,
                    }
                ],
            }
        }
    ]


async def test_hidden_ideas_take_no_votes(world: World) -> None:
    idea = await world.idea()
    await hide_by_reports(world, idea)
    body = await world.api(
        "mutation($i: VoteInput!) { vote(input: $i) { userErrors { field code } } }",
        {"i": {"ideaId": idea, "value": "UP"}},
        auth=world.ws.token("erin"),
    )
    assert body["data"]["vote"]["userErrors"] == [{"field": ["input", "ideaId"], "code": "NOT_FOUND"}]
    assert (await world.state(idea))["followerCount"] == 1


async def test_reporting_the_same_way_twice_is_a_conflict_and_another_reason_replaces_the_report(world: World) -> None:
    idea = await world.idea()
    bob = world.ws.token("bob")
    assert await report(world, bob, idea, "SPAM") == []
    again = await report(world, bob, idea, "SPAM")
    assert [(e["code"], e["field"]) for e in again] == [("CONFLICT", ["input", "subjectId"])]
    assert await report(world, bob, idea, "OFF_TOPIC", "Belongs on the other board") == []
    item = (await queue(world))["edges"][0]["node"]
    assert (item["reportCount"], item["reports"]) == (
        1,
        [{"reason": "OFF_TOPIC", "note": "Belongs on the other board"}],
    )


async def test_the_board_sets_how_many_reports_hide_content(world: World) -> None:
    idea = await world.idea()
    payload = await mutate(world, "admin", UPDATE, {"boardId": await world.board(), "reportThreshold": 1})
    assert payload == {"board": {"requiresApproval": False, "reportThreshold": 1}, "userErrors": []}
    await report(world, world.ws.token("bob"), idea)
    assert await read_idea(world, None, idea) is None


async def test_a_report_threshold_outside_1_to_100_is_refused(world: World) -> None:
    board = await world.board()
    for bad in (0, 101):
        payload = await mutate(world, "admin", UPDATE, {"boardId": board, "reportThreshold": bad})
        assert payload == {"board": None, "userErrors": [{"field": ["input", "reportThreshold"], "code": "INVALID"}]}
    payload = await mutate(world, "admin", UPDATE, {"boardId": board})
    assert payload["board"]["reportThreshold"] == 3


async def test_a_hidden_comment_leaves_its_ideas_comments_for_everyone_but_moderators(world: World) -> None:
    idea = await world.idea()
    comment = await world.comment(idea)  # by bob
    for sub in ("carol", "dave", "erin"):
        assert await report(world, world.ws.token(sub), comment, "ABUSE") == []
    for auth in (None, world.ws.token("alice"), world.ws.token("bob")):  # bob wrote it
        found = await read_idea(world, auth, idea)
        assert found is not None and found["comments"] == {"totalCount": 0, "edges": []}
        assert (await world.api(NODE, {"id": comment}, auth=auth))["data"]["node"] is None
    for auth in (world.ws.api_key, world.ws.token("mona", role="moderator")):
        found = await read_idea(world, auth, idea)
        assert found is not None and found["comments"] == {"totalCount": 1, "edges": [{"node": {"id": comment}}]}
    notes = (await world.api(NOTIFICATIONS, auth=world.ws.token("bob")))["data"]["viewer"]["notifications"]
    assert [n["node"]["message"] for n in notes["edges"]] == [
        "Your comment on “Dark mode” was hidden after reports from members."
    ]


# Decisions -----------------------------------------------------------------------------------------------------


MODERATE_CELLS = [
    pytest.param("anonymous", {"field": ["input", "subjectId"], "code": "UNAUTHENTICATED"}, id="anonymous_hides"),
    pytest.param(
        "other_workspace_admin",
        {"field": ["input", "subjectId"], "code": "UNAUTHENTICATED"},
        id="other_workspace_hides",
    ),
    pytest.param("member", {"field": ["input", "subjectId"], "code": "FORBIDDEN"}, id="member_hides"),
    pytest.param("author", {"field": ["input", "subjectId"], "code": "FORBIDDEN"}, id="author_hides_own_idea"),
    pytest.param("moderator", ALLOWED, id="moderator_hides"),
    pytest.param("admin", ALLOWED, id="admin_hides"),
]


@pytest.mark.parametrize(("actor", "outcome"), MODERATE_CELLS)
async def test_moderate_permissions(world: World, actor: str, outcome: dict[str, Any] | None) -> None:
    idea = await world.idea()
    payload = await moderate(world, actor, idea, "HIDE", "Off topic")
    if outcome is None:
        assert payload == {"subject": {"__typename": "Idea", "id": idea, "moderationState": "HIDDEN"}, "userErrors": []}
        assert await read_idea(world, None, idea) is None
    else:
        assert payload["subject"] is None
        assert [{"field": e["field"], "code": e["code"]} for e in payload["userErrors"]] == [outcome]
        assert (await read_idea(world, world.ws.api_key, idea) or {})["moderationState"] == "VISIBLE"
        assert await world.unread("author") == 0


async def test_a_moderator_restores_hidden_content_and_the_decisions_are_recorded(world: World) -> None:
    idea = await world.idea()
    await hide_by_reports(world, idea)
    payload = await moderate(world, "moderator", idea, "RESTORE", "Reports were a pile-on")
    assert payload["subject"] == {"__typename": "Idea", "id": idea, "moderationState": "VISIBLE"}
    assert (await listed(world, None))[1] == [idea]
    assert (await queue(world))["totalCount"] == 0  # decided: out of the queue
    await report(world, world.ws.token("erin"), idea)  # a later report reopens it, counting only itself
    item = (await queue(world))["edges"][0]["node"]
    assert (item["state"], item["reportCount"]) == ("VISIBLE", 1)
    assert [(d["action"], d["to"], d["reason"], d["moderator"]) for d in item["decisions"]] == [
        ("HIDE", "HIDDEN", "Hidden automatically: reported by 3 people.", None),
        ("RESTORE", "VISIBLE", "Reports were a pile-on", {"name": "Mona"}),
    ]


@pytest.mark.parametrize(
    ("action", "state_before"),
    [
        pytest.param("RESTORE", "VISIBLE", id="restore_visible"),
        pytest.param("APPROVE", "VISIBLE", id="approve_unreported_visible"),
        pytest.param("APPROVE", "HIDDEN", id="approve_hidden"),
        pytest.param("HIDE", "HIDDEN", id="hide_hidden"),
    ],
)
async def test_a_move_the_state_does_not_allow_is_invalid_and_records_nothing(
    world: World, action: str, state_before: str
) -> None:
    idea = await world.idea()
    if state_before == "HIDDEN":
        await moderate(world, "admin", idea, "HIDE")
    payload = await moderate(world, "moderator", idea, action)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "action"], "INVALID")]
    assert (await read_idea(world, world.ws.api_key, idea) or {})["moderationState"] == state_before
    assert (await queue(world))["totalCount"] == 0


async def test_a_subject_that_is_not_an_idea_or_comment_is_invalid(world: World) -> None:
    board = await world.board()
    payload = await moderate(world, "admin", board, "HIDE")
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "subjectId"], "INVALID")]
    errors = await report(world, world.ws.token("bob"), board)
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "subjectId"], "INVALID")]


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_reads_queue"),
        pytest.param("member", "FORBIDDEN", id="member_reads_queue"),
        pytest.param("other_workspace_admin", "UNAUTHENTICATED", id="other_workspace_reads_queue"),
    ],
)
async def test_only_moderators_read_the_queue(world: World, actor: str, code: str) -> None:
    await world.board()
    body = await world.api(QUEUE, {"slug": "public"}, auth=await world.auth(actor), expect_errors=True)
    assert body["data"]["board"]["moderationQueue"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


async def test_the_queue_lists_the_most_reported_first_and_filters_by_state(world: World) -> None:
    once = await world.idea("Dark mode")
    twice = await world.idea("Export to CSV")
    await report(world, world.ws.token("bob"), once)
    for sub in ("bob", "carol"):
        await report(world, world.ws.token(sub), twice)
    hidden = await world.idea("Offline mode")
    await hide_by_reports(world, hidden)
    items = (await queue(world))["edges"]
    assert [(i["node"]["subject"]["id"], i["node"]["reportCount"]) for i in items] == [
        (hidden, 3),
        (twice, 2),
        (once, 1),
    ]
    only_hidden = (await queue(world, states=["HIDDEN"]))["edges"]
    assert [i["node"]["subject"]["id"] for i in only_hidden] == [hidden]


# Pre-moderation ------------------------------------------------------------------------------------------------


UPDATE_CELLS = [
    pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_requires_approval"),
    pytest.param("member", FORBIDDEN, id="member_requires_approval"),
    pytest.param("moderator", FORBIDDEN, id="moderator_requires_approval"),
    pytest.param("admin", ALLOWED, id="admin_requires_approval"),
]


@pytest.mark.parametrize(("actor", "outcome"), UPDATE_CELLS)
async def test_only_admins_turn_on_pre_moderation(world: World, actor: str, outcome: dict[str, Any] | None) -> None:
    board = await world.board()
    payload = await mutate(world, actor, UPDATE, {"boardId": board, "requiresApproval": True})
    if outcome is None:
        assert payload == {"board": {"requiresApproval": True, "reportThreshold": 3}, "userErrors": []}
    else:
        assert payload == {"board": None, "userErrors": [outcome]}
        read = await world.api(
            '{ board(workspace: "acme", slug: "public") { requiresApproval } }', auth=world.ws.api_key
        )
        assert read["data"]["board"] == {"requiresApproval": False}


async def deliveries(world: World) -> int:
    async with world.services.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar_one())


async def test_with_approval_required_ideas_wait_pending_and_approval_announces_them(world: World) -> None:
    board = await world.board()
    await mutate(world, "admin", UPDATE, {"boardId": board, "requiresApproval": True})
    hook = await world.api(
        """mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { userErrors { code } } }""",
        {"i": {"url": "https://93.184.215.14/hooks", "events": ["IDEA_SUBMITTED"]}},
        auth=world.ws.api_key,
    )
    assert hook["data"]["createWebhook"]["userErrors"] == []
    first = await world.idea("Dark mode")
    second = await world.idea("Export to CSV")
    assert (await read_idea(world, world.ws.token("alice"), first) or {})["moderationState"] == "PENDING"
    for auth in (None, world.ws.token("bob")):
        assert await listed(world, auth) == (0, [])
        assert await read_idea(world, auth, first) is None
    assert await matchup(world) is None
    assert await deliveries(world) == 0
    pending = (await queue(world, states=["PENDING"]))["edges"]
    assert [(i["node"]["subject"]["id"], i["node"]["reportCount"]) for i in pending] == [(first, 0), (second, 0)]

    payload = await moderate(world, "moderator", first, "APPROVE")
    assert payload["subject"] == {"__typename": "Idea", "id": first, "moderationState": "VISIBLE"}
    assert await listed(world, None) == (1, [first])
    assert await deliveries(world) == 1
    assert [i["node"]["subject"]["id"] for i in (await queue(world))["edges"]] == [second]


async def test_with_approval_required_comments_wait_but_moderators_publish_at_once(world: World) -> None:
    idea = await world.idea()
    await mutate(world, "admin", UPDATE, {"boardId": await world.board(), "requiresApproval": True})
    comment = await world.comment(idea)  # bob, a member
    found = await read_idea(world, None, idea)
    assert found is not None and found["comments"]["totalCount"] == 0
    mona = await world.api(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id moderationState } } }",
        {"i": {"ideaId": idea, "body": "Thanks, noted."}},
        auth=world.ws.token("mona", role="moderator"),
    )
    assert mona["data"]["addComment"]["comment"]["moderationState"] == "VISIBLE"
    await moderate(world, "admin", comment, "APPROVE")
    found = await read_idea(world, None, idea)
    assert found is not None and found["comments"]["totalCount"] == 2


SIMILAR_TO_TEXT = "query($b: ID!, $t: String!) { similarIdeas(boardId: $b, text: $t) { idea { id } } }"
SIMILAR_TO_IDEA = "query($id: ID!) { idea(id: $id) { similar { idea { id } } } }"


async def test_a_hidden_idea_is_offered_as_similar_to_no_one_but_moderators(world: World) -> None:
    """ "Did you mean" and `Idea.similar` read the duplicate index, which holds every idea: hiding one must take
    it out of both for readers, as it leaves lists and counts."""
    from tests.conftest import in_process

    shown = await world.idea("Oat milk in every store")
    hidden = await world.idea("Oat milk in every single store")
    await in_process(world.services).drain()  # the board's duplicate index now holds both
    board = await world.board()
    assert (await moderate(world, "moderator", hidden, "HIDE"))["userErrors"] == []

    for actor in ("anonymous", "member", "moderator"):
        auth = await world.auth(actor)
        drafted = await world.api(SIMILAR_TO_TEXT, {"b": board, "t": "Oat milk in every store"}, auth=auth)
        offered = {f["idea"]["id"] for f in drafted["data"]["similarIdeas"]}
        similar = (await world.api(SIMILAR_TO_IDEA, {"id": shown}, auth=auth))["data"]["idea"]["similar"]
        expected = actor == "moderator"
        assert (hidden in offered, hidden in {f["idea"]["id"] for f in similar}) == (expected, expected), actor


async def test_a_hidden_idea_leaves_its_place_among_the_similar_to_the_next(world: World) -> None:
    """A draft's `first` suggestions, and an idea's `similar`, are the best ones the reader may see: a hidden idea
    closer than the others does not take one of the places and leave it empty."""
    from tests.conftest import in_process

    shown = await world.idea("Oat milk in every store")
    hidden = await world.idea("Oat milk in every single store")
    third = await world.idea("More oat milk in the stores")
    await in_process(world.services).drain()
    board = await world.board()
    assert (await moderate(world, "moderator", hidden, "HIDE"))["userErrors"] == []
    draft = "query($b: ID!, $t: String!) { similarIdeas(boardId: $b, text: $t, first: 1) { idea { id } } }"
    similar = "query($id: ID!) { idea(id: $id) { similar(first: 1) { idea { id } } } }"
    for actor, drafted_first, similar_first in (
        ("anonymous", shown, third),
        ("member", shown, third),
        ("moderator", hidden, hidden),
    ):
        auth = await world.auth(actor)
        drafted = await world.api(draft, {"b": board, "t": "Oat milk in every single store"}, auth=auth)
        assert [f["idea"]["id"] for f in drafted["data"]["similarIdeas"]] == [drafted_first], actor
        near = (await world.api(similar, {"id": shown}, auth=auth))["data"]["idea"]["similar"]
        assert [f["idea"]["id"] for f in near] == [similar_first], actor


async def test_a_wave_of_hidden_ideas_alike_leaves_no_place_empty(world: World) -> None:
    """More hidden ideas than the first lookup makes room for (a spam wave, alike to one another) rank above
    the ideas readers may see: the lookup widens until it has the `first` they may see, the same ones, in the
    same order, as a moderator's longer list without the hidden ones."""
    from ideaengine.duplicates import UNSEEN_ROOM
    from tests.conftest import in_process

    asked = await world.idea("Oat milk in every single store")
    shown = {asked, await world.idea("Oat milk in every store"), await world.idea("More oat milk in the stores")}
    words = ("now", "today", "soon", "here", "again", "too", "also", "everywhere", "tonight", "daily")
    hidden = {await world.idea(f"Oat milk in every single store {word}") for word in words}
    assert len(hidden) > UNSEEN_ROOM + 2  # more than the first lookup's room, the idea itself and `first`
    await in_process(world.services).drain()
    board = await world.board()
    for spam in hidden:
        assert (await moderate(world, "moderator", spam, "HIDE"))["userErrors"] == []
    draft = "query($b: ID!, $t: String!, $n: Int!) { similarIdeas(boardId: $b, text: $t, first: $n) { idea { id } } }"
    similar = "query($id: ID!, $n: Int!) { idea(id: $id) { similar(first: $n) { idea { id } } } }"

    async def lookups(actor: str, first: int) -> tuple[list[str], list[str]]:
        auth = await world.auth(actor)
        text = {"b": board, "t": "Oat milk in every single store", "n": first}
        offered = (await world.api(draft, text, auth=auth))["data"]["similarIdeas"]
        near = (await world.api(similar, {"id": asked, "n": first}, auth=auth))["data"]["idea"]["similar"]
        return [f["idea"]["id"] for f in offered], [f["idea"]["id"] for f in near]

    everything, everything_near = await lookups("moderator", 20)
    offered = [i for i in everything if i in shown]
    near = [i for i in everything_near if i in shown]
    # The wave ranks above the second place readers get, beyond the first lookup's room (the idea itself too).
    assert everything.index(offered[1]) >= 2 + 1 + UNSEEN_ROOM, everything
    assert everything_near.index(near[1]) >= 2 + UNSEEN_ROOM, everything_near
    for actor in ("anonymous", "member"):
        assert await lookups(actor, 2) == (offered[:2], near[:2]), actor


async def test_webhooks_tell_nothing_of_hidden_content(world: World) -> None:
    """A host app's channels are as public as the board: a status change, a merge or an official answer
    that names hidden content sends nothing; the same once it is restored does."""
    idea = await world.idea("Dark mode")
    other = await world.idea("Export to CSV")
    hook = await world.api(
        """mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { userErrors { code } } }""",
        {
            "i": {
                "url": "https://93.184.215.14/hooks",
                "events": ["IDEA_STATUS_CHANGED", "IDEA_MERGED", "COMMENT_OFFICIAL"],
            }
        },
        auth=world.ws.api_key,
    )
    assert hook["data"]["createWebhook"]["userErrors"] == []
    assert (await moderate(world, "moderator", idea, "HIDE"))["userErrors"] == []
    status = "mutation($input: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $input) { userErrors { code } } }"
    official = "mutation($input: AddCommentInput!) { addComment(input: $input) { userErrors { code } } }"
    merge = "mutation($input: MergeIdeasInput!) { mergeIdeas(input: $input) { userErrors { code } } }"
    assert (await mutate(world, "moderator", status, {"ideaId": idea, "status": "UNDER_REVIEW"}))["userErrors"] == []
    answer = {"ideaId": idea, "body": "We are looking at it.", "official": True}
    assert (await mutate(world, "moderator", official, answer))["userErrors"] == []
    assert (await mutate(world, "moderator", merge, {"sourceId": other, "targetId": idea}))["userErrors"] == []
    assert await deliveries(world) == 0

    assert (await moderate(world, "moderator", idea, "RESTORE"))["userErrors"] == []
    assert (await mutate(world, "moderator", status, {"ideaId": idea, "status": "PLANNED"}))["userErrors"] == []
    assert (await mutate(world, "moderator", official, answer))["userErrors"] == []
    assert await deliveries(world) == 2


async def test_comparisons_with_a_hidden_idea_leave_the_rankings_until_it_is_restored(world: World) -> None:
    """A spam idea's matchups say nothing about the ideas it met: hidden, they count for no one's score."""
    first, second, spam = [await world.idea(t) for t in ("Dark mode", "Export to CSV", "Buy cheap watches")]
    for voter in ("bob", "carol"):
        for winner, loser in ((spam, first), (spam, second), (second, first)):
            assert (await compare(world.api, world.ws.token(voter), winner, loser))["userErrors"] == []

    async def figures() -> dict[str, tuple[int, float]]:
        await drain(world.services)
        found = {}
        for name, target in (("first", first), ("second", second)):
            score = (await idea(world.api, world.ws.api_key, target, SCORES))["score"]
            assert score["stale"] is False
            found[name] = (score["comparisons"], score["bradleyTerry"])
        return found

    counted = await figures()
    assert (counted["first"][0], counted["second"][0]) == (4, 4)
    assert (await moderate(world, "moderator", spam, "HIDE"))["userErrors"] == []
    hidden = await figures()
    assert (hidden["first"][0], hidden["second"][0]) == (2, 2)  # only their matchups with each other
    assert hidden["second"][1] > hidden["first"][1]
    assert (await moderate(world, "moderator", spam, "RESTORE"))["userErrors"] == []
    assert await figures() == counted
