"""An idea's life: SUBMITTED -> UNDER_REVIEW -> PLANNED -> IN_PROGRESS -> LAUNCHED, declines, reopens, merges."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from ideaengine import boards, follows, ideas, supporters, trending, validation, webhooks
from ideaengine import status_labels as labels
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform import events
from ideaengine.platform.models import (
    Comment,
    Comparison,
    Follow,
    Idea,
    IdeaMerge,
    IdeaStatus,
    NotificationKind,
    StatusChange,
    Vote,
    utcnow,
)

S = IdeaStatus
TRANSITIONS: dict[IdeaStatus, frozenset[IdeaStatus]] = {
    S.SUBMITTED: frozenset({S.UNDER_REVIEW, S.DECLINED}),
    S.UNDER_REVIEW: frozenset({S.PLANNED, S.DECLINED}),
    S.PLANNED: frozenset({S.IN_PROGRESS, S.DECLINED}),
    S.IN_PROGRESS: frozenset({S.LAUNCHED, S.DECLINED}),
    S.DECLINED: frozenset({S.UNDER_REVIEW}),
    S.LAUNCHED: frozenset(),
    S.MERGED: frozenset(),
}
"Allowed moves; MERGED is reached only through merge_ideas."


def _label(status: IdeaStatus) -> str:
    return status.value.lower().replace("_", " ")


async def change_status(
    session: AsyncSession, actor: Actor, idea_id: int, status: IdeaStatus, note: str | None = None
) -> Idea:
    """Moderators and admins; every change is recorded and followers are notified. On LAUNCHED the author and
    supporters are thanked instead (`supporters.credit_launch`), so a supporter who follows hears it once."""
    idea, board = await ideas.get_for_write(session, actor, idea_id, lock=True)
    actor_id = await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "change an idea's status")
    boards.require_active(board, "ideaId")
    if note is not None:
        note = validation.note(note, "note") or None
    if status == S.MERGED:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "Use mergeIdeas to merge an idea.", "status")
    if status not in TRANSITIONS[idea.status]:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"An idea cannot go from {_label(idea.status)} to {_label(status)}.", "status"
        )
    now = utcnow()
    change = StatusChange(
        idea_id=idea.id, from_status=idea.status, to_status=status, note=note, actor_id=actor_id, created_at=now
    )
    session.add(change)
    previous = idea.status
    idea.status, idea.updated_at = status, now
    await session.flush()
    events.status_changed(session, board.id, idea.id, change.id, now)
    await webhooks.emit(
        session,
        board,
        webhooks.WebhookEvent.IDEA_STATUS_CHANGED,
        {
            "idea": webhooks.idea_ref(idea, board),
            "from": previous.value,
            "to": status.value,
            "fromLabel": labels.label(board, previous),
            "toLabel": labels.label(board, status),
            "note": note,
        },
        about=[idea],
    )
    thanked = await supporters.credit_launch(session, actor, idea, board, note) if status == S.LAUNCHED else set()
    message = f"“{idea.title}” is now {labels.phrase(board, status)}." + (f" {note}" if note else "")
    await follows.notify_followers(session, actor, idea, NotificationKind.STATUS_CHANGED, message, told=thanked)
    await boards.changed(session, board.id, idea.id, texts=True, at=now)  # openness: what is compared and indexed
    return idea


async def merge_ideas(session: AsyncSession, actor: Actor, source_id: int, target_id: int) -> tuple[Idea, Idea]:
    """Fold source into target in one transaction: votes (one per user, the target's wins), comparisons,
    comments and followers move; the source becomes MERGED. What moved, and what was dropped as a
    duplicate, is recorded (`IdeaMerge`) so `unmerge.unmerge_idea` can put it back."""
    locked = await ideas.lock_many(session, actor, [source_id, target_id])  # in id order, whichever is source
    if source_id not in locked:
        raise not_found("No such idea.", "sourceId")
    source, board = locked[source_id]
    actor_id = await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "merge ideas")
    boards.require_active(board, "sourceId")
    if source_id == target_id:
        raise invalid("An idea cannot be merged into itself.", "targetId")
    if target_id not in locked:
        raise not_found("No such idea.", "targetId")
    target, _ = locked[target_id]
    if target.board_id != source.board_id:
        raise invalid("Only ideas on the same board can be merged.", "targetId")
    if source.status == S.MERGED:
        raise invalid("This idea has already been merged.", "sourceId")
    if target.status == S.MERGED:
        raise invalid("Cannot merge into an idea that was itself merged; merge into the idea it went to.", "targetId")
    now = utcnow()
    moved = await _move_votes(session, source.id, target.id)
    moved |= await _move_comparisons(session, source.id, target.id)
    moved["comments"] = list(
        (await session.execute(select(Comment.id).where(Comment.idea_id == source.id).order_by(Comment.id))).scalars()
    )
    # The source's accepted answer answered the source's question, not the target's: it moves as a comment.
    await session.execute(update(Comment).where(Comment.idea_id == source.id).values(idea_id=target.id, accepted=False))
    moved |= await _move_followers(session, source.id, target.id)
    session.add(
        IdeaMerge(
            source_id=source.id,
            target_id=target.id,
            source_status=source.status,
            moved=moved,
            actor_id=actor_id,
            created_at=now,
        )
    )
    change = StatusChange(
        idea_id=source.id,
        from_status=source.status,
        to_status=S.MERGED,
        note=f"Merged into “{target.title}”.",
        actor_id=actor_id,
        created_at=now,
    )
    session.add(change)
    source.status, source.merged_into_id, source.updated_at = S.MERGED, target.id, now
    target.updated_at = now
    await session.flush()
    await follows.notify_followers(
        session, actor, target, NotificationKind.MERGED, f"“{source.title}” was merged into “{target.title}”."
    )
    await recount(session, [source.id, target.id])
    await session.refresh(source)
    await session.refresh(target)
    events.after_commit(session, events.idea_channel(source.id), {"statusChangeId": change.id})
    events.board_event(
        session, board.id, events.IDEA_MERGED, now, sourceId=source.id, targetId=target.id, statusChangeId=change.id
    )
    await webhooks.emit(
        session,
        board,
        webhooks.WebhookEvent.IDEA_MERGED,
        {"source": webhooks.idea_ref(source, board), "target": webhooks.idea_ref(target, board)},
        about=[source, target],
    )
    await boards.changed(session, board.id, target.id, texts=True, at=now)
    return source, target


async def _move_votes(session: AsyncSession, source_id: int, target_id: int) -> dict[str, Any]:
    """The record of what moved: ids of moved votes, and in full the source votes of users who had voted on
    target too (dropped, the target's wins)."""
    on_target = select(Vote.user_id).where(Vote.idea_id == target_id)
    twice = Vote.user_id.in_(on_target)
    dropped = (await session.execute(select(Vote).where(Vote.idea_id == source_id, twice))).scalars().all()
    await session.execute(delete(Vote).where(Vote.idea_id == source_id, twice))
    moved = (await session.execute(select(Vote.id).where(Vote.idea_id == source_id).order_by(Vote.id))).scalars()
    record: dict[str, Any] = {
        "votes": list(moved),
        "dropped_votes": [
            {"user_id": v.user_id, "value": v.value, "created_at": _iso(v.created_at), "updated_at": _iso(v.updated_at)}
            for v in dropped
        ],
    }
    await session.execute(update(Vote).where(Vote.idea_id == source_id).values(idea_id=target_id))
    return record


def _iso(at: datetime) -> str:
    return at.isoformat()


async def _move_comparisons(session: AsyncSession, source_id: int, target_id: int) -> dict[str, Any]:
    """Source verdicts move to target, except source-vs-target ones and pairs the voter already judged
    against target: one verdict per voter per pair (DECISIONS.md 9). Recorded: the moved verdicts' ids
    with their winner and loser before, and the dropped ones in full."""

    def touches(idea_id: int) -> ColumnElement[bool]:
        return or_(Comparison.low_id == idea_id, Comparison.high_id == idea_id)

    on_target = {
        (c.voter_id, c.low_id if c.high_id == target_id else c.high_id)
        for c in (await session.execute(select(Comparison).where(touches(target_id)))).scalars()
    }
    moved: list[dict[str, int]] = []
    dropped: list[dict[str, Any]] = []
    for c in (await session.execute(select(Comparison).where(touches(source_id)))).scalars().all():
        other = c.high_id if c.low_id == source_id else c.low_id
        if other == target_id or (c.voter_id, other) in on_target:
            dropped.append(
                {
                    "voter_id": c.voter_id,
                    "winner_id": c.winner_id,
                    "loser_id": c.loser_id,
                    "created_at": _iso(c.created_at),
                }
            )
            await session.delete(c)
            continue
        moved.append({"id": c.id, "winner_id": c.winner_id, "loser_id": c.loser_id})
        c.winner_id = target_id if c.winner_id == source_id else c.winner_id
        c.loser_id = target_id if c.loser_id == source_id else c.loser_id
        c.low_id, c.high_id = sorted((c.winner_id, c.loser_id))
    await session.flush()
    return {"comparisons": moved, "dropped_comparisons": dropped}


async def _move_followers(session: AsyncSession, source_id: int, target_id: int) -> dict[str, Any]:
    """Recorded: the users whose follow moved, and the source follows of users who followed both (dropped)."""
    already = Follow.user_id.in_(select(Follow.user_id).where(Follow.idea_id == target_id))
    dropped = (await session.execute(select(Follow).where(Follow.idea_id == source_id, already))).scalars().all()
    record: dict[str, Any] = {
        "dropped_follows": [{"user_id": f.user_id, "created_at": _iso(f.created_at)} for f in dropped]
    }
    await session.execute(delete(Follow).where(Follow.idea_id == source_id, already))
    moved = select(Follow.user_id).where(Follow.idea_id == source_id).order_by(Follow.user_id)
    record["follows"] = list((await session.execute(moved)).scalars())
    await session.execute(update(Follow).where(Follow.idea_id == source_id).values(idea_id=target_id))
    return record


async def recount(session: AsyncSession, idea_ids: Sequence[int]) -> None:
    """Tallies, TRENDING figures and follower counts derived again from the rows, after rows moved between
    ideas (a moved vote keeps its time, so the figures stay exact where adding and subtracting would do too)."""
    await trending.recompute(session, idea_ids, utcnow())
    for idea_id in idea_ids:
        up = select(func.count()).select_from(Vote).where(Vote.idea_id == idea_id, Vote.value == 1)
        down = select(func.count()).select_from(Vote).where(Vote.idea_id == idea_id, Vote.value == -1)
        followers = select(func.count()).select_from(Follow).where(Follow.idea_id == idea_id)
        await session.execute(
            update(Idea)
            .where(Idea.id == idea_id)
            .values(
                up_count=up.scalar_subquery(),
                down_count=down.scalar_subquery(),
                follower_count=followers.scalar_subquery(),
            )
        )


async def history_many(session: AsyncSession, idea_ids: Sequence[int]) -> dict[int, list[StatusChange]]:
    out: dict[int, list[StatusChange]] = {i: [] for i in idea_ids}
    rows = (
        await session.execute(
            select(StatusChange)
            .where(StatusChange.idea_id.in_(idea_ids))
            .order_by(StatusChange.created_at, StatusChange.id)
        )
    ).scalars()
    for change in rows:
        out[change.idea_id].append(change)
    return out


async def get_change(session: AsyncSession, actor: Actor, change_id: int) -> StatusChange | None:
    """A status change, if the actor may read its idea."""
    change = await session.get(StatusChange, change_id)
    if change is None or not await ideas.get_visible_many(session, actor, [change.idea_id]):
        return None
    return change
