"""Ideas: submitting, editing, reading what the actor may see, and listing a board in any order."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from ideaengine import boards, campaigns, moderation, validation, visibility
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform import driver
from ideaengine.platform.models import (
    OPEN_STATUSES,
    Board,
    Follow,
    Idea,
    IdeaScore,
    IdeaStatus,
    IdeaTag,
    ModerationState,
    StatusChange,
    open_idea_clause,
    utcnow,
)
from ideaengine.platform.queries import Page, SortKey, Window, like_pattern, pages


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


async def submit(
    session: AsyncSession,
    actor: Actor,
    board_id: int,
    title: str,
    body: str = "",
    tags: Sequence[str] = (),
    campaign_id: int | None = None,
) -> Idea:
    """Members and above; the author follows the new idea at once, and its status history starts with
    SUBMITTED (from null, by the author), so the history holds every status the idea ever had. On a board
    that requires approval a member's idea starts PENDING: it is announced (live event, webhook, rankings)
    only when a moderator approves it. With `campaign_id` the idea enters that campaign of the same board,
    which must be open for entries (`campaigns.entry_for`)."""
    board = await boards.require_visible(session, actor, board_id)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "submit ideas")
    boards.require_active(board, "boardId")
    title = validation.title(title)
    body = validation.body(body)
    clean_tags = validation.tags(tags)
    if campaign_id is not None:
        await campaigns.entry_for(session, actor, campaign_id, board)
    now = utcnow()
    idea = Idea(
        board_id=board.id,
        author_id=user_id,
        title=title,
        body=body,
        search_text=search_text(title, body),
        status=IdeaStatus.SUBMITTED,
        moderation_state=moderation.initial_state(actor, board),
        created_at=now,
        updated_at=now,
        follower_count=1,
        campaign_id=campaign_id,
    )
    session.add(idea)
    await session.flush()
    session.add_all([IdeaTag(idea_id=idea.id, tag=t, position=i) for i, t in enumerate(clean_tags)])
    session.add(Follow(idea_id=idea.id, user_id=user_id, created_at=now))
    session.add(
        StatusChange(idea_id=idea.id, from_status=None, to_status=idea.status, actor_id=user_id, created_at=now)
    )
    await session.flush()
    if idea.moderation_state == ModerationState.VISIBLE:
        await moderation.publish_idea(session, board, idea, now)
    else:
        await moderation.queue_if_pending(session, board, idea)
    return idea


def can_edit(actor: Actor, idea: Idea, board: Board) -> bool:
    """Whether `edit` would accept the actor's change: permitted, the idea is not MERGED and its board is not
    archived (both read-only)."""
    return idea.status != IdeaStatus.MERGED and board.archived_at is None and _may_edit(actor, idea, board)


def _may_edit(actor: Actor, idea: Idea, board: Board) -> bool:
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
    if not _may_edit(actor, idea, board):
        await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "edit ideas")
        raise DomainError(ErrorCode.FORBIDDEN, "Only the author, moderators and admins may edit this idea.")
    boards.require_active(board, "ideaId")
    require_unmerged(idea, "edit")
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
    await session.flush()
    if text_changed:
        await boards.changed(session, board.id, idea.id, texts=True)
    return idea


async def get_for_write(
    session: AsyncSession, actor: Actor, idea_id: int, *, lock: bool = False, field: str = "ideaId"
) -> tuple[Idea, Board]:
    """An idea the actor can see, with its board; `lock` takes the row lock first (DECISIONS.md 8)."""
    found = await (lock_many(session, actor, [idea_id]) if lock else _with_boards(session, actor, [idea_id]))
    if idea_id not in found:
        raise not_found("No such idea.", field)
    return found[idea_id]


async def lock_many(session: AsyncSession, actor: Actor, idea_ids: Sequence[int]) -> dict[int, tuple[Idea, Board]]:
    """The ideas the actor can see, with their boards, row-locked in ascending id order.

    Every write that locks ideas locks them here, in one order, so two writes on the same ideas (a merge
    of A into B and one of B into A) queue behind each other instead of deadlocking.
    """
    # FOR NO KEY UPDATE: it serialises writers of the idea as FOR UPDATE does, but not the FK checks
    # (FOR KEY SHARE) of rows that point at the idea, such as a score refresh's upsert; with FOR UPDATE a
    # merge locking two ideas and a refresh writing both scores could deadlock. PostgreSQL locks the rows
    # as the sorted result yields them, so ORDER BY id is the locking order.
    return await _with_boards(session, actor, idea_ids, lock=True)


def _with_boards_stmt(lock: bool, bound: bool, chosen: ColumnElement[bool] | None = None) -> Select[Idea, Board]:
    chosen = Idea.id.in_(bindparam("ids", expanding=True)) if chosen is None else chosen
    stmt = (
        select(Idea, Board)
        .join(Board, Board.id == Idea.board_id)
        .where(chosen, boards.visible_to_reader(bound), visibility.ideas_bound())
        .order_by(Idea.id)
    )
    return stmt.with_for_update(of=Idea, key_share=True) if lock else stmt


_WITH_BOARDS = {(lock, bound): _with_boards_stmt(lock, bound) for lock in (False, True) for bound in (False, True)}
"Built once: every write on an idea starts here, and building the select cost more than running it."
_IDEA_COLUMNS = driver.loaded_columns(Idea)
_DETACHED_COLUMNS = _IDEA_COLUMNS + driver.loaded_columns(Board)
"""The columns of `lock_detached`'s row, the idea's then its board's: what the ORM loads (not the deferred ones,
such as an idea's embedding), in the order `detach` takes them."""
DETACHED_WIDTH = len(_DETACHED_COLUMNS)
"How many columns of a row `detach` takes."


IDEA_WIDTH = len(_IDEA_COLUMNS)
"How many columns of a row `detach_idea` takes: the idea's, as `detach` takes them first."


def _detached_select(
    lock: bool, bound: bool, *only: ColumnElement[bool], columns: Sequence[Any] = _DETACHED_COLUMNS
) -> Select[*tuple[Any, ...]]:
    chosen = and_(Idea.id == bindparam("id"), *only)
    return _with_boards_stmt(lock, bound, chosen).with_only_columns(*columns)


_LOCK_DETACHED = {bound: driver.Prepared(_detached_select(True, bound)) for bound in (False, True)}


async def lock_detached(work: driver.Write, actor: Actor, idea_id: int) -> tuple[Idea, Board]:
    """`get_for_write(..., lock=True)` on PostgreSQL through the driver, for the vote, the hottest write: the
    same statement and lock, but the idea and board come back outside the session (a write through them would
    not be flushed), built without the ORM's loading, a fifth of a vote's CPU. Writes that change them use
    `get_for_write`."""
    reader = boards.reader_params(actor)
    found = await _LOCK_DETACHED[bool(reader)].fetch(work, {"id": idea_id, **reader, **visibility.params(actor)})
    if not found:
        raise not_found("No such idea.", "ideaId")
    return detach(found[0])


def target_select(*only: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """`lock_detached`'s read (the idea `id`, for a reader of its board's workspace), with no lock, where `only`
    holds too: for a write that takes its lock first and reads after (`driver.AfterLock`). Its row is the idea's
    columns only, for `detach_idea`: the board is joined for the checks, and a vote needs no more of it than the
    idea's `board_id` (its columns, their times processed and a second instance built, were a tenth of the
    write's CPU)."""
    return _detached_select(False, True, *only, columns=_IDEA_COLUMNS)


def detach(values: Sequence[Any]) -> tuple[Idea, Board]:
    """The idea and board of a row of `lock_detached`'s columns, outside any session (`driver.detached`: a
    quarter of the cost of setting each attribute, a twentieth of a vote's CPU before)."""
    return detach_idea(values), driver.detached(Board, values[IDEA_WIDTH:DETACHED_WIDTH])


def detach_idea(values: Sequence[Any], replaced: Mapping[str, Any] | None = None) -> Idea:
    """The idea of a row whose first columns are the idea's (`target_select`'s, `lock_detached`'s); `replaced`
    gives some attributes other values than the row's (a write's new figures), as if loaded so."""
    if replaced:
        values = list(values[:IDEA_WIDTH])
        for key, value in replaced.items():
            values[_IDEA_AT[key]] = value
    return driver.detached(Idea, values[:IDEA_WIDTH])


_IDEA_AT = {key: at for at, (key, _) in enumerate(driver.loaded_attributes(Idea))}
"Where each of an idea's loaded attributes sits in `detach_idea`'s row."


async def _with_boards(
    session: AsyncSession, actor: Actor, idea_ids: Sequence[int], *, lock: bool = False
) -> dict[int, tuple[Idea, Board]]:
    reader = boards.reader_params(actor)
    stmt = _WITH_BOARDS[lock, bool(reader)]
    rows = await session.execute(stmt, {"ids": sorted(set(idea_ids)), **reader, **visibility.params(actor)})
    return {idea.id: (idea, board) for idea, board in rows.all()}


def require_open(idea: Idea, field: str = "ideaId") -> None:
    """Votes and comparisons need an open idea (DECISIONS.md 7) that is published (not PENDING or HIDDEN, which
    stay out of rankings): INVALID otherwise."""
    if idea.moderation_state != ModerationState.VISIBLE:
        raise invalid(f"This idea is {idea.moderation_state.value.lower()} and takes no votes or comparisons.", field)
    if idea.status not in OPEN_STATUSES:
        raise invalid(f"This idea is {idea.status.value.lower().replace('_', ' ')} and no longer takes votes.", field)


def require_unmerged(idea: Idea, action: str, field: str = "ideaId") -> None:
    """A MERGED idea is read-only, its votes, comments and followers moved to the idea it went to: edits and
    comments are INVALID there, as votes are."""
    if idea.status == IdeaStatus.MERGED:
        raise invalid(f"This idea was merged into another; {action} the idea it was merged into.", field)


async def get_visible_many(
    session: AsyncSession, actor: Actor, ids: Sequence[int], *, unmerged: bool = False
) -> dict[int, Idea]:
    """The ideas among `ids` the actor may see (with `unmerged`, only those not merged), loaded."""
    return await _many(session, ids, visibility.ideas_clause(actor), unmerged)


async def visible_ids(session: AsyncSession, actor: Actor, ids: Sequence[int], *, unmerged: bool = False) -> set[int]:
    """`get_visible_many`'s ideas by id only: to filter many candidates without loading them."""
    if not ids:
        return set()
    stmt = _among(select(Idea.id), ids, visibility.ideas_clause(actor), unmerged)
    return set((await session.execute(stmt)).scalars())


async def get_notified_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Idea]:
    """The ideas the actor's notifications are about: those it may see, and its own whatever their state."""
    return await _many(session, ids, visibility.notified_ideas_clause(actor))


async def _many(
    session: AsyncSession, ids: Sequence[int], readable: ColumnElement[bool], unmerged: bool = False
) -> dict[int, Idea]:
    return {i.id: i for i in (await session.execute(_among(select(Idea), ids, readable, unmerged))).scalars()}


def _among(stmt: Select[Any], ids: Sequence[int], readable: ColumnElement[bool], unmerged: bool = False) -> Select[Any]:
    """`stmt` over the ideas among `ids` that `readable` (a visibility clause, which joins Board) lets through,
    and with `unmerged` only those not merged (what "did you mean" may offer)."""
    stmt = stmt.join(Board, Board.id == Idea.board_id).where(Idea.id.in_(ids), readable)
    return stmt.where(Idea.status != IdeaStatus.MERGED) if unmerged else stmt


_TAGS = (
    select(IdeaTag.idea_id, IdeaTag.tag)
    .where(IdeaTag.idea_id.in_(bindparam("ids", expanding=True)))
    .order_by(IdeaTag.idea_id, IdeaTag.position, IdeaTag.tag)
)
"Built once: a DataLoader batch runs it for every page that shows tags (see boards._BY_SLUG)."


async def tags_many(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    rows = await session.execute(_TAGS, {"ids": list(ids)})
    for idea_id, tag in rows:
        out[idea_id].append(tag)
    return out


@dataclass(frozen=True)
class IdeaFilter:
    statuses: Sequence[IdeaStatus] | None = None
    tag: str | None = None
    search: str | None = None
    campaign_id: int | None = None
    "Only the entries of this campaign (Campaign.ideas is the board's listing with this filter)."


def listed_by_default() -> ColumnElement[bool]:
    """Without a status filter a board lists every idea but the MERGED ones (DECISIONS.md 10)."""
    return Idea.status != IdeaStatus.MERGED


def _filtered(f: IdeaFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.statuses is None:
        where.append(listed_by_default())
    else:
        where.append(Idea.status.in_(list(f.statuses)))
    if f.tag is not None:
        tag = validation.tags([f.tag], "tag")[0] if f.tag.strip() else ""
        where.append(exists().where(IdeaTag.idea_id == Idea.id, IdeaTag.tag == tag))
    if f.campaign_id is not None:
        where.append(Idea.campaign_id == f.campaign_id)
    if f.search is not None:
        for word in validation.search_form(f.search).split()[:10]:
            where.append(Idea.search_text.like(like_pattern(word), escape="\\"))
    return where


SCORED_SORTS = {
    IdeaSort.TOP: IdeaScore.wilson_lower_bound,
    IdeaSort.TRENDING: IdeaScore.trending,
    IdeaSort.PAIRWISE: IdeaScore.bradley_terry,
    IdeaSort.ELO: IdeaScore.elo,
}
"""Each scored sort's column. An idea never scored has the neutral value there (0, or Elo's initial rating): its
placeholder row (see IdeaScore) carries it, so keys are never NULL and order and cursors agree on both
databases (DECISIONS.md 18)."""


def sort_keys(sort: IdeaSort) -> tuple[SortKey, ...]:
    """A sort's order, ties broken by newest then id. A scored sort's keys are all its score row's, in the order
    of that sort's index (board, figure, created_at, idea_id; see IdeaScore), read backwards: a page stops early
    instead of sorting the whole board."""
    if sort == IdeaSort.NEWEST:
        return (SortKey(Idea.created_at, descending=True), SortKey(Idea.id, descending=True))
    if sort == IdeaSort.MOST_VOTES:
        return (
            SortKey(Idea.up_count, descending=True),
            SortKey(Idea.created_at, descending=True),
            SortKey(Idea.id, descending=True),
        )
    return (
        SortKey(SCORED_SORTS[sort], descending=True),
        SortKey(IdeaScore.created_at, descending=True),
        SortKey(IdeaScore.idea_id, descending=True),
    )


def with_score_rows(stmt: Select[Any]) -> Select[Any]:
    """A select of ideas joined to their score rows (every idea has one): on the board too, so that a board's
    list reads the scored sort's index for that board (PostgreSQL infers the board of the rows from the join)."""
    return stmt.join(IdeaScore, and_(IdeaScore.idea_id == Idea.id, IdeaScore.board_id == Idea.board_id))


async def list_boards(
    session: AsyncSession, actor: Actor, board_ids: Sequence[int], sort: IdeaSort, f: IdeaFilter, window: Window
) -> dict[int, Page[Idea]]:
    """One window of each visible board's ideas in `sort` order, with each list's total."""
    stmt = select(Idea).join(Board, Board.id == Idea.board_id).where(visibility.ideas_clause(actor), *_filtered(f))
    if sort in SCORED_SORTS:
        stmt = with_score_rows(stmt)
    return await pages(session, stmt, Idea.board_id, board_ids, sort_keys(sort), window)


async def open_ideas(session: AsyncSession, board_id: int) -> list[Idea]:
    """Open, published ideas: what pairwise matchups offer."""
    return list(
        (
            await session.execute(select(Idea).where(Idea.board_id == board_id, open_idea_clause()).order_by(Idea.id))
        ).scalars()
    )
