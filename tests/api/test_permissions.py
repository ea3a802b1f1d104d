"""The permission matrix of issue 3 (item 4): one labelled case per cell, through the GraphQL API.

Actors: `anonymous` (no header), `member` (an SSO user who did not write the idea), `author` (the
member who wrote it), `moderator` (SSO, role moderator), `admin` (the workspace's API key), and
`other_workspace_member` / `other_workspace_admin` (signed in to another workspace, so anonymous
in this one: DECISIONS.md 1). Every refusal also checks, as the admin, that nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from ideaengine.platform.models import Comparison
from tests.api.conftest import Api, Workspace, make_workspace

ALLOWED = None
"Outcome of a cell where the action goes through."
UNAUTHENTICATED = {"field": [], "code": "UNAUTHENTICATED"}
FORBIDDEN = {"field": [], "code": "FORBIDDEN"}

NAMES = {"author": "Alice", "member": "Bob", "moderator": "Mona", "admin": "workspace admin"}
"Display names of this workspace's actors: SSO tokens carry `sub.title()`; the API key's service user is named so."

IDEA_STATE = """
query($id: ID!) {
  idea(id: $id) {
    title body tags status updatedAt followerCount
    votes { up down }
    mergedInto { id }
    statusHistory { from to }
    comments { totalCount edges { node { body official } } }
  }
}
"""


class World:
    """One workspace with boards and ideas made on demand through the API, and a token for each actor."""

    def __init__(self, api: Api, services: Any, ws: Workspace) -> None:
        self.api, self.services, self.ws = api, services, ws
        self._boards: dict[str, str] = {}
        self._other: Workspace | None = None

    async def other(self) -> Workspace:
        if self._other is None:
            self._other = await make_workspace(self.services, "globex")
        return self._other

    async def auth(self, actor: str) -> str | None:
        tokens: dict[str, Callable[[], str | None]] = {
            "anonymous": lambda: None,
            "member": lambda: self.ws.token("bob"),
            "author": lambda: self.ws.token("alice"),
            "moderator": lambda: self.ws.token("mona", role="moderator"),
            "admin": lambda: self.ws.api_key,
        }
        if actor in tokens:
            return tokens[actor]()
        other = await self.other()
        return {"other_workspace_member": other.token("olga"), "other_workspace_admin": other.api_key}[actor]

    async def board(self, visibility: str = "PUBLIC") -> str:
        if visibility not in self._boards:
            body = await self.api(
                "mutation($input: CreateBoardInput!) {"
                " createBoard(input: $input) { board { id } userErrors { code } } }",
                {
                    "input": {
                        "slug": visibility.lower(),
                        "name": f"{visibility.title()} ideas",
                        "visibility": visibility,
                    }
                },
                auth=self.ws.api_key,
            )
            payload = body["data"]["createBoard"]
            assert payload["userErrors"] == []
            self._boards[visibility] = payload["board"]["id"]
        return self._boards[visibility]

    async def idea(self, title: str = "Dark mode", visibility: str = "PUBLIC", tags: list[str] | None = None) -> str:
        """An idea written by the `author` actor."""
        body = await self.api(
            "mutation($input: SubmitIdeaInput!) { submitIdea(input: $input) { idea { id } userErrors { code } } }",
            {
                "input": {
                    "boardId": await self.board(visibility),
                    "title": title,
                    "body": "Easier on the eyes.",
                    "tags": tags or [],
                }
            },
            auth=self.ws.token("alice"),
        )
        payload = body["data"]["submitIdea"]
        assert payload["userErrors"] == []
        return str(payload["idea"]["id"])

    async def comment(self, idea_id: str) -> str:
        """A comment by the `member` actor."""
        body = await self.api(
            "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } userErrors { code } } }",
            {"input": {"ideaId": idea_id, "body": "Me too"}},
            auth=self.ws.token("bob"),
        )
        payload = body["data"]["addComment"]
        assert payload["userErrors"] == []
        return str(payload["comment"]["id"])

    async def state(self, idea_id: str) -> dict[str, Any]:
        """The idea as the admin sees it."""
        idea: dict[str, Any] = (await self.api(IDEA_STATE, {"id": idea_id}, auth=self.ws.api_key))["data"]["idea"]
        return idea

    async def board_idea_count(self, visibility: str = "PUBLIC") -> int:
        body = await self.api(
            "query($ws: String!, $slug: String!) { board(workspace: $ws, slug: $slug) { ideas { totalCount } } }",
            {"ws": self.ws.slug, "slug": visibility.lower()},
            auth=self.ws.api_key,
        )
        count: int = body["data"]["board"]["ideas"]["totalCount"]
        return count

    async def unread(self, actor: str) -> int:
        body = await self.api("{ viewer { unreadNotificationCount } }", auth=await self.auth(actor))
        count: int = body["data"]["viewer"]["unreadNotificationCount"]
        return count

    async def comparison_count(self) -> int:
        async with self.services.db.read() as session:
            return int((await session.execute(select(func.count()).select_from(Comparison))).scalar_one())


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def mutate(world: World, actor: str, document: str, input: dict[str, Any]) -> dict[str, Any]:
    """Run a one-mutation document as `actor` and return its payload."""
    body = await world.api(document, {"input": input}, auth=await world.auth(actor))
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


# Reads ---------------------------------------------------------------------------------------------------------

READ = """
query($ws: String!, $slug: String!, $idea: ID!, $comment: ID!) {
  board(workspace: $ws, slug: $slug) { slug visibility ideas { totalCount edges { node { title } } } }
  idea(id: $idea) { title }
  node(id: $idea) { id }
  comment: node(id: $comment) { ... on Comment { body } }
  boards(workspace: $ws) { totalCount edges { node { slug } } }
}
"""


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param("anonymous", id="anonymous_reads_public_board"),
        pytest.param("member", id="member_reads_public_board"),
        pytest.param("moderator", id="moderator_reads_public_board"),
        pytest.param("admin", id="admin_reads_public_board"),
        pytest.param("other_workspace_member", id="other_workspace_member_reads_public_board"),
    ],
)
async def test_public_board_is_readable_by_everyone(world: World, actor: str) -> None:
    idea = await world.idea()
    comment = await world.comment(idea)
    await world.board("PRIVATE")
    own_workspace = actor in ("member", "moderator", "admin")
    variables = {"ws": "acme", "slug": "public", "idea": idea, "comment": comment}
    body = await world.api(READ, variables, auth=await world.auth(actor))
    assert body["data"] == {
        "board": {
            "slug": "public",
            "visibility": "PUBLIC",
            "ideas": {"totalCount": 1, "edges": [{"node": {"title": "Dark mode"}}]},
        },
        "idea": {"title": "Dark mode"},
        "node": {"id": idea},
        "comment": {"body": "Me too"},
        "boards": {
            "totalCount": 2 if own_workspace else 1,
            "edges": [{"node": {"slug": "public"}}] + ([{"node": {"slug": "private"}}] if own_workspace else []),
        },
    }


@pytest.mark.parametrize(
    ("actor", "readable"),
    [
        pytest.param("anonymous", False, id="anonymous_reads_private_board"),
        pytest.param("member", True, id="member_reads_private_board"),
        pytest.param("moderator", True, id="moderator_reads_private_board"),
        pytest.param("admin", True, id="admin_reads_private_board"),
        pytest.param("other_workspace_member", False, id="other_workspace_member_reads_private_board"),
        pytest.param("other_workspace_admin", False, id="other_workspace_admin_reads_private_board"),
    ],
)
async def test_private_board_is_readable_only_inside_its_workspace(world: World, actor: str, readable: bool) -> None:
    await world.board("PUBLIC")
    idea = await world.idea(visibility="PRIVATE")
    comment = await world.comment(idea)
    variables = {"ws": "acme", "slug": "private", "idea": idea, "comment": comment}
    body = await world.api(READ, variables, auth=await world.auth(actor))
    if readable:
        assert body["data"] == {
            "board": {
                "slug": "private",
                "visibility": "PRIVATE",
                "ideas": {"totalCount": 1, "edges": [{"node": {"title": "Dark mode"}}]},
            },
            "idea": {"title": "Dark mode"},
            "node": {"id": idea},
            "comment": {"body": "Me too"},
            "boards": {"totalCount": 2, "edges": [{"node": {"slug": "public"}}, {"node": {"slug": "private"}}]},
        }
    else:
        assert body["data"] == {
            "board": None,
            "idea": None,
            "node": None,
            "comment": None,
            "boards": {"totalCount": 1, "edges": [{"node": {"slug": "public"}}]},
        }


# Submit, vote, compare, comment, follow --------------------------------------------------------------------------

SUBMIT = """
mutation($input: SubmitIdeaInput!) {
  submitIdea(input: $input) { idea { title status author { name } } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "visibility", "refusal"),
    [
        pytest.param("anonymous", "PUBLIC", UNAUTHENTICATED, id="anonymous_submits"),
        pytest.param("member", "PUBLIC", ALLOWED, id="member_submits"),
        pytest.param("moderator", "PUBLIC", ALLOWED, id="moderator_submits"),
        pytest.param("admin", "PUBLIC", ALLOWED, id="admin_submits"),
        pytest.param("other_workspace_member", "PUBLIC", UNAUTHENTICATED, id="other_workspace_member_submits"),
        pytest.param(
            "anonymous",
            "PRIVATE",
            {"field": ["input", "boardId"], "code": "NOT_FOUND"},
            id="anonymous_submits_to_private_board",
        ),
    ],
)
async def test_submitting_an_idea(world: World, actor: str, visibility: str, refusal: dict[str, Any] | None) -> None:
    board = await world.board(visibility)
    payload = await mutate(world, actor, SUBMIT, {"boardId": board, "title": "Offline mode"})
    if refusal is ALLOWED:
        assert payload == {
            "idea": {"title": "Offline mode", "status": "SUBMITTED", "author": {"name": NAMES[actor]}},
            "userErrors": [],
        }
        assert await world.board_idea_count(visibility) == 1
    else:
        assert payload == {"idea": None, "userErrors": [refusal]}
        assert await world.board_idea_count(visibility) == 0


VOTE = """
mutation($input: VoteInput!) {
  vote(input: $input) { idea { votes { up down } viewerVote } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "visibility", "refusal"),
    [
        pytest.param("anonymous", "PUBLIC", UNAUTHENTICATED, id="anonymous_votes"),
        pytest.param("member", "PUBLIC", ALLOWED, id="member_votes"),
        pytest.param("moderator", "PUBLIC", ALLOWED, id="moderator_votes"),
        pytest.param("admin", "PUBLIC", ALLOWED, id="admin_votes"),
        pytest.param(
            "other_workspace_member", "PUBLIC", UNAUTHENTICATED, id="other_workspace_member_votes_on_public_board"
        ),
        pytest.param(
            "other_workspace_admin", "PUBLIC", UNAUTHENTICATED, id="other_workspace_admin_votes_on_public_board"
        ),
        pytest.param(
            "anonymous",
            "PRIVATE",
            {"field": ["input", "ideaId"], "code": "NOT_FOUND"},
            id="anonymous_votes_on_private_board",
        ),
        pytest.param(
            "other_workspace_member",
            "PRIVATE",
            {"field": ["input", "ideaId"], "code": "NOT_FOUND"},
            id="other_workspace_member_votes_on_private_board",
        ),
    ],
)
async def test_voting(world: World, actor: str, visibility: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea(visibility=visibility)
    payload = await mutate(world, actor, VOTE, {"ideaId": idea, "value": "UP"})
    if refusal is ALLOWED:
        assert payload == {"idea": {"votes": {"up": 1, "down": 0}, "viewerVote": "UP"}, "userErrors": []}
        assert (await world.state(idea))["votes"] == {"up": 1, "down": 0}
    else:
        assert payload == {"idea": None, "userErrors": [refusal]}
        assert (await world.state(idea))["votes"] == {"up": 0, "down": 0}


COMPARE = """
mutation($input: CompareIdeasInput!) {
  compareIdeas(input: $input) { winner { title } loser { title } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_compares"),
        pytest.param("member", ALLOWED, id="member_compares"),
        pytest.param("moderator", ALLOWED, id="moderator_compares"),
        pytest.param("admin", ALLOWED, id="admin_compares"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_compares"),
    ],
)
async def test_comparing_two_ideas(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    winner = await world.idea("Dark mode")
    loser = await world.idea("Offline mode")
    payload = await mutate(world, actor, COMPARE, {"winnerId": winner, "loserId": loser})
    if refusal is ALLOWED:
        assert payload == {"winner": {"title": "Dark mode"}, "loser": {"title": "Offline mode"}, "userErrors": []}
        assert await world.comparison_count() == 1
    else:
        assert payload == {"winner": None, "loser": None, "userErrors": [refusal]}
        assert await world.comparison_count() == 0


COMMENT = """
mutation($input: AddCommentInput!) {
  addComment(input: $input) { comment { body official author { name } } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_comments"),
        pytest.param("member", ALLOWED, id="member_comments"),
        pytest.param("moderator", ALLOWED, id="moderator_comments"),
        pytest.param("admin", ALLOWED, id="admin_comments"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_comments"),
    ],
)
async def test_commenting(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()
    payload = await mutate(world, actor, COMMENT, {"ideaId": idea, "body": "Me too"})
    if refusal is ALLOWED:
        assert payload == {
            "comment": {"body": "Me too", "official": False, "author": {"name": NAMES[actor]}},
            "userErrors": [],
        }
        assert (await world.state(idea))["comments"] == {
            "totalCount": 1,
            "edges": [{"node": {"body": "Me too", "official": False}}],
        }
    else:
        assert payload == {"comment": None, "userErrors": [refusal]}
        assert (await world.state(idea))["comments"] == {"totalCount": 0, "edges": []}


FOLLOW = """
mutation($input: FollowIdeaInput!) {
  followIdea(input: $input) { idea { followerCount viewerFollows } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_follows"),
        pytest.param("member", ALLOWED, id="member_follows"),
        pytest.param("moderator", ALLOWED, id="moderator_follows"),
        pytest.param("admin", ALLOWED, id="admin_follows"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_follows"),
    ],
)
async def test_following(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()  # its author follows it already
    payload = await mutate(world, actor, FOLLOW, {"ideaId": idea, "follow": True})
    if refusal is ALLOWED:
        assert payload == {"idea": {"followerCount": 2, "viewerFollows": True}, "userErrors": []}
        assert (await world.state(idea))["followerCount"] == 2
    else:
        assert payload == {"idea": None, "userErrors": [refusal]}
        assert (await world.state(idea))["followerCount"] == 1


# Editing -------------------------------------------------------------------------------------------------------

EDIT = """
mutation($input: EditIdeaInput!) {
  editIdea(input: $input) { idea { title body tags } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_edits_idea"),
        pytest.param("author", ALLOWED, id="member_edits_own_idea"),
        pytest.param("member", FORBIDDEN, id="member_edits_other_idea"),
        pytest.param("moderator", ALLOWED, id="moderator_edits_other_idea"),
        pytest.param("admin", ALLOWED, id="admin_edits_other_idea"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_edits_idea"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_edits_idea"),
    ],
)
async def test_editing_an_idea(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea("Dark mode", tags=["ui"])
    before = await world.state(idea)
    seen = await world.api(
        "query($id: ID!) { idea(id: $id) { viewerCanEdit } }", {"id": idea}, auth=await world.auth(actor)
    )
    assert seen["data"]["idea"] == {"viewerCanEdit": refusal is ALLOWED}
    payload = await mutate(world, actor, EDIT, {"ideaId": idea, "title": "Dark mode everywhere"})
    after = await world.state(idea)
    if refusal is ALLOWED:
        assert payload == {
            "idea": {"title": "Dark mode everywhere", "body": "Easier on the eyes.", "tags": ["ui"]},
            "userErrors": [],
        }
        assert after["title"] == "Dark mode everywhere"
    else:
        assert payload == {"idea": None, "userErrors": [refusal]}
        assert after == before


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="member_edits_other_idea_with_every_field_omitted"),
        pytest.param({"title": None, "body": None, "tags": None}, id="member_edits_other_idea_with_every_field_null"),
    ],
)
async def test_an_edit_that_would_change_nothing_is_still_refused(world: World, fields: dict[str, Any]) -> None:
    idea = await world.idea("Dark mode", tags=["ui"])
    before = await world.state(idea)
    payload = await mutate(world, "member", EDIT, {"ideaId": idea, **fields})
    assert payload == {"idea": None, "userErrors": [FORBIDDEN]}
    assert await world.state(idea) == before


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"title": None, "body": "Also for the admin pages."},
            {"title": "Dark mode", "body": "Also for the admin pages.", "tags": ["ui"]},
            id="title_null_keeps_the_title",
        ),
        pytest.param(
            {"body": "Also for the admin pages."},
            {"title": "Dark mode", "body": "Also for the admin pages.", "tags": ["ui"]},
            id="title_omitted_keeps_the_title",
        ),
        pytest.param(
            {"title": "Dark theme", "body": None},
            {"title": "Dark theme", "body": "Easier on the eyes.", "tags": ["ui"]},
            id="body_null_keeps_the_body",
        ),
        pytest.param(
            {"title": "Dark theme", "tags": None},
            {"title": "Dark theme", "body": "Easier on the eyes.", "tags": ["ui"]},
            id="tags_null_keep_the_tags",
        ),
        pytest.param(
            {"tags": []},
            {"title": "Dark mode", "body": "Easier on the eyes.", "tags": []},
            id="tags_empty_list_clears_the_tags",
        ),
    ],
)
async def test_author_edit_with_null_or_omitted_fields(
    world: World, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    idea = await world.idea("Dark mode", tags=["ui"])
    payload = await mutate(world, "author", EDIT, {"ideaId": idea, **fields})
    assert payload == {"idea": expected, "userErrors": []}
    after = await world.state(idea)
    assert {k: after[k] for k in ("title", "body", "tags")} == expected


# Moderation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_posts_official_comment"),
        pytest.param("member", FORBIDDEN, id="member_posts_official_comment"),
        pytest.param("moderator", ALLOWED, id="moderator_posts_official_comment"),
        pytest.param("admin", ALLOWED, id="admin_posts_official_comment"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_posts_official_comment"),
    ],
)
async def test_official_comment(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()
    payload = await mutate(world, actor, COMMENT, {"ideaId": idea, "body": "Planned for May.", "official": True})
    if refusal is ALLOWED:
        assert payload == {
            "comment": {"body": "Planned for May.", "official": True, "author": {"name": NAMES[actor]}},
            "userErrors": [],
        }
        assert (await world.state(idea))["comments"] == {
            "totalCount": 1,
            "edges": [{"node": {"body": "Planned for May.", "official": True}}],
        }
        assert await world.unread("author") == 1  # the author follows the idea
    else:
        assert payload == {"comment": None, "userErrors": [refusal]}
        assert (await world.state(idea))["comments"] == {"totalCount": 0, "edges": []}
        assert await world.unread("author") == 0


@pytest.mark.parametrize(
    "official",
    [
        pytest.param({"official": None}, id="member_comments_with_official_null"),
        pytest.param({}, id="member_comments_with_official_omitted"),
    ],
)
async def test_member_comment_without_official_flag_is_an_ordinary_comment(
    world: World, official: dict[str, Any]
) -> None:
    idea = await world.idea()
    payload = await mutate(world, "member", COMMENT, {"ideaId": idea, "body": "Me too", **official})
    assert payload == {"comment": {"body": "Me too", "official": False, "author": {"name": "Bob"}}, "userErrors": []}
    assert await world.unread("author") == 0


CHANGE_STATUS = """
mutation($input: ChangeIdeaStatusInput!) {
  changeIdeaStatus(input: $input) {
    idea { status statusHistory { from to note actor { name } } }
    userErrors { field code }
  }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_changes_status"),
        pytest.param("member", FORBIDDEN, id="member_changes_status"),
        pytest.param("author", FORBIDDEN, id="author_changes_status_of_own_idea"),
        pytest.param("moderator", ALLOWED, id="moderator_changes_status"),
        pytest.param("admin", ALLOWED, id="admin_changes_status"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_changes_status"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_changes_status"),
    ],
)
async def test_changing_an_idea_status(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()
    payload = await mutate(world, actor, CHANGE_STATUS, {"ideaId": idea, "status": "UNDER_REVIEW", "note": "Looking"})
    after = await world.state(idea)
    if refusal is ALLOWED:
        assert payload == {
            "idea": {
                "status": "UNDER_REVIEW",
                "statusHistory": [
                    {"from": None, "to": "SUBMITTED", "note": None, "actor": {"name": NAMES["author"]}},
                    {"from": "SUBMITTED", "to": "UNDER_REVIEW", "note": "Looking", "actor": {"name": NAMES[actor]}},
                ],
            },
            "userErrors": [],
        }
        assert (after["status"], after["statusHistory"]) == (
            "UNDER_REVIEW",
            [{"from": None, "to": "SUBMITTED"}, {"from": "SUBMITTED", "to": "UNDER_REVIEW"}],
        )
        assert await world.unread("author") == 1
    else:
        assert payload == {"idea": None, "userErrors": [refusal]}
        assert (after["status"], after["statusHistory"]) == ("SUBMITTED", [{"from": None, "to": "SUBMITTED"}])
        assert await world.unread("author") == 0


MERGE = """
mutation($input: MergeIdeasInput!) {
  mergeIdeas(input: $input) { source { status mergedInto { title } } target { title } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_merges"),
        pytest.param("member", FORBIDDEN, id="member_merges"),
        pytest.param("moderator", ALLOWED, id="moderator_merges"),
        pytest.param("admin", ALLOWED, id="admin_merges"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_merges"),
    ],
)
async def test_merging_ideas(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    source = await world.idea("Night theme")
    target = await world.idea("Dark mode")
    payload = await mutate(world, actor, MERGE, {"sourceId": source, "targetId": target})
    after = await world.state(source)
    if refusal is ALLOWED:
        assert payload == {
            "source": {"status": "MERGED", "mergedInto": {"title": "Dark mode"}},
            "target": {"title": "Dark mode"},
            "userErrors": [],
        }
        assert (after["status"], after["mergedInto"]) == ("MERGED", {"id": target})
    else:
        assert payload == {"source": None, "target": None, "userErrors": [refusal]}
        assert (after["status"], after["mergedInto"]) == ("SUBMITTED", None)
        assert await world.board_idea_count() == 2


CLUSTERS = """
query($ws: String!) {
  board(workspace: $ws, slug: "public") { slug duplicateClusters { totalCount edges { node { cohesion } } } }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_sees_duplicate_clusters"),
        pytest.param("member", "FORBIDDEN", id="member_sees_duplicate_clusters"),
        pytest.param("moderator", ALLOWED, id="moderator_sees_duplicate_clusters"),
        pytest.param("admin", ALLOWED, id="admin_sees_duplicate_clusters"),
        pytest.param("other_workspace_member", "UNAUTHENTICATED", id="other_workspace_member_sees_duplicate_clusters"),
    ],
)
async def test_duplicate_clusters(world: World, actor: str, refusal: str | None) -> None:
    await world.board()
    body = await world.api(CLUSTERS, {"ws": "acme"}, auth=await world.auth(actor), expect_errors=True)
    if refusal is ALLOWED:
        assert body == {"data": {"board": {"slug": "public", "duplicateClusters": {"totalCount": 0, "edges": []}}}}
    else:
        assert body["data"] == {"board": {"slug": "public", "duplicateClusters": None}}
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["board", "duplicateClusters"], refusal)
        ]


# Boards --------------------------------------------------------------------------------------------------------

CREATE_BOARD = """
mutation($input: CreateBoardInput!) {
  createBoard(input: $input) { board { slug name visibility } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_creates_board"),
        pytest.param("member", FORBIDDEN, id="member_creates_board"),
        pytest.param("moderator", FORBIDDEN, id="moderator_creates_board"),
        pytest.param("admin", ALLOWED, id="admin_creates_board"),
    ],
)
async def test_creating_a_board(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    payload = await mutate(world, actor, CREATE_BOARD, {"slug": "roadmap", "name": "Roadmap", "visibility": "PRIVATE"})
    body = await world.api('{ boards(workspace: "acme") { edges { node { slug } } } }', auth=world.ws.api_key)
    if refusal is ALLOWED:
        assert payload == {"board": {"slug": "roadmap", "name": "Roadmap", "visibility": "PRIVATE"}, "userErrors": []}
        assert body["data"]["boards"]["edges"] == [{"node": {"slug": "roadmap"}}]
    else:
        assert payload == {"board": None, "userErrors": [refusal]}
        assert body["data"]["boards"]["edges"] == []


# What a refused caller is told ---------------------------------------------------------------------------------

REFUSED = "userErrors { field code message }"
WRITES: dict[str, tuple[str, str]] = {
    "submit": ("submitIdea(input: $input)", "submit ideas"),
    "edit": ("editIdea(input: $input)", "edit ideas"),
    "vote": ("vote(input: $input)", "vote"),
    "compare": ("compareIdeas(input: $input)", "compare ideas"),
    "comment": ("addComment(input: $input)", "comment"),
    "follow": ("followIdea(input: $input)", "follow ideas"),
    "change_status": ("changeIdeaStatus(input: $input)", "change an idea's status"),
    "merge": ("mergeIdeas(input: $input)", "merge ideas"),
}
INPUT_TYPES = {
    "submit": "SubmitIdeaInput",
    "edit": "EditIdeaInput",
    "vote": "VoteInput",
    "compare": "CompareIdeasInput",
    "comment": "AddCommentInput",
    "follow": "FollowIdeaInput",
    "change_status": "ChangeIdeaStatusInput",
    "merge": "MergeIdeasInput",
}


async def _write_input(world: World, write: str) -> dict[str, Any]:
    idea = await world.idea("Dark mode")
    if write == "submit":
        return {"boardId": await world.board(), "title": "Offline mode"}
    if write in ("compare", "merge"):
        other = await world.idea("Night theme")
        return {"winnerId": idea, "loserId": other} if write == "compare" else {"sourceId": other, "targetId": idea}
    inputs: dict[str, dict[str, Any]] = {
        "edit": {"ideaId": idea, "title": "Darker mode"},
        "vote": {"ideaId": idea, "value": "UP"},
        "comment": {"ideaId": idea, "body": "Me too"},
        "follow": {"ideaId": idea, "follow": True},
        "change_status": {"ideaId": idea, "status": "UNDER_REVIEW"},
    }
    return inputs[write]


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize(
    ("actor", "told"),
    [
        pytest.param("other_workspace_member", "Sign in to workspace 'acme' to {what}.", id="other_workspace_member"),
        pytest.param("other_workspace_admin", "Sign in to workspace 'acme' to {what}.", id="other_workspace_admin"),
        pytest.param("anonymous", "Sign in to {what}.", id="anonymous"),
    ],
)
async def test_a_refused_write_names_the_workspace_to_sign_in_to(
    world: World, write: str, actor: str, told: str
) -> None:
    """Signed in to globex, "Sign in to vote." reads as nonsense: the caller is told which workspace (still
    UNAUTHENTICATED: anonymous there, DECISIONS.md 1). Nobody signed in needs no workspace named."""
    field, what = WRITES[write]
    document = f"mutation($input: {INPUT_TYPES[write]}!) {{ {field} {{ {REFUSED} }} }}"
    given = await _write_input(world, write)
    before = await world.board_idea_count()

    payload = await mutate(world, actor, document, given)

    assert payload == {"userErrors": [{"field": [], "code": "UNAUTHENTICATED", "message": told.format(what=what)}]}
    assert await world.board_idea_count() == before  # what each write changes is checked in its matrix above
