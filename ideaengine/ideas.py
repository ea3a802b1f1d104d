"""Ideas: submitting, editing, reading what the actor may see, and listing a board in any order."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, and_, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

import ranking
from ideaengine import boards, validation, webhooks
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform import events, jobs
from ideaengine.platform.models import OPEN_STATUSES, Board, Follow, Idea, IdeaScore, IdeaStatus, IdeaTag, utcnow
from ideaengine.platform.queries import like_pattern

REFRESH_SCORES = "workers.scores.refresh_board"
"Dotted job names: resolved at run time, so the domain never imports workers."
INDEX_TEXTS = "workers.duplicates.index_board"


class IdeaSort(enum.Enum):
    """How a board's ideas are ordered; ties break by newest, then id."""

    TOP = "TOP"
    TRENDING = "TRENDING"
    PAIRWISE = "PAIRWISE"
    ELO = "ELO"
    MOST_VOTES = "MOST_VOTES"
    NEWEST = "NEWEST"


def search_text(title: str, body: str) -> str:
    return validation.search_form(f"{title}\n{body}")


def scores_changed(session: AsyncSession, board_id: int) -> None:
    """After commit, a coalesced refresh of the board's scores."""
    jobs.after_commit(session, REFRESH_SCORES, board_id, coalesce=True)


def texts_changed(session: AsyncSession, board_id: int) -> None:
    jobs.after_commit(session, INDEX_TEXTS, board_id, coalesce=True)


async def submit(
    session: AsyncSession, actor: Actor, board_id: int, title: str, body: str = "", tags: Sequence[str] = ()
) -> Idea:
    """Members and above; the author follows the new idea at once."""
    board = await boards.require_visible(session, actor, board_id)
    user_id = actor.require(board.workspace_id, ActorRole.MEMBER, "submit ideas")
    title = validation.title(title)
    body = validation.body(body)
    clean_tags = validation.tags(tags)
    now = utcnow()
    idea = Idea(
        board_id=board.id,
        author_id=user_id,
        title=title,
        body=body,
        search_text=search_text(title, body),
        status=IdeaStatus.SUBMITTED,
        created_at=now,
        updated_at=now,
        follower_count=1,
    )
    session.add(idea)
    await session.flush()
    session.add_all([IdeaTag(idea_id=idea.id, tag=t, position=i) for i, t in enumerate(clean_tags)])
    session.add(Follow(idea_id=idea.id, user_id=user_id, created_at=now))
    await boards.bump(session, board.id, scores=True, texts=True, at=now)
    await session.flush()
    scores_changed(session, board.id)
    texts_changed(session, board.id)
    events.board_event(session, board.id, events.IDEA_SUBMITTED, now, ideaId=idea.id)
    await webhooks.emit(session, board, webhooks.WebhookEvent.IDEA_SUBMITTED, {"idea": webhooks.idea_ref(idea, board)})
    return idea


def can_edit(actor: Actor, idea: Idea, board: Board) -> bool:
    if actor.is_moderator_of(board.workspace_id):
        return True
    return actor.is_member_of(board.workspace_id) and idea.author_id is not None and idea.author_id == actor.user_id


async def edit(
    session: AsyncSession,
    actor: Actor,
    idea_id: int,
    title: str | None = None,
    body: str | None = None,
    tags: Sequence[str] | None = None,
) -> Idea:
    """The author, moderators and admins; a MERGED idea is read-only."""
    idea, board = await get_for_write(session, actor, idea_id, lock=True)
    if not can_edit(actor, idea, board):
        actor.require(board.workspace_id, ActorRole.MEMBER, "edit ideas")
        raise DomainError(ErrorCode.FORBIDDEN, "Only the author, moderators and admins may edit this idea.")
    if idea.status == IdeaStatus.MERGED:
        raise invalid("A merged idea cannot be edited; edit the idea it was merged into.", "ideaId")
    new_title = idea.title if title is None else validation.title(title)
    new_body = idea.body if body is None else validation.body(body)
    new_tags = None if tags is None else validation.tags(tags)
    text_changed = (new_title, new_body) != (idea.title, idea.body)
    idea.title, idea.body = new_title, new_body
    idea.search_text = search_text(new_title, new_body)
    idea.updated_at = utcnow()
    if new_tags is not None:
        await session.execute(delete(IdeaTag).where(IdeaTag.idea_id == idea.id))
        session.add_all([IdeaTag(idea_id=idea.id, tag=t, position=i) for i, t in enumerate(new_tags)])
    if text_changed:
        idea.embedding = None
        await boards.bump(session, board.id, scores=True, texts=True)
        scores_changed(session, board.id)
        texts_changed(session, board.id)
    await session.flush()
    return idea


async def get_for_write(
    session: AsyncSession, actor: Actor, idea_id: int, *, lock: bool = False, field: str = "ideaId"
) -> tuple[Idea, Board]:
    """An idea the actor can see, with its board; `lock` takes the row lock first (DECISIONS.md 8)."""
    stmt = (
        select(Idea, Board).join(Board, Board.id == Idea.board_id).where(Idea.id == idea_id, boards.visible_to(actor))
    )
    if lock:
        # FOR NO KEY UPDATE: it serialises writers of the idea as FOR UPDATE does, but not the FK checks
        # (FOR KEY SHARE) of rows that point at the idea, such as a score refresh's upsert; with FOR UPDATE a
        # merge locking two ideas and a refresh writing both scores could deadlock.
        stmt = stmt.with_for_update(of=Idea, key_share=True)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise not_found("No such idea.", field)
    return row[0], row[1]


def require_open(idea: Idea, field: str = "ideaId") -> None:
    if idea.status not in OPEN_STATUSES:
        raise invalid(f"This idea is {idea.status.value.lower().replace('_', ' ')} and no longer takes votes.", field)


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Idea]:
    rows = (
        await session.execute(
            select(Idea).join(Board, Board.id == Idea.board_id).where(Idea.id.in_(ids), boards.visible_to(actor))
        )
    ).scalars()
    return {i.id: i for i in rows}


async def tags_many(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    rows = await session.execute(
        select(IdeaTag.idea_id, IdeaTag.tag)
        .where(IdeaTag.idea_id.in_(ids))
        .order_by(IdeaTag.idea_id, IdeaTag.position, IdeaTag.tag)
    )
    for idea_id, tag in rows:
        out[idea_id].append(tag)
    return out


@dataclass(frozen=True)
class IdeaFilter:
    statuses: Sequence[IdeaStatus] | None = None
    tag: str | None = None
    search: str | None = None


def listed_by_default() -> ColumnElement[bool]:
    """Without a status filter a board lists every idea but the MERGED ones (DECISIONS.md 10)."""
    return Idea.status != IdeaStatus.MERGED


def sort_keys(sort: IdeaSort) -> tuple[SQLColumnExpression[Any], ...]:
    """What a board's ideas are ordered by, every key descending: the figure, then newest, then highest id.

    Written once for the listing and for the TOP rank the score worker stores, so the two always agree.
    Scored sorts read IdeaScore (outer-joined): an idea not scored yet counts as the figure's neutral value,
    which also keeps NULLs out of the order on both databases.
    """
    newest = (Idea.created_at, Idea.id)
    if sort == IdeaSort.NEWEST:
        return newest
    if sort == IdeaSort.MOST_VOTES:
        return (Idea.up_count, *newest)
    figure, neutral = {
        IdeaSort.TOP: (IdeaScore.wilson_lower_bound, 0.0),
        IdeaSort.TRENDING: (IdeaScore.trending, 0.0),
        IdeaSort.PAIRWISE: (IdeaScore.bradley_terry, 0.0),
        IdeaSort.ELO: (IdeaScore.elo, ranking.ELO_INITIAL),
    }[sort]
    return (func.coalesce(figure, neutral), *newest)


def _filtered(board_id: int, f: IdeaFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Idea.board_id == board_id]
    if f.statuses is None:
        where.append(listed_by_default())
    else:
        where.append(Idea.status.in_(list(f.statuses)))
    if f.tag is not None:
        tag = validation.tags([f.tag], "tag")[0] if f.tag.strip() else ""
        where.append(exists().where(IdeaTag.idea_id == Idea.id, IdeaTag.tag == tag))
    if f.search is not None:
        for word in validation.search_form(f.search).split()[:10]:
            where.append(Idea.search_text.like(like_pattern(word), escape="\\"))
    return where


def _ordered(stmt: Select[Idea], sort: IdeaSort) -> Select[Idea]:
    if sort not in (IdeaSort.NEWEST, IdeaSort.MOST_VOTES):
        stmt = stmt.outerjoin(IdeaScore, IdeaScore.idea_id == Idea.id)
    return stmt.order_by(*(key.desc() for key in sort_keys(sort)))


async def list_board(
    session: AsyncSession, board: Board, sort: IdeaSort, f: IdeaFilter, offset: int, limit: int
) -> tuple[list[Idea], int]:
    """One page of a board's ideas (the caller has checked the board is visible) and the total."""
    where = _filtered(board.id, f)
    total = (await session.execute(select(func.count()).select_from(Idea).where(and_(*where)))).scalar_one()
    if limit == 0:
        return [], int(total)
    rows = (await session.execute(_ordered(select(Idea).where(*where), sort).offset(offset).limit(limit))).scalars()
    return list(rows), int(total)


async def open_ideas(session: AsyncSession, board_id: int) -> list[Idea]:
    return list(
        (
            await session.execute(
                select(Idea).where(Idea.board_id == board_id, Idea.status.in_(list(OPEN_STATUSES))).order_by(Idea.id)
            )
        ).scalars()
    )
