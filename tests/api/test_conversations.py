"""Conversations (issue 15, items 1-3): replies in one-level threads, reactions, @mentions and accepted answers,
with who may do what and the notifications they send."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, UNAUTHENTICATED, World, mutate

ADD = """mutation($input: AddCommentInput!) { addComment(input: $input) {
  comment { id body parent { body } } userErrors { field code } } }"""
REACT = """mutation($input: ReactToCommentInput!) { reactToComment(input: $input) {
  comment { reactions { reaction count viewerReacted } } userErrors { field code } } }"""
ACCEPT = """mutation($input: AcceptAnswerInput!) { acceptAnswer(input: $input) {
  comment { body accepted } userErrors { field code } } }"""
DELETE = """mutation($input: DeleteCommentInput!) { deleteComment(input: $input) { userErrors { field code } } }"""
THREADS = """query($id: ID!) { idea(id: $id) { comments { totalCount edges { node {
  body accepted parent { body } author { name }
  replies { totalCount edges { node { body accepted parent { body } } } } } } } } }"""
NOTIFICATIONS = "{ viewer { notifications { edges { node { kind message } } } } }"
NO_REACTIONS = [
    {"reaction": r, "count": 0, "viewerReacted": False} for r in ("THUMBS_UP", "HEART", "HOORAY", "LAUGH", "CONFUSED")
]


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def add(world: World, actor: str, idea: str, body: str, parent: str | None = None) -> str:
    payload = await mutate(world, actor, ADD, {"ideaId": idea, "body": body, "parentId": parent})
    assert payload["userErrors"] == []
    return str(payload["comment"]["id"])


async def threads(world: World, idea: str, actor: str = "admin") -> list[dict[str, Any]]:
    found = (await world.api(THREADS, {"id": idea}, auth=await world.auth(actor)))["data"]["idea"]["comments"]
    return [e["node"] for e in found["edges"]]


async def notes(world: World, actor: str) -> list[tuple[str, str]]:
    body = await world.api(NOTIFICATIONS, auth=await world.auth(actor))
    return [(e["node"]["kind"], e["node"]["message"]) for e in body["data"]["viewer"]["notifications"]["edges"]]


async def reactions(world: World, idea: str, actor: str) -> list[dict[str, Any]]:
    query = """query($id: ID!) { idea(id: $id) { comments { edges { node {
      reactions { reaction count viewerReacted } } } } } }"""
    edges = (await world.api(query, {"id": idea}, auth=await world.auth(actor)))["data"]["idea"]["comments"]["edges"]
    found: list[dict[str, Any]] = edges[0]["node"]["reactions"]
    return found


# Threads -------------------------------------------------------------------------------------------------------


async def test_a_reply_to_a_reply_joins_the_thread_and_each_answered_writer_hears_of_it(world: World) -> None:
    idea = await world.idea()
    top = await add(world, "member", idea, "Does it cover the editor?")
    reply = await add(world, "author", idea, "Yes, the editor too.", parent=top)
    payload = await mutate(world, "moderator", ADD, {"ideaId": idea, "body": "Confirmed.", "parentId": reply})
    assert payload == {
        "comment": {
            "id": payload["comment"]["id"],
            "body": "Confirmed.",
            "parent": {"body": "Does it cover the editor?"},
        },
        "userErrors": [],
    }
    await add(world, "author", idea, "Anything else?")

    assert await threads(world, idea) == [
        {
            "body": "Does it cover the editor?",
            "accepted": False,
            "parent": None,
            "author": {"name": "Bob"},
            "replies": {
                "totalCount": 2,
                "edges": [
                    {
                        "node": {
                            "body": "Yes, the editor too.",
                            "accepted": False,
                            "parent": {"body": "Does it cover the editor?"},
                        }
                    },
                    {
                        "node": {
                            "body": "Confirmed.",
                            "accepted": False,
                            "parent": {"body": "Does it cover the editor?"},
                        }
                    },
                ],
            },
        },
        {
            "body": "Anything else?",
            "accepted": False,
            "parent": None,
            "author": {"name": "Alice"},
            "replies": {"totalCount": 0, "edges": []},
        },
    ]
    assert await notes(world, "member") == [("REPLY", "Alice replied to your comment on “Dark mode”.")]
    assert await notes(world, "author") == [("REPLY", "Mona replied to your comment on “Dark mode”.")]
    assert await notes(world, "moderator") == []  # nobody answered Mona; nobody is told of their own reply


async def test_replying_to_ones_own_comment_notifies_nobody(world: World) -> None:
    idea = await world.idea()
    top = await add(world, "member", idea, "First thought")
    await add(world, "member", idea, "Second thought", parent=top)
    assert await notes(world, "member") == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            "other_idea", {"field": ["input", "parentId"], "code": "INVALID"}, id="reply_to_comment_of_other_idea"
        ),
        pytest.param("deleted", {"field": ["input", "parentId"], "code": "INVALID"}, id="reply_to_deleted_comment"),
        pytest.param("unknown", {"field": ["input", "parentId"], "code": "NOT_FOUND"}, id="reply_to_unknown_comment"),
        pytest.param("not_a_comment", {"field": ["input", "parentId"], "code": "INVALID"}, id="reply_to_an_idea_id"),
    ],
)
async def test_a_reply_to_a_comment_it_cannot_answer_is_refused_and_writes_nothing(
    world: World, case: str, expected: dict[str, Any]
) -> None:
    idea = await world.idea()
    other = await world.idea("Offline mode")
    if case == "not_a_comment":
        target = other
    else:
        target = await add(world, "member", other if case in ("other_idea", "unknown") else idea, "Over there")
    if case == "deleted":
        await add(world, "author", idea, "Keeps the placeholder")
        assert (await mutate(world, "member", DELETE, {"commentId": target})) == {"userErrors": []}
    if case == "unknown":
        assert (await mutate(world, "admin", DELETE, {"commentId": target})) == {"userErrors": []}
    before = (await threads(world, idea), await threads(world, other), await notes(world, "member"))
    payload = await mutate(world, "author", ADD, {"ideaId": idea, "body": "Answering", "parentId": target})
    assert payload == {"comment": None, "userErrors": [expected]}
    assert (await threads(world, idea), await threads(world, other), await notes(world, "member")) == before


# Reactions -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_reacts"),
        pytest.param("author", ALLOWED, id="member_reacts_to_others_comment"),
        pytest.param("member", ALLOWED, id="member_reacts_to_own_comment"),
        pytest.param("moderator", ALLOWED, id="moderator_reacts"),
        pytest.param("admin", ALLOWED, id="admin_reacts"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_reacts"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_reacts"),
    ],
)
async def test_reacting_to_a_comment(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()
    comment = await world.comment(idea)
    payload = await mutate(world, actor, REACT, {"commentId": comment, "reaction": "HEART", "on": True})
    after = await reactions(world, idea, "anonymous")
    if refusal is ALLOWED:
        mine = [dict(r, count=1, viewerReacted=True) if r["reaction"] == "HEART" else r for r in NO_REACTIONS]
        assert payload == {"comment": {"reactions": mine}, "userErrors": []}
        assert after == [dict(r, viewerReacted=False) for r in mine]
    else:
        assert payload == {"comment": None, "userErrors": [refusal]}
        assert after == NO_REACTIONS


async def test_each_user_reacts_each_way_once_and_can_take_it_back(world: World) -> None:
    idea = await world.idea()
    comment = await world.comment(idea)
    for actor in ("author", "member"):
        assert (await mutate(world, actor, REACT, {"commentId": comment, "reaction": "THUMBS_UP", "on": True}))[
            "userErrors"
        ] == []
    await mutate(world, "author", REACT, {"commentId": comment, "reaction": "HOORAY", "on": True})
    twice = await mutate(world, "author", REACT, {"commentId": comment, "reaction": "THUMBS_UP", "on": True})
    assert twice == {"comment": None, "userErrors": [{"field": ["input", "reaction"], "code": "CONFLICT"}]}
    seen = {r["reaction"]: (r["count"], r["viewerReacted"]) for r in await reactions(world, idea, "author")}
    assert (seen["THUMBS_UP"], seen["HOORAY"], seen["HEART"]) == ((2, True), (1, True), (0, False))
    assert (await reactions(world, idea, "moderator"))[0] == {
        "reaction": "THUMBS_UP",
        "count": 2,
        "viewerReacted": False,
    }

    back = await mutate(world, "author", REACT, {"commentId": comment, "reaction": "THUMBS_UP", "on": False})
    assert back["userErrors"] == [] and back["comment"]["reactions"][0] == {
        "reaction": "THUMBS_UP",
        "count": 1,
        "viewerReacted": False,
    }
    never = await mutate(world, "moderator", REACT, {"commentId": comment, "reaction": "LAUGH", "on": False})
    assert never == {"comment": None, "userErrors": [{"field": ["input", "reaction"], "code": "CONFLICT"}]}
    assert (await reactions(world, idea, "member"))[:4] == [
        {"reaction": "THUMBS_UP", "count": 1, "viewerReacted": True},
        {"reaction": "HEART", "count": 0, "viewerReacted": False},
        {"reaction": "HOORAY", "count": 1, "viewerReacted": False},
        {"reaction": "LAUGH", "count": 0, "viewerReacted": False},
    ]


# Mentions ------------------------------------------------------------------------------------------------------


async def test_a_mention_notifies_each_named_user_who_can_read_the_idea_once(world: World) -> None:
    idea = await world.idea()
    await world.api("{ viewer { role } }", auth=world.ws.token("mona", role="moderator"))  # Mona signs in once
    await world.api("{ viewer { role } }", auth=world.ws.token("bob"))
    top = await add(world, "member", idea, "What do you think?")
    await add(world, "author", idea, "@bob @MONA, and @bob again; not @nobody or email@bob.", parent=top)
    assert await notes(world, "member") == [("REPLY", "Alice replied to your comment on “Dark mode”.")]
    assert await notes(world, "moderator") == [("MENTION", "Alice mentioned you on “Dark mode”.")]
    assert await notes(world, "author") == []


async def test_a_mention_does_not_reach_a_user_who_cannot_read_the_idea(world: World) -> None:
    idea = await world.idea()
    await world.api("{ viewer { role } }", auth=world.ws.token("bob"))
    hide = """mutation($input: ModerateContentInput!) { moderateContent(input: $input) { userErrors { code } } }"""
    assert (await mutate(world, "moderator", hide, {"subjectId": idea, "action": "HIDE"}))["userErrors"] == []
    await add(world, "moderator", idea, "@alice @bob see the guidelines")
    assert await notes(world, "member") == []  # Bob cannot see the hidden idea
    # Nor can its author (HIDDEN is taken down for its author too): told that it was hidden, not of the mention.
    assert await notes(world, "author") == [("CONTENT_HIDDEN", "Your idea on “Dark mode” was hidden by a moderator.")]


# Accepted answers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_accepts"),
        pytest.param("author", ALLOWED, id="idea_author_accepts"),
        pytest.param(
            "member", {"field": ["input", "commentId"], "code": "FORBIDDEN"}, id="member_accepts_on_others_idea"
        ),
        pytest.param("moderator", ALLOWED, id="moderator_accepts"),
        pytest.param("admin", ALLOWED, id="admin_accepts"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_accepts"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_accepts"),
    ],
)
async def test_accepting_an_answer(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()
    await add(world, "moderator", idea, "Have you tried the high-contrast theme?")
    answer = await world.comment(idea)  # "Me too", by Bob
    before = (await threads(world, idea), await notes(world, "member"))
    payload = await mutate(world, actor, ACCEPT, {"commentId": answer, "accepted": True})
    if refusal is ALLOWED:
        assert payload == {"comment": {"body": "Me too", "accepted": True}, "userErrors": []}
        assert [(t["body"], t["accepted"]) for t in await threads(world, idea, "anonymous")] == [
            ("Me too", True),
            ("Have you tried the high-contrast theme?", False),
        ]
        who = {"author": "Alice", "moderator": "Mona", "admin": "workspace admin"}[actor]
        assert await notes(world, "member") == [
            ("ANSWER_ACCEPTED", f"{who} marked your comment as the answer on “Dark mode”.")
        ]
    else:
        assert payload == {"comment": None, "userErrors": [refusal]}
        assert (await threads(world, idea), await notes(world, "member")) == before


async def test_a_new_answer_replaces_the_old_and_unaccepting_puts_it_back_in_order(world: World) -> None:
    idea = await world.idea()
    first = await add(world, "member", idea, "Use the OS setting")
    second = await add(world, "moderator", idea, "Settings > Theme > Dark")
    reply = await add(world, "author", idea, "Thanks!", parent=second)
    for comment in (first, second):
        assert (await mutate(world, "author", ACCEPT, {"commentId": comment, "accepted": True}))["userErrors"] == []
    assert [(t["body"], t["accepted"]) for t in await threads(world, idea)] == [
        ("Settings > Theme > Dark", True),
        ("Use the OS setting", False),
    ]
    refused = await mutate(world, "author", ACCEPT, {"commentId": reply, "accepted": True})
    assert refused == {"comment": None, "userErrors": [{"field": ["input", "commentId"], "code": "INVALID"}]}
    again = await mutate(world, "author", ACCEPT, {"commentId": second, "accepted": True})
    assert again == {"comment": {"body": "Settings > Theme > Dark", "accepted": True}, "userErrors": []}
    assert await notes(world, "moderator") == [
        ("ANSWER_ACCEPTED", "Alice marked your comment as the answer on “Dark mode”."),
        ("REPLY", "Alice replied to your comment on “Dark mode”."),
    ]  # once, not again for the repeat
    assert (await mutate(world, "author", ACCEPT, {"commentId": second, "accepted": False}))["userErrors"] == []
    assert [(t["body"], t["accepted"]) for t in await threads(world, idea)] == [
        ("Use the OS setting", False),
        ("Settings > Theme > Dark", False),
    ]


async def test_a_reply_waiting_for_approval_is_heard_of_once_approved(world: World) -> None:
    """On a board that requires approval a member's reply is PENDING: its answered writer and the users it
    mentions hear of it when a moderator approves it, not before."""
    idea = await world.idea()
    await world.api("{ viewer { role } }", auth=world.ws.token("mona", role="moderator"))  # Mona signs in once
    top = await add(world, "member", idea, "What do you think?")
    update = """mutation($input: UpdateBoardInput!) { updateBoard(input: $input) { userErrors { code } } }"""
    assert (await mutate(world, "admin", update, {"boardId": await world.board(), "requiresApproval": True}))[
        "userErrors"
    ] == []
    reply = await add(world, "author", idea, "Agreed, @mona", parent=top)
    assert (await notes(world, "member"), await notes(world, "moderator")) == ([], [])
    moderate = """mutation($input: ModerateContentInput!) { moderateContent(input: $input) { userErrors { code } } }"""
    approved = await mutate(world, "moderator", moderate, {"subjectId": reply, "action": "APPROVE"})
    assert approved["userErrors"] == []
    assert await notes(world, "member") == [("REPLY", "Alice replied to your comment on “Dark mode”.")]
    assert await notes(world, "moderator") == [("MENTION", "Alice mentioned you on “Dark mode”.")]
