"""Comments, and official answers that followers hear about."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import follows, ideas, validation, webhooks
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform.models import Comment, NotificationKind, utcnow

OFFICIAL_PREVIEW = 140
"Characters of an official answer quoted in the followers' notification."


async def add_comment(session: AsyncSession, actor: Actor, idea_id: int, body: str, official: bool = False) -> Comment:
    """Members comment; only moderators and admins answer officially (FORBIDDEN otherwise)."""
    idea, board = await ideas.get_for_write(session, actor, idea_id)
    user_id = actor.require(board.workspace_id, ActorRole.MEMBER, "comment")
    if official:
        actor.require(board.workspace_id, ActorRole.MODERATOR, "post official answers")
    body = validation.text(body, "body", min_len=1, max_len=validation.NOTE_MAX, label="A comment")
    comment = Comment(idea_id=idea.id, author_id=user_id, body=body, official=official, created_at=utcnow())
    session.add(comment)
    await session.flush()
    if official:
        preview = body if len(body) <= OFFICIAL_PREVIEW else body[: OFFICIAL_PREVIEW - 1] + "…"
        await follows.notify_followers(
            session, actor, idea, NotificationKind.OFFICIAL_COMMENT, f"Official answer on “{idea.title}”: {preview}"
        )
        await webhooks.emit(
            session,
            board,
            webhooks.WebhookEvent.COMMENT_OFFICIAL,
            {"idea": webhooks.idea_ref(idea, board), "comment": webhooks.comment_ref(comment)},
        )
    return comment


async def list_for_idea(session: AsyncSession, idea_id: int, offset: int, limit: int) -> tuple[list[Comment], int]:
    """Oldest first, like a conversation (the caller has checked the idea is visible)."""
    total = await session.execute(select(func.count()).select_from(Comment).where(Comment.idea_id == idea_id))
    rows = (
        await session.execute(
            select(Comment)
            .where(Comment.idea_id == idea_id)
            .order_by(Comment.created_at, Comment.id)
            .offset(offset)
            .limit(limit)
        )
    ).scalars()
    return list(rows), int(total.scalar_one())


async def get_many(session: AsyncSession, ids: Sequence[int]) -> dict[int, Comment]:
    return {c.id: c for c in (await session.execute(select(Comment).where(Comment.id.in_(ids)))).scalars()}
