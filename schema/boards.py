"""Boards: types, the boards/board queries and createBoard."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry

from ideaengine import boards, duplicates
from ideaengine import ideas as idea_service
from ideaengine import status_labels as labels
from ideaengine.platform import models
from ideaengine.platform.models import Board, Visibility
from schema import relay
from schema.context import Info
from schema.enums import BoardVisibility, CampaignPhase, DuplicateSensitivity, IdeaSort, IdeaStatus, ModerationState
from schema.errors import DomainErrors, UserError

T = TypeVar("T")

if TYPE_CHECKING:
    from schema.campaigns import CampaignConnection
    from schema.ideas import IdeaConnection
    from schema.lifecycle import DuplicateClusterConnection
    from schema.moderation import ModerationItemConnection


@strawberry.type(name="Board", description="A brand's idea board.")
class BoardNode(relay.Node):
    model: strawberry.Private[Board]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return relay.encode_id("Board", self.model.id)

    @strawberry.field(description="Unique within its workspace; used in URLs.")
    def slug(self) -> str:
        return self.model.slug

    @strawberry.field(description="1-200 characters.")
    def name(self) -> str:
        return self.model.name

    @strawberry.field(description="Up to 5,000 characters; may be empty.")
    def description(self) -> str:
        return self.model.description

    @strawberry.field(description="Who may read it.")
    def visibility(self) -> BoardVisibility:
        return self.model.visibility

    @strawberry.field(
        description="An archived board can be read but not changed: submitting, editing, voting, comparing, "
        "commenting, status changes and merges are refused with BOARD_ARCHIVED. `boards` lists it only with "
        "includeArchived."
    )
    def archived(self) -> bool:
        return self.model.archived_at is not None

    @strawberry.field(description="New ideas and comments wait as PENDING until a moderator approves them.")
    def requires_approval(self) -> bool:
        return self.model.requires_approval

    @strawberry.field(
        description="Reports from this many distinct members hide an idea or comment until a moderator decides."
    )
    def report_threshold(self) -> int:
        return self.model.report_threshold

    @strawberry.field(description="How readily duplicateClusters join this board's ideas (default MEDIUM).")
    def duplicate_sensitivity(self) -> DuplicateSensitivity:
        return self.model.duplicate_sensitivity

    @strawberry.field(
        description="Pending and reported ideas and comments, most reported first (then longest waiting); `states` "
        "keeps those in these states. Moderators and admins only: null with FORBIDDEN for others."
    )
    async def moderation_queue(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        states: list[ModerationState] | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> Annotated[ModerationItemConnection, strawberry.lazy("schema.moderation")] | None:
        from schema.moderation import moderation_queue

        return await moderation_queue(info, self.model, first, after, states, last, before)

    @strawberry.field(
        description="The workspace's own words for each status (defaults: the enum's names in plain English), in "
        "the lifecycle's order; shown in notifications and webhooks. The lifecycle rules stay the seven statuses."
    )
    def status_labels(self) -> list[StatusLabel]:
        return [StatusLabel(status=status, label=text) for status, text in labels.all_labels(self.model)]

    @strawberry.field(description="When the board was archived; null while it is not.")
    def archived_at(self) -> datetime | None:
        return self.model.archived_at

    @strawberry.field(
        description="The board's ideas. Without statuses: every status but MERGED. `search` "
        "matches words of title and body, case-insensitively; `tag` one tag."
    )
    async def ideas(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        sort: IdeaSort | None = idea_service.IdeaSort.TOP,
        statuses: list[IdeaStatus] | None = None,
        tag: str | None = None,
        search: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> Annotated[IdeaConnection, strawberry.lazy("schema.ideas")]:
        from schema.ideas import idea_connection

        order = sort or idea_service.IdeaSort.TOP
        criteria = idea_service.IdeaFilter(
            statuses=None if statuses is None else tuple(statuses), tag=tag, search=search
        )
        scope = relay.scope("Board.ideas", self.model.id, order, statuses, tag, search)
        window = relay.window(info, scope, idea_service.sort_keys(order), first, after, last, before)
        page = await relay.load_page(info.context.loaders.board_ideas, (self.model.id, (order, criteria, window)))
        return await idea_connection(info, scope, window, page)

    @strawberry.field(description="The board's campaigns, newest first; `phases` keeps those in these phases.")
    async def campaigns(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        phases: list[CampaignPhase] | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> Annotated[CampaignConnection, strawberry.lazy("schema.campaigns")]:
        from schema.campaigns import board_campaigns

        return await board_campaigns(info, self.model, first, after, phases, last, before)

    @strawberry.field(description="Tags used on this board, most used first.")
    async def tags(self, info: Info) -> list[str]:
        return await info.context.loaders.board_tags.load(self.model.id)

    @strawberry.field(
        description="Clusters of ideas that say the same thing, from the duplicate index. "
        "Moderators and admins only: null with a FORBIDDEN error for anyone else."
    )
    async def duplicate_clusters(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> Annotated[DuplicateClusterConnection, strawberry.lazy("schema.lifecycle")] | None:
        from schema.lifecycle import DuplicateCluster, DuplicateClusterConnection

        scope = relay.scope("Board.duplicateClusters", self.model.id)
        window = relay.window(info, scope, duplicates.CLUSTER_ORDER, first, after, last, before)
        page = await relay.load_page(info.context.loaders.clusters, (self.model.id, window))
        return relay.connection(
            DuplicateClusterConnection, scope, window, page, lambda row: DuplicateCluster(cluster=row)
        )


@strawberry.type(description="A status and the board's word for it.")
class StatusLabel:
    status: IdeaStatus
    label: str = strawberry.field(description="1-40 characters.")


@strawberry.input(description="A board's own word for one status.")
class StatusLabelInput:
    status: IdeaStatus
    label: str = strawberry.field(description="1-40 characters after trimming.")


@strawberry.type(name="BoardConnection")
class BoardConnection(relay.Connection[BoardNode]):
    pass


@strawberry.type
class BoardQueries:
    @strawberry.field(
        description="The workspace's boards the viewer may read, oldest first; archived ones only with includeArchived."
    )
    async def boards(
        self,
        info: Info,
        workspace: str,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
        include_archived: Annotated[
            bool | None, strawberry.argument(description="Also list archived boards (null or false: do not).")
        ] = False,
    ) -> BoardConnection:
        scope = relay.scope("Query.boards", workspace, bool(include_archived))
        window = relay.window(info, scope, boards.ORDER, first, after, last, before)
        async with info.context.read() as session:
            page = await boards.list_visible(
                session, info.context.actor, workspace, window, include_archived=bool(include_archived)
            )
        for board in page.rows:
            info.context.loaders.board.prime(board.id, board)
        return relay.connection(BoardConnection, scope, window, page, lambda row: BoardNode(model=row))

    @strawberry.field(description="One board by workspace and slug; null if unknown or not visible.")
    async def board(self, info: Info, workspace: str, slug: str) -> BoardNode | None:
        async with info.context.read() as session:
            board = await boards.get_visible(session, info.context.actor, workspace, slug)
        return None if board is None else BoardNode(model=board)


@strawberry.input
class CreateBoardInput:
    slug: str = strawberry.field(description="2-50 characters: a-z, 0-9 and hyphens; unique in the workspace.")
    name: str = strawberry.field(description="1-200 characters after trimming.")
    description: str | None = strawberry.field(default="", description="Up to 5,000 characters.")
    visibility: BoardVisibility | None = strawberry.field(default=Visibility.PUBLIC, description="Who may read it.")


@strawberry.type
class CreateBoardPayload:
    board: BoardNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateBoardInput:
    board_id: strawberry.ID
    name: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters; null: unchanged.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Up to 5,000 characters; empty clears it; null: unchanged."
    )
    visibility: BoardVisibility | None = strawberry.field(default=strawberry.UNSET, description="Null: unchanged.")
    archived: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="true archives the board (read-only, hidden from `boards` unless asked); false restores it; "
        "null: unchanged.",
    )
    requires_approval: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="true: members' new ideas and comments wait as PENDING for a moderator; null: unchanged.",
    )
    report_threshold: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="1-100 distinct members whose reports hide content (default 3); null: unchanged.",
    )
    status_labels: list[StatusLabelInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the board's status labels: each status at most once; statuses left out read as "
        "their defaults, so [] resets every label. Null: unchanged.",
    )
    duplicate_sensitivity: DuplicateSensitivity | None = strawberry.field(
        default=strawberry.UNSET,
        description="How readily duplicate clusters join ideas; the clusters are rebuilt shortly after a change. "
        "Null: unchanged.",
    )


@strawberry.type
class UpdateBoardPayload:
    board: BoardNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _given(value: T | None) -> T | None:
    """Omitted and explicit null both leave a field of updateBoard as it is."""
    return None if value is strawberry.UNSET else value


def _labels(given: list[StatusLabelInput] | None) -> list[tuple[models.IdeaStatus, str]] | None:
    return None if given is None else [(item.status, item.label) for item in given]


@strawberry.type
class BoardMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Create a board in the caller's workspace. Admins (API keys) only. "
            "Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (slug, name, description), CONFLICT (slug taken)."
        ),
    )
    async def create_board(self, info: Info, input: CreateBoardInput) -> CreateBoardPayload:
        async with info.context.transaction() as session:
            workspace_id = await boards.workspace_for_actor(session, info.context.actor)
            board = await boards.create_board(
                session,
                info.context.actor,
                workspace_id,
                input.slug,
                input.name,
                input.description or "",
                input.visibility or Visibility.PUBLIC,
            )
        return CreateBoardPayload(board=BoardNode(model=board))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Change a board's name, description, visibility, pre-moderation, report threshold, status labels or "
            "duplicate sensitivity, or archive or restore it; fields left out or null stay as they are. Admins (API "
            "keys) of its workspace only. Codes: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (boardId), INVALID (boardId, "
            "name, description, reportThreshold, statusLabels: a status twice, a blank or long label)."
        ),
    )
    async def update_board(self, info: Info, input: UpdateBoardInput) -> UpdateBoardPayload:
        board_id = relay.decode_id(input.board_id, "Board", "boardId")
        async with info.context.transaction() as session:
            board = await boards.update_board(
                session,
                info.context.actor,
                board_id,
                name=_given(input.name),
                description=_given(input.description),
                visibility=_given(input.visibility),
                archived=_given(input.archived),
                requires_approval=_given(input.requires_approval),
                report_threshold=_given(input.report_threshold),
                status_labels=_labels(_given(input.status_labels)),
                duplicate_sensitivity=_given(input.duplicate_sensitivity),
            )
        return UpdateBoardPayload(board=BoardNode(model=board))
