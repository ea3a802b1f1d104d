"""Reactions to comments: one of each kind per user, counted per comment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, comments
from ideaengine.errors import DomainError, ErrorCode
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import Comment, CommentReaction, Reaction, utcnow
from ideaengine.platform.upsert import insert_ignore


@dataclass(frozen=True)
class ReactionCount:
    reaction: Reaction
    count: int
    viewer_reacted: bool


async def react(session: AsyncSession, actor: Actor, comment_id: int, reaction: Reaction, on: bool) -> Comment:
    """Members, moderators and admins react to a comment they can see (not a deleted one, not on an archived
    board), or take their reaction back. Reacting twice the same way, or taking back a reaction never made,
    is a CONFLICT on `reaction` that writes nothing."""
    comment, _, board = await comments.get_for_write(session, actor, comment_id)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "react to comments")
    boards.require_active(board, "commentId")
    comments.require_live(comment)
    name = reaction.value.lower().replace("_", " ")
    if on:
        row = dict(comment_id=comment.id, user_id=user_id, reaction=reaction, created_at=utcnow())
        if not await insert_ignore(session, CommentReaction, row, ["comment_id", "user_id", "reaction"]):
            raise DomainError(ErrorCode.CONFLICT, f"You already reacted {name} to this comment.", "reaction")
    else:
        result = await session.execute(
            delete(CommentReaction).where(
                CommentReaction.comment_id == comment.id,
                CommentReaction.user_id == user_id,
                CommentReaction.reaction == reaction,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise DomainError(ErrorCode.CONFLICT, f"You have not reacted {name} to this comment.", "reaction")
    return comment


async def counts_many(
    session: AsyncSession, actor: Actor, comment_ids: Sequence[int]
) -> dict[int, list[ReactionCount]]:
    """Every reaction kind of each comment, in the enum's order, zero counts included (so a client can draw
    its buttons): one grouped statement for a whole page. The comments come through visible parents."""
    viewer = actor.user_id if actor.user_id is not None and actor.role >= ActorRole.MEMBER else None
    mine = (
        func.sum(case((CommentReaction.user_id == viewer, 1), else_=0)) if viewer is not None else literal_column("0")
    )
    rows = await session.execute(
        select(CommentReaction.comment_id, CommentReaction.reaction, func.count(), mine)
        .where(CommentReaction.comment_id.in_(comment_ids))
        .group_by(CommentReaction.comment_id, CommentReaction.reaction)
    )
    found: dict[tuple[int, Reaction], tuple[int, bool]] = {
        (comment_id, reaction): (int(count), bool(reacted)) for comment_id, reaction, count, reacted in rows.all()
    }
    return {cid: [ReactionCount(r, *found.get((cid, r), (0, False))) for r in Reaction] for cid in comment_ids}
