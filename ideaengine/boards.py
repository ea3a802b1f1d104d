"""Boards: who may see them, who may create them, and the sequence that makes staleness exact."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from ideaengine import validation
from ideaengine.errors import DomainError, ErrorCode, not_found
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform.models import Board, Idea, IdeaStatus, IdeaTag, Visibility, Workspace, utcnow
from ideaengine.platform.queries import Page, SortKey, Window, pages
from ideaengine.platform.upsert import insert_ignore


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """Boards the actor may read: public ones, and every board of its own workspace."""
    clause: ColumnElement[bool] = Board.visibility == Visibility.PUBLIC
    if actor.workspace_id is not None and actor.role >= ActorRole.MEMBER:
        clause = or_(clause, Board.workspace_id == actor.workspace_id)
    return clause


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
    if actor.workspace_id is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Sign in with an API key to create boards.")
    return actor.workspace_id


async def get_visible(session: AsyncSession, actor: Actor, workspace_slug: str, slug: str) -> Board | None:
    return (
        await session.execute(
            select(Board)
            .join(Workspace, Workspace.id == Board.workspace_id)
            .where(Workspace.slug == workspace_slug, Board.slug == slug, visible_to(actor))
        )
    ).scalar_one_or_none()


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


async def list_visible(session: AsyncSession, actor: Actor, workspace_slug: str, window: Window) -> Page[Board]:
    """One window of a workspace's readable boards, and how many there are."""
    stmt = select(Board).join(Workspace, Workspace.id == Board.workspace_id).where(visible_to(actor))
    return (await pages(session, stmt, Workspace.slug, [workspace_slug], ORDER, window))[workspace_slug]


async def tags_many(session: AsyncSession, board_ids: Sequence[int], limit: int = 100) -> dict[int, list[str]]:
    """Tags on each board's non-merged ideas, most used first (ties alphabetical), in one query."""
    uses = func.count()
    ranked = (
        select(
            Idea.board_id,
            IdeaTag.tag,
            func.row_number().over(partition_by=Idea.board_id, order_by=(uses.desc(), IdeaTag.tag)).label("rank"),
        )
        .join(Idea, Idea.id == IdeaTag.idea_id)
        .where(Idea.board_id.in_(board_ids), Idea.status != IdeaStatus.MERGED)
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


async def bump(
    session: AsyncSession, board_id: int, *, scores: bool = True, texts: bool = False, at: datetime | None = None
) -> None:
    """Mark the board's scores (and/or duplicate index) stale: every score-changing write calls this."""
    values: dict[str, object] = {"last_activity_at": at or utcnow()}
    if scores:
        values["score_seq"] = Board.score_seq + 1
    if texts:
        values["text_seq"] = Board.text_seq + 1
    await session.execute(update(Board).where(Board.id == board_id).values(**values))
