"""Undoing a merge: the source idea comes back with exactly what the merge took from it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, ideas, lifecycle, webhooks
from ideaengine.errors import invalid
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform import events
from ideaengine.platform.models import (
    Comment,
    Comparison,
    Follow,
    Idea,
    IdeaMerge,
    IdeaStatus,
    StatusChange,
    User,
    Vote,
    utcnow,
)
from ideaengine.platform.upsert import insert_for

CHUNK = 500
"Ids per IN list: far below what SQLite and asyncpg bind in one statement, whatever the merge's size."

T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def unmerge_idea(session: AsyncSession, actor: Actor, idea_id: int) -> tuple[Idea, Idea]:
    """Moderators and admins. In one transaction the source gets back its status before the merge, and the
    votes, comments, followers and comparisons the merge moved (those still on the target) or dropped as
    duplicates (a voter who had voted on both ideas has both votes again). What happened on the target since
    the merge stays there: new votes and comments, and a moved vote its voter changed keeps its new value
    (one its voter withdrew stays withdrawn)."""
    source, board = await ideas.get_for_write(session, actor, idea_id)
    actor_id = await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "unmerge ideas")
    boards.require_active(board, "ideaId")
    if source.status != IdeaStatus.MERGED or source.merged_into_id is None:
        raise invalid("This idea was not merged.", "ideaId")
    locked = await ideas.lock_many(session, actor, [source.id, source.merged_into_id])
    source, _ = locked[source.id]
    if source.status != IdeaStatus.MERGED or source.merged_into_id not in locked:
        raise invalid("This idea was not merged.", "ideaId")
    target, _ = locked[source.merged_into_id]
    record = (
        await session.execute(
            select(IdeaMerge)
            .where(IdeaMerge.source_id == source.id, IdeaMerge.target_id == target.id, IdeaMerge.undone_at.is_(None))
            .order_by(IdeaMerge.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if record is None:
        raise invalid("This idea was merged before merges were recorded; it cannot be unmerged.", "ideaId")
    if target.status == IdeaStatus.MERGED:
        raise invalid("The idea this one went into was merged since: unmerge that one first.", "ideaId")

    now = utcnow()
    moved: dict[str, Any] = record.moved
    await _restore_votes(session, source.id, target.id, moved)
    await _restore_comparisons(session, board.id, source.id, target.id, moved)
    for ids in _chunks(moved.get("comments", [])):
        await session.execute(
            update(Comment).where(Comment.id.in_(ids), Comment.idea_id == target.id).values(idea_id=source.id)
        )
    await _restore_follows(session, source.id, target.id, moved)
    change = StatusChange(
        idea_id=source.id,
        from_status=IdeaStatus.MERGED,
        to_status=record.source_status,
        note=f"Unmerged from “{target.title}”.",
        actor_id=actor_id,
        created_at=now,
    )
    session.add(change)
    source.status, source.merged_into_id, source.updated_at = record.source_status, None, now
    target.updated_at = now
    record.undone_at = now
    await session.flush()
    await lifecycle.recount(session, [source.id, target.id])
    await session.refresh(source)
    await session.refresh(target)
    events.status_changed(session, board.id, source.id, change.id, now)
    await webhooks.emit(
        session,
        board,
        webhooks.WebhookEvent.IDEA_STATUS_CHANGED,
        {
            "idea": webhooks.idea_ref(source, board),
            "from": IdeaStatus.MERGED.value,
            "to": record.source_status.value,
            "note": change.note,
        },
        about=[source],
    )
    await boards.changed(session, board.id, source.id, texts=True, at=now)
    return source, target


async def _existing_users(session: AsyncSession, user_ids: Sequence[int]) -> set[int]:
    """Rows for users removed since the merge cannot come back (their votes and follows went with them)."""
    found: set[int] = set()
    for ids in _chunks(sorted(set(user_ids))):
        found.update((await session.execute(select(User.id).where(User.id.in_(ids)))).scalars())
    return found


async def _restore_votes(session: AsyncSession, source_id: int, target_id: int, moved: dict[str, Any]) -> None:
    for ids in _chunks(moved.get("votes", [])):
        await session.execute(update(Vote).where(Vote.id.in_(ids), Vote.idea_id == target_id).values(idea_id=source_id))
    dropped: list[dict[str, Any]] = moved.get("dropped_votes", [])
    users = await _existing_users(session, [v["user_id"] for v in dropped])
    rows = [
        {
            "idea_id": source_id,
            "user_id": v["user_id"],
            "value": v["value"],
            "created_at": datetime.fromisoformat(v["created_at"]),
            "updated_at": datetime.fromisoformat(v["updated_at"]),
        }
        for v in dropped
        if v["user_id"] in users
    ]
    for chunk in _chunks(rows):
        await session.execute(insert_for(session, Vote).values(list(chunk)).on_conflict_do_nothing())


async def _restore_comparisons(
    session: AsyncSession, board_id: int, source_id: int, target_id: int, moved: dict[str, Any]
) -> None:
    """Moved verdicts that still pit target against an idea go back to source (with the outcome they have
    now: a voter who judged the pair again since keeps the later verdict); dropped ones are written again."""
    recorded = {c["id"]: c for c in moved.get("comparisons", [])}
    for ids in _chunks(sorted(recorded)):
        for c in (await session.execute(select(Comparison).where(Comparison.id.in_(ids)))).scalars():
            if target_id not in (c.winner_id, c.loser_id):
                continue
            c.winner_id = source_id if c.winner_id == target_id else c.winner_id
            c.loser_id = source_id if c.loser_id == target_id else c.loser_id
            c.low_id, c.high_id = sorted((c.winner_id, c.loser_id))
    await session.flush()
    dropped: list[dict[str, Any]] = moved.get("dropped_comparisons", [])
    users = await _existing_users(session, [c["voter_id"] for c in dropped])
    rows = [
        {
            "board_id": board_id,
            "winner_id": c["winner_id"],
            "loser_id": c["loser_id"],
            "low_id": min(c["winner_id"], c["loser_id"]),
            "high_id": max(c["winner_id"], c["loser_id"]),
            "voter_id": c["voter_id"],
            "created_at": datetime.fromisoformat(c["created_at"]),
        }
        for c in dropped
        if c["voter_id"] in users
    ]
    for chunk in _chunks(rows):
        await session.execute(insert_for(session, Comparison).values(list(chunk)).on_conflict_do_nothing())


async def _restore_follows(session: AsyncSession, source_id: int, target_id: int, moved: dict[str, Any]) -> None:
    """A moved follow goes back while its user still follows the target (someone who also followed the merged
    idea since is not counted twice); dropped follows are written again."""
    rows: list[dict[str, Any]] = []
    for ids in _chunks(moved.get("follows", [])):
        still = Follow.user_id.in_(ids), Follow.idea_id == target_id
        found = (await session.execute(select(Follow.user_id, Follow.created_at).where(*still))).all()
        rows += [{"idea_id": source_id, "user_id": user_id, "created_at": at} for user_id, at in found]
        await session.execute(delete(Follow).where(*still))
    dropped: list[dict[str, Any]] = moved.get("dropped_follows", [])
    users = await _existing_users(session, [f["user_id"] for f in dropped])
    rows += [
        {"idea_id": source_id, "user_id": f["user_id"], "created_at": datetime.fromisoformat(f["created_at"])}
        for f in dropped
        if f["user_id"] in users
    ]
    for chunk in _chunks(rows):
        await session.execute(insert_for(session, Follow).values(list(chunk)).on_conflict_do_nothing())
