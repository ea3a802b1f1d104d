"""Boards: who may see them, who may create them, and the sequence that makes staleness exact."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter

from ideaengine import status_labels as labels
from ideaengine import validation
from ideaengine.errors import DomainError, ErrorCode, not_found
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform import driver, jobs
from ideaengine.platform.events import Writing
from ideaengine.platform.models import (
    Board,
    BoardScoreSeq,
    DuplicateSensitivity,
    Idea,
    IdeaStatus,
    IdeaTag,
    ModerationState,
    Visibility,
    Workspace,
    utcnow,
)
from ideaengine.platform.queries import Page, SortKey, Window, pages
from ideaengine.platform.upsert import built_once, insert_for, insert_ignore

REFRESH_SCORES = "workers.scores.refresh_board"
"Dotted job names: resolved at run time, so the domain never imports workers."
INDEX_TEXTS = "workers.duplicates.index_board"
REPORT_THRESHOLD_MAX = 100
"Largest number of distinct reporters a board may wait for before content is hidden."
SCORE_SEQ_SHARDS = 16
"Rows a board's score sequence is spread over: votes on ideas in different shards never wait on each other."


def _member_workspace(actor: Actor) -> int | None:
    """The workspace whose every board the actor may read (members and above), if any."""
    return actor.workspace_id if actor.workspace_id is not None and actor.role >= ActorRole.MEMBER else None


def _visibility(member_of: int | BindParameter[int] | None) -> ColumnElement[bool]:
    """Boards an actor may read: public ones, and every board of the workspace it is a member of (given as a
    value, or as a bind parameter so that a statement built on it can be built once and reused)."""
    clause: ColumnElement[bool] = Board.visibility == Visibility.PUBLIC
    if member_of is not None:
        clause = or_(clause, Board.workspace_id == member_of)
    return clause


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """Boards the actor may read: public ones, and every board of its own workspace."""
    return _visibility(_member_workspace(actor))


def visible_to_reader(bound: bool) -> ColumnElement[bool]:
    """`visible_to` for a statement built once: with `bound`, the reader's workspace is the bind parameter
    `reader_workspace` that `reader_params` supplies; without it, only public boards."""
    return _visibility(bindparam("reader_workspace") if bound else None)


def reader_params(actor: Actor) -> dict[str, int]:
    """The parameters of a statement built on `visible_to_reader(bound=...)`: empty when `bound` is False."""
    workspace = _member_workspace(actor)
    return {} if workspace is None else {"reader_workspace": workspace}


def _by_slug(member_of: BindParameter[int] | None) -> Select[Board]:
    return (
        select(Board)
        .join(Workspace, Workspace.id == Board.workspace_id)
        .where(Workspace.slug == bindparam("workspace"), Board.slug == bindparam("slug"), _visibility(member_of))
    )


_BY_SLUG = {False: _by_slug(None), True: _by_slug(bindparam("reader_workspace"))}
"""Built once: building a select and its cache key anew cost about as much as running it (profile of a
page of ideas), and a board lookup starts most reads."""
_BY_SLUG_ON_DRIVER = {
    bound: driver.Prepared(stmt.with_only_columns(*driver.loaded_columns(Board))) for bound, stmt in _BY_SLUG.items()
}
"""The lookup as a prepared read (on the driver on PostgreSQL): through the ORM it cost a board's page a tenth
of its CPU, and a prepared read run again by the response cache (`platform.replay`) also serves the request
when its rows changed."""


def can_read(actor: Actor, board: Board) -> bool:
    return board.visibility == Visibility.PUBLIC or actor.is_member_of(board.workspace_id)


async def create_board(
    session: AsyncSession,
    actor: Actor,
    workspace_id: int,
    slug: str,
    name: str,
    description: str = "",
    visibility: Visibility = Visibility.PUBLIC,
) -> Board:
    """Admins only; a slug is unique within its workspace (CONFLICT otherwise)."""
    actor.require(workspace_id, ActorRole.ADMIN, "create boards")
    slug = validation.slug(slug)
    name = validation.text(name, "name", min_len=1, max_len=validation.NAME_MAX, label="A name")
    description = validation.text(description, "description", max_len=validation.DESCRIPTION_MAX, label="A description")
    now = utcnow()
    created = await insert_ignore(
        session,
        Board,
        dict(
            workspace_id=workspace_id,
            slug=slug,
            name=name,
            description=description,
            visibility=visibility,
            created_at=now,
            last_activity_at=now,
        ),
        ["workspace_id", "slug"],
    )
    if not created:
        raise DomainError(ErrorCode.CONFLICT, f"A board with the slug {slug!r} already exists.", "slug")
    return (
        await session.execute(select(Board).where(Board.workspace_id == workspace_id, Board.slug == slug))
    ).scalar_one()


async def workspace_for_actor(session: AsyncSession, actor: Actor) -> int:
    """The workspace a signed-in actor writes to; anonymous actors have none."""
    actor.refuse_if_banned()
    if actor.workspace_id is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Sign in with an API key to create boards.")
    return actor.workspace_id


async def get_visible(session: AsyncSession, actor: Actor, workspace_slug: str, slug: str) -> Board | None:
    """None for anything that is not a pair of slugs: it names no board, and a NUL would not even reach
    PostgreSQL as a string."""
    if not (validation.SLUG.fullmatch(workspace_slug) and validation.SLUG.fullmatch(slug)):
        return None
    reader = reader_params(actor)
    params = {"workspace": workspace_slug, "slug": slug, **reader}
    found = await _BY_SLUG_ON_DRIVER[bool(reader)].read(session, params)
    return driver.detached(Board, found[0]) if found else None


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Board]:
    rows = (await session.execute(select(Board).where(Board.id.in_(ids), visible_to(actor)))).scalars()
    return {b.id: b for b in rows}


async def require_visible(session: AsyncSession, actor: Actor, board_id: int, field: str = "boardId") -> Board:
    board = (await get_visible_many(session, actor, [board_id])).get(board_id)
    if board is None:
        raise not_found("No such board.", field)
    return board


ORDER = (SortKey(Board.created_at), SortKey(Board.id))
"Oldest first."
ORDER_BY = (Board.created_at, Board.id)


async def list_visible(
    session: AsyncSession, actor: Actor, workspace_slug: str, window: Window, *, include_archived: bool = False
) -> Page[Board]:
    """One window of a workspace's readable boards, and how many there are; archived ones only if asked. None
    for a name that is not a slug (which no workspace has, and PostgreSQL refuses a NUL in any string it is sent)."""
    if not validation.SLUG.fullmatch(workspace_slug):
        return Page()
    stmt = select(Board).join(Workspace, Workspace.id == Board.workspace_id).where(visible_to(actor))
    if not include_archived:
        stmt = stmt.where(Board.archived_at.is_(None))
    return (await pages(session, stmt, Workspace.slug, [workspace_slug], ORDER, window))[workspace_slug]


async def list_all(session: AsyncSession, workspace_id: int | None = None) -> Sequence[tuple[Board, str]]:
    """Every board (archived too) with its workspace's slug, by workspace then oldest first: the operator's view."""
    stmt = select(Board, Workspace.slug).join(Workspace, Workspace.id == Board.workspace_id)
    if workspace_id is not None:
        stmt = stmt.where(Board.workspace_id == workspace_id)
    rows = await session.execute(stmt.order_by(Workspace.created_at, Workspace.id, *ORDER_BY))
    return [(board, slug) for board, slug in rows]


def require_active(board: Board, field: str) -> None:
    """An archived board is read-only: whatever would change its ideas is BOARD_ARCHIVED (field: the input
    that led to it). Called after the permission check, so a caller who may not write hears that first."""
    if board.archived_at is not None:
        raise DomainError(
            ErrorCode.BOARD_ARCHIVED, f"The board {board.name!r} is archived: it can be read but not changed.", field
        )


def active_clause() -> ColumnElement[bool]:
    """`require_active` as SQL, for a write run as one statement that writes only on an active board."""
    return Board.archived_at.is_(None)


async def update_board(
    session: AsyncSession,
    actor: Actor,
    board_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    visibility: Visibility | None = None,
    archived: bool | None = None,
    requires_approval: bool | None = None,
    report_threshold: int | None = None,
    status_labels: Sequence[tuple[IdeaStatus, str]] | None = None,
    duplicate_sensitivity: DuplicateSensitivity | None = None,
) -> Board:
    """Admins: change what is given (None leaves a field as it is). Archiving makes the board read-only and
    hides it from `boards` unless asked; unarchiving undoes both. The slug stays: URLs and embeds use it.
    `requires_approval` holds members' new ideas and comments as PENDING; `report_threshold` (1-100) is how
    many distinct users' reports hide a subject. Status labels given replace the board's labels (statuses left
    out read as their defaults). A new `duplicate_sensitivity` rebuilds the board's duplicate clusters after commit."""
    board = await require_visible(session, actor, board_id)
    actor.require(board.workspace_id, ActorRole.ADMIN, "edit boards")
    if name is not None:
        name = validation.text(name, "name", min_len=1, max_len=validation.NAME_MAX, label="A name")
    if description is not None:
        description = validation.text(
            description, "description", max_len=validation.DESCRIPTION_MAX, label="A description"
        )
    if report_threshold is not None and not 1 <= report_threshold <= REPORT_THRESHOLD_MAX:
        raise DomainError(
            ErrorCode.INVALID, f"A report threshold is between 1 and {REPORT_THRESHOLD_MAX}.", "reportThreshold"
        )
    new_labels = None if status_labels is None else labels.parse(status_labels)
    board.name = board.name if name is None else name
    board.description = board.description if description is None else description
    board.visibility = visibility or board.visibility
    if archived is not None and archived != (board.archived_at is not None):
        board.archived_at = utcnow() if archived else None
    if requires_approval is not None:
        board.requires_approval = requires_approval
    if report_threshold is not None:
        board.report_threshold = report_threshold
    if new_labels is not None:
        board.status_labels = new_labels or None
    if duplicate_sensitivity is not None and duplicate_sensitivity != board.duplicate_sensitivity:
        board.duplicate_sensitivity = duplicate_sensitivity
        jobs.after_commit(session, INDEX_TEXTS, board_id, coalesce=True)
    await session.flush()
    return board


async def tags_many(session: AsyncSession, board_ids: Sequence[int], limit: int = 100) -> dict[int, list[str]]:
    """Tags on each board's published, non-merged ideas, most used first (ties alphabetical), in one query."""
    uses = func.count()
    ranked = (
        select(
            Idea.board_id,
            IdeaTag.tag,
            func.row_number().over(partition_by=Idea.board_id, order_by=(uses.desc(), IdeaTag.tag)).label("rank"),
        )
        .join(Idea, Idea.id == IdeaTag.idea_id)
        .where(
            Idea.board_id.in_(board_ids),
            Idea.status != IdeaStatus.MERGED,
            Idea.moderation_state == ModerationState.VISIBLE,
        )
        .group_by(Idea.board_id, IdeaTag.tag)
        .subquery()
    )
    out: dict[int, list[str]] = {b: [] for b in board_ids}
    rows = await session.execute(
        select(ranked.c.board_id, ranked.c.tag).where(ranked.c.rank <= limit).order_by(ranked.c.board_id, ranked.c.rank)
    )
    for board_id, tag in rows:
        out[board_id].append(tag)
    return out


_BUMP: dict[str, Any] = {}
"The score sequence's upsert, built once per dialect: every vote and comparison runs it."


def _bump(session: AsyncSession) -> Any:
    shards = cast(Table, BoardScoreSeq.__table__)  # a Core statement: no ORM bulk machinery on every vote
    stmt = insert_for(session, shards).values(board_id=bindparam("board_id"), shard=bindparam("shard"), seq=1)
    return stmt.on_conflict_do_update(index_elements=["board_id", "shard"], set_={"seq": shards.c.seq + 1})


async def changed(
    session: AsyncSession,
    board_id: int,
    idea_id: int,
    *,
    scores: bool = True,
    texts: bool = False,
    at: datetime | None = None,
) -> None:
    """Say that a write about `idea_id` changed what the board's scores (and/or duplicate index) come from.

    The one way to say so: it bumps the sequence that makes staleness exact (DECISIONS.md 12) and queues
    the coalesced refresh for after commit (DECISIONS.md 13). Call it last in a write: the rows it updates
    are the last locks the write takes, so writes never wait on each other in opposite orders. A change of
    scores alone (a vote, a comparison) leaves the board row alone: it touches one shard of the sequence.
    """
    if scores:
        bump = built_once(_BUMP, session, _bump)
        await session.execute(bump, {"board_id": board_id, "shard": score_shard(idea_id)})
        refresh_after_commit(session, board_id)
    if texts:
        await session.execute(
            update(Board)
            .where(Board.id == board_id)
            .values(text_seq=Board.text_seq + 1, last_activity_at=at or utcnow())
        )
        jobs.after_commit(session, INDEX_TEXTS, board_id, coalesce=True)


def score_shard(idea_id: int) -> int:
    """The shard of the board's score sequence a change to this idea bumps."""
    return idea_id % SCORE_SEQ_SHARDS


def score_shard_sql(idea_id: str) -> str:
    """`score_shard` as SQL, of an idea id column or expression."""
    return f"({idea_id}) % {SCORE_SEQ_SHARDS}"


def bump_sql(board: str, shard: str, source: str) -> str:
    """`changed`'s bump as a PostgreSQL sub-statement, for a write run as one statement (the vote's): it bumps
    the shard once if `source` (a CTE of that statement) yields a row. Pair it with `refresh_after_commit`."""
    return (
        f"INSERT INTO board_score_seqs (board_id, shard, seq) SELECT {board}, {shard}, 1 FROM {source} LIMIT 1 "
        "ON CONFLICT (board_id, shard) DO UPDATE SET seq = board_score_seqs.seq + 1"
    )


def refresh_after_commit(session: Writing, board_id: int) -> None:
    """Queue the board's coalesced score refresh for after commit (DECISIONS.md 13); `changed` calls it."""
    jobs.after_commit(session, REFRESH_SCORES, board_id, coalesce=True)


def score_seq(board_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[int]:
    """The board's current score sequence, as SQL: the sum of its shards (0 before any score-changing write)."""
    return (
        select(func.coalesce(func.sum(BoardScoreSeq.seq), 0))
        .where(BoardScoreSeq.board_id == board_id)
        .scalar_subquery()
    )
