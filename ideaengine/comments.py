"""Comments, and official answers that followers hear about."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from ideaengine import boards, follows, ideas, moderation, validation, visibility, webhooks
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import (
    Board,
    Comment,
    CommentRevision,
    Idea,
    ModerationState,
    NotificationKind,
    utcnow,
)
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
            about=[idea, comment],
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
        .where(visibility.comments_clause(actor), listed())
    )
    return await pages(session, stmt, Comment.idea_id, idea_ids, ORDER, window)


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Comment]:
    """Comments the actor can see: as visible as their idea, and their own moderation state allows."""
    rows = await session.execute(
        select(Comment)
        .join(Idea, Idea.id == Comment.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .where(Comment.id.in_(ids), visibility.comments_clause(actor), listed())
    )
    return {c.id: c for c in rows.scalars()}


DELETED_BODY = "deleted"
"What a deleted comment shows in place of its text (its author is hidden too)."

_later = aliased(Comment)


def listed() -> ColumnElement[bool]:
    """Live comments, and deleted ones that a live comment follows: they stay as a placeholder so the
    conversation after them still reads. Threads are flat, so the comments after one are its replies."""
    followed = exists().where(
        _later.idea_id == Comment.idea_id,
        _later.deleted_at.is_(None),
        or_(
            _later.created_at > Comment.created_at,
            and_(_later.created_at == Comment.created_at, _later.id > Comment.id),
        ),
    )
    return or_(Comment.deleted_at.is_(None), followed)


def shown_author_id(comment: Comment) -> int | None:
    """A deleted comment names no author: the placeholder is there for the thread, not for the person."""
    return None if comment.deleted_at is not None else comment.author_id


async def _get_for_write(session: AsyncSession, actor: Actor, comment_id: int) -> tuple[Comment, Idea, Board]:
    """A comment on an idea the actor can see, row-locked; NOT_FOUND (commentId) otherwise."""
    row = (
        await session.execute(
            select(Comment, Idea, Board)
            .join(Idea, Idea.id == Comment.idea_id)
            .join(Board, Board.id == Idea.board_id)
            .where(Comment.id == comment_id, visibility.comments_clause(actor))
            .with_for_update(of=Comment)
        )
    ).first()
    if row is None:
        raise not_found("No such comment.", "commentId")
    comment, idea, board = row
    return comment, idea, board


def _is_author(actor: Actor, comment: Comment, board: Board) -> bool:
    return (
        actor.is_member_of(board.workspace_id) and comment.author_id is not None and comment.author_id == actor.user_id
    )


def _require_live(comment: Comment) -> None:
    if comment.deleted_at is not None:
        raise invalid("This comment was deleted.", "commentId")


async def edit_comment(session: AsyncSession, actor: Actor, comment_id: int, body: str) -> Comment:
    """The author alone rewrites a comment (moderators hide or delete, they do not put words in someone's
    mouth). The replaced body is kept for moderators; an edit that changes nothing records nothing."""
    comment, _, board = await _get_for_write(session, actor, comment_id)
    if not _is_author(actor, comment, board):
        await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "edit comments")
        raise DomainError(ErrorCode.FORBIDDEN, "Only its author may edit a comment.")
    boards.require_active(board, "commentId")
    _require_live(comment)
    body = validation.text(body, "body", min_len=1, max_len=validation.NOTE_MAX, label="A comment")
    if body != comment.body:
        now = utcnow()
        session.add(CommentRevision(comment_id=comment.id, body=comment.body, editor_id=actor.user_id, replaced_at=now))
        comment.body, comment.edited_at = body, now
        await session.flush()
    return comment


async def delete_comment(session: AsyncSession, actor: Actor, comment_id: int) -> Comment:
    """The author deletes their own comment, moderators and admins anyone's. The text is kept for moderators;
    readers see the placeholder while later comments follow it, and nothing once none does. Works on an
    archived board too: taking content down is not a new write to the conversation."""
    comment, _, board = await _get_for_write(session, actor, comment_id)
    if not _is_author(actor, comment, board):
        await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "delete others' comments")
    _require_live(comment)
    now = utcnow()
    session.add(CommentRevision(comment_id=comment.id, body=comment.body, editor_id=actor.user_id, replaced_at=now))
    comment.body, comment.deleted_at = DELETED_BODY, now
    await session.flush()
    return comment


async def revisions_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, list[CommentRevision]]:
    """Earlier bodies, oldest first, of the comments the actor moderates; others are left out (null)."""
    if actor.workspace_id is None or not actor.is_moderator_of(actor.workspace_id):
        return {}
    rows = await session.execute(
        select(Comment.id, CommentRevision)
        .join(Idea, Idea.id == Comment.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .outerjoin(CommentRevision, CommentRevision.comment_id == Comment.id)
        .where(Comment.id.in_(ids), Board.workspace_id == actor.workspace_id)
        .order_by(Comment.id, CommentRevision.id)
    )
    out: dict[int, list[CommentRevision]] = {}
    for comment_id, revision in rows.all():
        found = out.setdefault(comment_id, [])
        if revision is not None:
            found.append(revision)
    return out
