"""Ideas: the Idea type with its tally and scores, submitIdea, editIdea, and the idea/similarIdeas queries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import strawberry

import ranking
from ideaengine import board_pages, comments, duplicates, ideas, scores, supporters
from ideaengine.errors import DomainError
from ideaengine.platform.models import Board, Idea
from ideaengine.platform.queries import Page, Window
from schema import relay
from schema.context import Info
from schema.enums import IdeaStatus, ModerationState, Vote, VoteValue
from schema.errors import DomainErrors, UserError, bad_input, query_error
from schema.loaders import Loader, at_once
from schema.users import UserConnection, UserNode, user_node

T = TypeVar("T")

if TYPE_CHECKING:
    from schema.boards import BoardNode
    from schema.campaigns import CampaignNode
    from schema.comments import CommentConnection
    from schema.lifecycle import StatusChangeType


@strawberry.type(description="Exact vote counts, updated in the same transaction as each vote.")
class VoteTally:
    up: int
    down: int


@strawberry.type(name="IdeaScore", description="Ranking figures computed in the background; see `stale`.")
class IdeaScoreType:
    wilson_lower_bound: float = strawberry.field(
        description="Lower bound of the 95% Wilson interval of up/(up+down); 0 without votes. Orders TOP."
    )
    trending: float = strawberry.field(
        description="Sum of +1/-1 votes, each halved every 72 hours of age, as of computedAt (a board's ideas "
        "decay alike, so their TRENDING order holds between refreshes)."
    )
    elo: float = strawberry.field(
        description=f"Elo rating from comparisons replayed in order (starts at {ranking.ELO_INITIAL:g})."
    )
    bradley_terry: float = strawberry.field(description="Bradley-Terry log-strength, and its 95% interval.")
    bradley_terry_low: float = strawberry.field(description="Lower end of bradleyTerry's 95% interval.")
    bradley_terry_high: float = strawberry.field(description="Upper end of bradleyTerry's 95% interval.")
    comparisons: int = strawberry.field(description="Pairwise comparisons this idea took part in.")
    rank: int | None = strawberry.field(
        description="1-based position among the board's ideas under TOP; null until computed."
    )
    computed_at: datetime | None = strawberry.field(
        description="When these figures were computed; null until the board's first refresh after the idea came."
    )
    stale: bool = strawberry.field(
        description="True while votes or comparisons exist that these figures do not yet include."
    )


@strawberry.type(description="An idea like another, with how alike they are (0 to 1).")
class SimilarIdea:
    idea: IdeaNode
    similarity: float = strawberry.field(
        description="0 to 1 on one calibrated scale, from shared words and spelling (and meaning, where the server "
        "has the `semantic` extra): roughly the share of ideas this alike that are duplicates (docs/ranking.md), "
        "the same before and after the board's index is built, so one cut-off serves. Never under 0.02: less "
        "alike ideas are not offered."
    )


@strawberry.type(name="Idea", description="An idea submitted to a board.")
class IdeaNode(relay.Node):
    model: strawberry.Private[Idea]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return relay.encode_id("Idea", self.model.id)

    @strawberry.field
    def board(self, info: Info) -> Annotated[BoardNode, strawberry.lazy("schema.boards")]:
        return at_once(info.context.loaders.board, self.model.board_id, _board_node)

    @strawberry.field(description="The campaign the idea was entered into; null for none.")
    async def campaign(self, info: Info) -> Annotated[CampaignNode, strawberry.lazy("schema.campaigns")] | None:
        from schema.campaigns import load_campaign

        return await load_campaign(info, self.model.campaign_id)

    @strawberry.field(description="BUDGET campaigns: the estimated cost, set by moderators.")
    def cost(self) -> float | None:
        return self.model.cost

    @strawberry.field(description="3-200 characters, trimmed.")
    def title(self) -> str:
        return self.model.title

    @strawberry.field(description="Up to 10,000 characters, trimmed; may be empty.")
    def body(self) -> str:
        return self.model.body

    @strawberry.field(description="Lower-case tags, in the order the author gave them.")
    def tags(self, info: Info) -> list[str]:
        return at_once(info.context.loaders.tags, self.model.id, _same)

    @strawberry.field(description="Who submitted it; null if their account is gone.")
    def author(self, info: Info) -> UserNode | None:
        if self.model.author_id is None:
            return None
        return at_once(info.context.loaders.user, self.model.author_id, user_node)

    @strawberry.field(description="Where the idea is now; open statuses take votes and comparisons.")
    def status(self) -> IdeaStatus:
        return self.model.status

    @strawberry.field(
        description="Every status the idea had, oldest first: the first entry (`from` null) is its submission, "
        "then each change and, last, a merge."
    )
    async def status_history(
        self, info: Info
    ) -> list[Annotated[StatusChangeType, strawberry.lazy("schema.lifecycle")]]:
        from schema.lifecycle import StatusChangeType

        return [StatusChangeType(model=c) for c in await info.context.loaders.history.load(self.model.id)]

    @strawberry.field(description="The idea this one was merged into, when MERGED.")
    async def merged_into(self, info: Info) -> IdeaNode | None:
        return await load_idea(info, self.model.merged_into_id)

    @strawberry.field(description="VISIBLE, or PENDING/HIDDEN (then only moderators and its author see it).")
    def moderation_state(self) -> ModerationState:
        return self.model.moderation_state

    @strawberry.field(description="When it was submitted.")
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(
        description="Its last edit, status change or merge (source or target), else its submission; votes and "
        "comments leave it."
    )
    def updated_at(self) -> datetime:
        return self.model.updated_at

    @strawberry.field(description="Exact at once, unlike `score`.")
    def votes(self) -> VoteTally:
        return VoteTally(up=self.model.up_count, down=self.model.down_count)

    @strawberry.field(description="Ranking figures; eventually consistent, and `stale` says so.")
    def score(self, info: Info) -> IdeaScoreType:
        return at_once(info.context.loaders.score, self.model.id, _score)

    @strawberry.field(description="Comments, oldest first.")
    async def comments(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> Annotated[CommentConnection, strawberry.lazy("schema.comments")]:
        from schema.comments import CommentConnection, CommentNode

        scope = relay.scope("Idea.comments", self.model.id)
        window = relay.window(info, scope, comments.ORDER, first, after, last, before)
        page = await info.context.loaders.comment_pages.load((self.model.id, window))
        return relay.connection(CommentConnection, scope, window, page, lambda row: CommentNode(model=row))

    @strawberry.field(
        description="How many users follow it (its author does from the start; a merge brings the duplicate's)."
    )
    def follower_count(self) -> int:
        return self.model.follower_count

    @strawberry.field(
        description="Users with an UP vote on it (merged ideas' supporters included: a merge moves their votes). "
        "Public."
    )
    def supporter_count(self) -> int:
        return self.model.up_count

    @strawberry.field(
        description="Users with an UP vote on it (merged ideas' supporters included), earliest first, erased "
        "users shown as such. The count is public; the list is for moderators and admins of the idea's "
        "workspace (product teams contact them): null with FORBIDDEN (UNAUTHENTICATED when anonymous) for others."
    )
    async def supporters(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> UserConnection | None:
        scope = relay.scope("Idea.supporters", self.model.id)
        window = relay.window(info, scope, supporters.ORDER, first, after, last, before)
        page = await relay.load_page(info.context.loaders.supporters, (self.model.id, window))
        for user in page.rows:
            info.context.loaders.user.prime(user.id, user)
        return relay.connection(UserConnection, scope, window, page, lambda row: UserNode(model=row))

    @strawberry.field(description="The viewer's vote; null when none (or anonymous).")
    def viewer_vote(self, info: Info) -> VoteValue | None:
        return at_once(info.context.loaders.viewer_vote, self.model.id, _vote)

    @strawberry.field(description="Whether the viewer follows it; false when anonymous.")
    def viewer_follows(self, info: Info) -> bool:
        return at_once(info.context.loaders.viewer_follows, self.model.id, _same)

    @strawberry.field(
        description="Whether the viewer may edit this idea (its author, a moderator or an admin; never "
        "on a MERGED idea or an archived board)."
    )
    def viewer_can_edit(self, info: Info) -> bool:
        actor, idea = info.context.actor, self.model
        return at_once(
            info.context.loaders.board,
            idea.board_id,
            lambda board: board is not None and ideas.can_edit(actor, idea, board),
        )

    @strawberry.field(
        description="Open ideas (SUBMITTED, UNDER_REVIEW, PLANNED, IN_PROGRESS) on the same board that say much "
        "the same, most similar first; never this idea. `first`: 0-20 (BAD_USER_INPUT otherwise)."
    )
    async def similar(self, info: Info, first: int | None = 5) -> list[SimilarIdea]:
        found = await info.context.loaders.similar.load((self.model.id, _similar_limit(first)))
        return await similar_nodes(info, found)


def _same(value: T) -> T:
    return value


def _board_node(board: Board | None) -> BoardNode:
    from schema.boards import BoardNode

    assert board is not None  # the idea was loaded through its board's visibility
    return BoardNode(model=board)


def _vote(value: int | None) -> VoteValue | None:
    return None if value is None else Vote(value)


def _score(stored: scores.Stored) -> IdeaScoreType:
    score = stored.score
    if score is None:
        return IdeaScoreType(
            wilson_lower_bound=0.0,
            trending=0.0,
            elo=ranking.ELO_INITIAL,
            bradley_terry=0.0,
            bradley_terry_low=0.0,
            bradley_terry_high=0.0,
            comparisons=0,
            rank=None,
            computed_at=None,
            stale=stored.stale,
        )
    return IdeaScoreType(
        wilson_lower_bound=score.wilson_lower_bound,
        trending=stored.trending,
        elo=score.elo,
        bradley_terry=score.bradley_terry,
        bradley_terry_low=score.bt_low,
        bradley_terry_high=score.bt_high,
        comparisons=score.comparisons,
        rank=score.rank,
        computed_at=stored.computed_at,
        stale=stored.stale,
    )


async def idea_connection(info: Info, scope: str, window: Window, page: Page[Idea]) -> IdeaConnection:
    """A page of ideas as a connection, with what its nodes' fields ask loaded first, one statement per kind
    for the whole page (see `loaders.at_once`)."""
    loaders, rows = info.context.loaders, page.rows
    for idea in rows:
        loaders.idea.prime(idea.id, idea)
    if isinstance(page, board_pages.IdeaPage):
        loaders.score.prime_many(page.scores)
    asked = relay.node_fields(info)
    ids = [idea.id for idea in rows]
    wanted: list[tuple[bool, Any, list[int]]] = [
        ("score" in asked, loaders.score, ids),
        ("tags" in asked, loaders.tags, ids),
        ("viewerVote" in asked, loaders.viewer_vote, ids),
        ("viewerFollows" in asked, loaders.viewer_follows, ids),
        ("author" in asked, loaders.user, [idea.author_id for idea in rows if idea.author_id is not None]),
        (bool(asked & {"board", "viewerCanEdit"}), loaders.board, [idea.board_id for idea in rows]),
    ]
    loads: list[Awaitable[Any]] = [
        cast(Loader[Any, Any], loader).prefetch(keys) for needed, loader, keys in wanted if needed and keys
    ]
    await asyncio.gather(*loads)
    return relay.connection(IdeaConnection, scope, window, page, lambda row: IdeaNode(model=row))


def _similar_limit(first: int | None) -> int:
    limit = 5 if first is None else first
    if not 0 <= limit <= 20:
        raise bad_input("`first` must be between 0 and 20.", ["first"])
    return limit


async def similar_nodes(info: Info, found: Sequence[tuple[int, float]]) -> list[SimilarIdea]:
    loaded = await info.context.loaders.idea.load_many([idea_id for idea_id, _ in found])
    return [
        SimilarIdea(idea=IdeaNode(model=idea), similarity=round(similarity, 6))
        for idea, (_, similarity) in zip(loaded, found, strict=True)
        if idea is not None
    ]


def offered_nodes(info: Info, found: Sequence[tuple[Idea, float]]) -> list[SimilarIdea]:
    """A draft's suggestions, already loaded by `duplicates.similar_to_text` (visible, not merged): the loader
    keeps them for the rest of the answer instead of reading them again."""
    for idea, _ in found:
        info.context.loaders.idea.prime(idea.id, idea)
    return [SimilarIdea(idea=IdeaNode(model=idea), similarity=round(similarity, 6)) for idea, similarity in found]


async def load_idea(info: Info, idea_id: int | None) -> IdeaNode | None:
    if idea_id is None:
        return None
    idea = await info.context.loaders.idea.load(idea_id)
    return None if idea is None else IdeaNode(model=idea)


@strawberry.type(name="IdeaConnection")
class IdeaConnection(relay.Connection[IdeaNode]):
    pass


@strawberry.type
class IdeaQueries:
    @strawberry.field(description="One idea; null if unknown or not visible to the viewer.")
    async def idea(self, info: Info, id: strawberry.ID) -> IdeaNode | None:
        parsed = relay.parse_id(id)
        if parsed is None or parsed[0] != "Idea":
            return None
        return await load_idea(info, parsed[1])

    @strawberry.field(
        description="Ideas on the board that resemble a draft, for 'did you mean' while typing: any status but "
        "MERGED (a launched or declined idea answers the draft too), most similar first. `first`: 0-20. `text`: "
        "the draft's title and, once there is one, its body after it (ideas are matched on both; docs/ranking.md)."
    )
    async def similar_ideas(
        self, info: Info, board_id: strawberry.ID, text: str, first: int | None = 5
    ) -> list[SimilarIdea]:
        limit = _similar_limit(first)
        pk = relay.query_id(board_id, "Board", "boardId")
        async with info.context.read() as session:
            try:
                found = await duplicates.similar_to_text(session, info.context.actor, pk, text, limit)
            except DomainError as exc:
                raise query_error(exc) from None
        return offered_nodes(info, found)


@strawberry.input
class SubmitIdeaInput:
    board_id: strawberry.ID
    title: str = strawberry.field(description="3-200 characters after trimming.")
    body: str | None = strawberry.field(default="", description="Up to 10,000 characters.")
    tags: list[str] | None = strawberry.field(
        default_factory=list,
        description="At most 10 tags of up to 40 characters; stored trimmed, lower-case, without repeats.",
    )
    campaign_id: strawberry.ID | None = strawberry.field(
        default=None, description="Enter the idea into this campaign of the same board, while it is in SUBMISSION."
    )


@strawberry.type
class SubmitIdeaPayload:
    idea: IdeaNode | None = None
    similar_ideas: list[SimilarIdea] = strawberry.field(
        default_factory=list,
        description="Existing ideas that look like this one (any status but MERGED, at most 5), as similarIdeas "
        "finds them.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class EditIdeaInput:
    idea_id: strawberry.ID
    title: str | None = strawberry.field(
        default=strawberry.UNSET, description="3-200 characters after trimming; omitted or null: unchanged."
    )
    body: str | None = strawberry.field(
        default=strawberry.UNSET, description="Up to 10,000 characters; omitted or null: unchanged."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces every tag: at most 10 of up to 40 characters; omitted or null: unchanged.",
    )


@strawberry.type
class EditIdeaPayload:
    idea: IdeaNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _given(value: T | None) -> T | None:
    """Omitted and explicit null both mean 'leave as is' for the optional fields of editIdea."""
    return None if value is strawberry.UNSET else value


@strawberry.type
class IdeaMutations:
    @strawberry.mutation(
        extensions=[DomainErrors(rate="submit")],
        description=(
            "Submit an idea; the author follows it, and its status history starts with SUBMITTED. Members, "
            "moderators and admins of the board's workspace. Codes: UNAUTHENTICATED (the message names the "
            "workspace to a caller signed in to another), NOT_FOUND (boardId), INVALID (boardId, title, body, tags), "
            "RATE_LIMITED; with campaignId: NOT_FOUND, INVALID (a campaign of another board), WRONG_PHASE (not in "
            "SUBMISSION)."
        ),
    )
    async def submit_idea(self, info: Info, input: SubmitIdeaInput) -> SubmitIdeaPayload:
        board_id = relay.decode_id(input.board_id, "Board", "boardId")
        campaign_id = (
            None if input.campaign_id is None else relay.decode_id(input.campaign_id, "Campaign", "campaignId")
        )
        async with info.context.transaction() as session:
            idea = await ideas.submit(
                session, info.context.actor, board_id, input.title, input.body or "", input.tags or [], campaign_id
            )
        async with info.context.read() as session:
            found = await duplicates.similar_to_text(
                session, info.context.actor, board_id, duplicates.idea_text(idea.title, idea.body), 5, exclude=idea.id
            )
        return SubmitIdeaPayload(idea=IdeaNode(model=idea), similar_ideas=offered_nodes(info, found))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Edit an idea's title, body or tags (omitted or null fields stay). Its author, moderators and admins. "
            "Codes: UNAUTHENTICATED (naming the workspace to another workspace's caller), FORBIDDEN, NOT_FOUND "
            "(ideaId), INVALID (title, body, tags; ideaId: a merged idea)."
        ),
    )
    async def edit_idea(self, info: Info, input: EditIdeaInput) -> EditIdeaPayload:
        idea_id = relay.decode_id(input.idea_id, "Idea", "ideaId")
        async with info.context.transaction() as session:
            idea = await ideas.edit(
                session,
                info.context.actor,
                idea_id,
                _given(input.title),
                _given(input.body),
                _given(input.tags),
            )
        return EditIdeaPayload(idea=IdeaNode(model=idea))
