"""Follows and notifications: followers hear of every status change, merge and official comment."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVar

from sqlalchemy import Select, delete, exists, func, literal, literal_column, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ideaengine import ideas, mail, notification_settings, visibility
from ideaengine.errors import DomainError, ErrorCode
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import (
    Board,
    Follow,
    Idea,
    Notification,
    NotificationKind,
    NotificationSetting,
    utcnow,
)
from ideaengine.platform.queries import Page, SortKey, Window, pages
from ideaengine.platform.upsert import insert_for, insert_ignore

T = TypeVar("T")


async def follow(session: AsyncSession, actor: Actor, idea_id: int, on: bool) -> Idea:
    """Members and above; following twice or unfollowing twice changes nothing."""
    idea, board = await ideas.get_for_write(session, actor, idea_id, lock=True)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "follow ideas")
    if on:
        changed = await insert_ignore(
            session, Follow, dict(idea_id=idea.id, user_id=user_id, created_at=utcnow()), ["idea_id", "user_id"]
        )
        delta = 1 if changed else 0
    else:
        result = await session.execute(delete(Follow).where(Follow.idea_id == idea.id, Follow.user_id == user_id))
        delta = -int(result.rowcount)  # type: ignore[attr-defined]
    if delta:
        await session.execute(update(Idea).where(Idea.id == idea.id).values(follower_count=Idea.follower_count + delta))
        await session.refresh(idea, ["follower_count"])
    return idea


async def follow_on_vote(session: AsyncSession, idea: Idea, user_id: int) -> None:
    """A new UP vote follows the idea, unless the voter turned followOnVote off; one statement when nothing
    changes. Withdrawing the vote later leaves the follow alone (unfollowing is the user's own choice)."""
    now = utcnow()
    off = notification_settings.FOLLOWS_ON_VOTE_OFF.where(NotificationSetting.user_id == user_id)
    row = select(literal(idea.id), literal(user_id), literal(now, type_=Follow.created_at.type)).where(~exists(off))
    stmt = insert_for(session, Follow).from_select(["idea_id", "user_id", "created_at"], row)
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["idea_id", "user_id"]))
    if result.rowcount:  # type: ignore[attr-defined]
        count = await session.execute(
            update(Idea)
            .where(Idea.id == idea.id)
            .values(follower_count=Idea.follower_count + 1)
            .returning(Idea.follower_count)
        )
        set_committed_value(idea, "follower_count", count.scalar_one())


_POSTGRES = postgresql.dialect()  # type: ignore[no-untyped-call]


def follow_on_vote_sql(idea: str, user: str, at: str, when: str) -> str:
    """`follow_on_vote` as a PostgreSQL sub-statement, for a vote run as one statement: when the SQL condition
    `when` holds (a new UP vote), the voter follows the idea unless they turned followOnVote off. It returns a
    row per new follow, for the statement to add to the idea's follower_count."""
    off = notification_settings.FOLLOWS_ON_VOTE_OFF.where(NotificationSetting.user_id == literal_column(user))
    return (
        f"INSERT INTO follows (idea_id, user_id, created_at) SELECT {idea}, {user}, {at} "
        f"WHERE {when} AND NOT EXISTS ({off.compile(dialect=_POSTGRES)}) "
        "ON CONFLICT (idea_id, user_id) DO NOTHING RETURNING 1"
    )


async def notify_followers(
    session: AsyncSession,
    actor: Actor,
    idea: Idea,
    kind: NotificationKind,
    message: str,
    told: Collection[int] = (),
) -> None:
    """One notification per follower but the actor (and those already `told` of it otherwise), written in the
    caller's transaction (DECISIONS.md 11), with its email (`mail.queue`)."""
    now = utcnow()
    followers = select(
        Follow.user_id,
        literal(idea.id),
        literal(kind.value),
        literal(message),
        literal(False),
        literal(now, type_=Notification.created_at.type),
    ).where(Follow.idea_id == idea.id)
    if actor.user_id is not None:
        followers = followers.where(Follow.user_id != actor.user_id)
    if told:
        followers = followers.where(Follow.user_id.not_in(list(told)))
    written = await session.execute(
        Notification.__table__.insert()  # type: ignore[attr-defined]
        .from_select(["user_id", "idea_id", "kind", "message", "read", "created_at"], followers)
        .returning(Notification.id)
    )
    await mail.queue(session, list(written.scalars()))


FOLLOWING_ORDER = (SortKey(Follow.created_at, descending=True), SortKey(Idea.id, descending=True))
"Most recently followed first."
NOTIFICATIONS_ORDER = (SortKey(Notification.id, descending=True),)
"Newest first."


async def following(session: AsyncSession, actor: Actor, window: Window) -> Page[Idea]:
    """One window of the ideas the viewer follows (on boards they can still read)."""
    if actor.user_id is None:
        return Page()
    stmt = (
        select(Idea)
        .join(Follow, Follow.idea_id == Idea.id)
        .join(Board, Board.id == Idea.board_id)
        .where(visibility.ideas_clause(actor))
    )
    return (await pages(session, stmt, Follow.user_id, [actor.user_id], FOLLOWING_ORDER, window))[actor.user_id]


async def notifications(
    session: AsyncSession, actor: Actor, window: Window, unread_only: bool = False
) -> Page[Notification]:
    """One window of the viewer's own notifications about ideas they can still see, or wrote (not those on
    others' ideas since hidden from them)."""
    if actor.user_id is None:
        return Page()
    stmt = _openable(actor, select(Notification))
    if unread_only:
        stmt = stmt.where(Notification.read.is_(False))
    return (await pages(session, stmt, Notification.user_id, [actor.user_id], NOTIFICATIONS_ORDER, window))[
        actor.user_id
    ]


async def notifications_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Notification]:
    """The actor's own notifications among `ids`: anyone else's are never visible."""
    if actor.user_id is None:
        return {}
    rows = await session.execute(_openable(actor, select(Notification)).where(Notification.id.in_(ids)))
    return {n.id: n for n in rows.scalars()}


def _openable(actor: Actor, stmt: Select[T]) -> Select[T]:
    """The actor's notifications about ideas they can still see, or wrote: what `notifications` lists and
    `unread_count` counts, so a badge never counts one the list cannot show (another's idea hidden since, or a
    board closed to them)."""
    return (
        stmt.select_from(Notification)
        .join(Idea, Idea.id == Notification.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .where(Notification.user_id == actor.user_id, visibility.notified_ideas_clause(actor))
    )


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    if actor.user_id is None:
        return 0
    stmt = _openable(actor, select(func.count())).where(Notification.read.is_(False))
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(session: AsyncSession, actor: Actor, ids: Sequence[int] | None) -> int:
    """Mark the viewer's notifications read (all when ids is None); returns the unread count after."""
    actor.refuse_if_banned()
    if actor.user_id is None or actor.role < ActorRole.MEMBER:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Sign in to read notifications.")
    stmt = update(Notification).where(Notification.user_id == actor.user_id, Notification.read.is_(False))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    await session.execute(stmt.values(read=True))
    return await unread_count(session, actor)


async def follows_many(session: AsyncSession, user_id: int, idea_ids: Sequence[int]) -> set[int]:
    rows = await session.execute(select(Follow.idea_id).where(Follow.user_id == user_id, Follow.idea_id.in_(idea_ids)))
    return {r for (r,) in rows}
