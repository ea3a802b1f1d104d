"""Comments, and official answers that followers hear about."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, follows, ideas, moderation, validation, visibility, webhooks
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import Board, Comment, Idea, ModerationState, NotificationKind, utcnow
from ideaengine.platform.queries import Page, SortKey, Window, pages

OFFICIAL_PREVIEW = 140
"Characters of an official answer quoted in the followers' notification."


async def add_comment(session: AsyncSession, actor: Actor, idea_id: int, body: str, official: bool = False) -> Comment:
    """Members comment; only moderators and admins answer officially (FORBIDDEN otherwise). A merged idea takes
    no comments (INVALID, like votes): they belong on the idea it was merged into. On a board that requires
    approval a member's comment starts PENDING (moderators' and admins' are published at once)."""
    idea, board = await ideas.get_for_write(session, actor, idea_id)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "comment")
    if official:
        actor.require(board.workspace_id, ActorRole.MODERATOR, "post official answers")
    boards.require_active(board, "ideaId")
    ideas.require_unmerged(idea, "comment on")
    body = validation.text(body, "body", min_len=1, max_len=validation.NOTE_MAX, label="A comment")
    comment = Comment(
        idea_id=idea.id,
        author_id=user_id,
        body=body,
        official=official,
        created_at=utcnow(),
        moderation_state=moderation.initial_state(actor, board),
    )
    session.add(comment)
    await session.flush()
    await moderation.queue_if_pending(session, board, idea, comment)
    if official and comment.moderation_state == ModerationState.VISIBLE:
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


ORDER = (SortKey(Comment.created_at), SortKey(Comment.id))
"Oldest first, like a conversation."


async def pages_for_ideas(
    session: AsyncSession, actor: Actor, idea_ids: Sequence[int], window: Window
) -> dict[int, Page[Comment]]:
    """One window of the comments of each idea the actor can see, with each idea's total."""
    stmt = (
        select(Comment)
        .join(Idea, Idea.id == Comment.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .where(visibility.comments_clause(actor))
    )
    return await pages(session, stmt, Comment.idea_id, idea_ids, ORDER, window)


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Comment]:
    """Comments the actor can see: as visible as their idea, and their own moderation state allows."""
    rows = await session.execute(
        select(Comment)
        .join(Idea, Idea.id == Comment.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .where(Comment.id.in_(ids), visibility.comments_clause(actor))
    )
    return {c.id: c for c in rows.scalars()}
