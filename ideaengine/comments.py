"""Comments, and official answers that followers hear about."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, and_, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from ideaengine import boards, conversations, follows, ideas, moderation, validation, visibility, webhooks
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


async def add_comment(
    session: AsyncSession,
    actor: Actor,
    idea_id: int,
    body: str,
    official: bool = False,
    parent_id: int | None = None,
) -> Comment:
    """Members comment; only moderators and admins answer officially (FORBIDDEN otherwise). A merged idea takes
    no comments (INVALID, like votes): they belong on the idea it was merged into. On a board that requires
    approval a member's comment starts PENDING (moderators' and admins' are published at once).

    With `parent_id` the comment answers another of the same idea. Threads are one level deep: a reply to a
    reply joins the thread of the top-level comment. Who hears of it (the answered comment's writer, the
    users it @mentions, webhooks) hears only once it is published."""
    idea, board = await ideas.get_for_write(session, actor, idea_id)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "comment")
    if official:
        actor.require(board.workspace_id, ActorRole.MODERATOR, "post official answers")
    boards.require_active(board, "ideaId")
    ideas.require_unmerged(idea, "comment on")
    body = validation.text(body, "body", min_len=1, max_len=validation.NOTE_MAX, label="A comment")
    answered = None if parent_id is None else await _answerable(session, actor, idea, parent_id)
    comment = Comment(
        idea_id=idea.id,
        parent_id=None if answered is None else (answered.parent_id or answered.id),
        author_id=user_id,
        body=body,
        official=official,
        created_at=utcnow(),
        moderation_state=moderation.initial_state(actor, board),
    )
    session.add(comment)
    await session.flush()
    await moderation.queue_if_pending(session, board, idea, comment)
    if comment.moderation_state != ModerationState.VISIBLE:
        return comment
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
            about=[idea, comment],
        )
    await conversations.tell_about_comment(session, user_id, board, idea, comment, answered)
    return comment


async def _answerable(session: AsyncSession, actor: Actor, idea: Idea, parent_id: int) -> Comment:
    """The comment a new one answers: seen by the actor (NOT_FOUND), on the same idea, published and not
    deleted (INVALID), all on `parentId`."""
    parent = (await get_visible_many(session, actor, [parent_id])).get(parent_id)
    if parent is None:
        raise not_found("No such comment to reply to.", "parentId")
    if parent.idea_id != idea.id:
        raise invalid("That comment is on another idea: reply on the idea it belongs to.", "parentId")
    if parent.deleted_at is not None:
        raise invalid("That comment was deleted and takes no replies.", "parentId")
    if parent.moderation_state != ModerationState.VISIBLE:
        raise invalid("That comment is not published and takes no replies yet.", "parentId")
    return parent


REPLY_ORDER = (SortKey(Comment.created_at), SortKey(Comment.id))
"Oldest first, like a conversation."
ORDER = (SortKey(case((Comment.accepted.is_(True), 0), else_=1)), *REPLY_ORDER)
"An idea's threads: the accepted answer first, then oldest first."


def _listed_for(actor: Actor) -> Select[Comment]:
    return (
        select(Comment)
        .join(Idea, Idea.id == Comment.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .where(visibility.comments_clause(actor), listed())
    )


async def pages_for_ideas(
    session: AsyncSession, actor: Actor, idea_ids: Sequence[int], window: Window
) -> dict[int, Page[Comment]]:
    """One window of the top-level comments (threads) of each idea the actor can see, with each idea's total."""
    stmt = _listed_for(actor).where(Comment.parent_id.is_(None))
    return await pages(session, stmt, Comment.idea_id, idea_ids, ORDER, window)


async def replies_for_comments(
    session: AsyncSession, actor: Actor, comment_ids: Sequence[int], window: Window
) -> dict[int, Page[Comment]]:
    """One window of the replies to each comment, oldest first: one batch for a whole page of threads."""
    return await pages(session, _listed_for(actor), Comment.parent_id, comment_ids, REPLY_ORDER, window)


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
    conversation after them still reads (a reply is always later than the comment it answers)."""
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


async def get_for_write(session: AsyncSession, actor: Actor, comment_id: int) -> tuple[Comment, Idea, Board]:
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


def require_live(comment: Comment) -> None:
    if comment.deleted_at is not None:
        raise invalid("This comment was deleted.", "commentId")


async def edit_comment(session: AsyncSession, actor: Actor, comment_id: int, body: str) -> Comment:
    """The author alone rewrites a comment (moderators hide or delete, they do not put words in someone's
    mouth). The replaced body is kept for moderators; an edit that changes nothing records nothing."""
    comment, _, board = await get_for_write(session, actor, comment_id)
    if not _is_author(actor, comment, board):
        await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "edit comments")
        raise DomainError(ErrorCode.FORBIDDEN, "Only its author may edit a comment.")
    boards.require_active(board, "commentId")
    require_live(comment)
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
    comment, _, board = await get_for_write(session, actor, comment_id)
    if not _is_author(actor, comment, board):
        await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "delete others' comments")
    require_live(comment)
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


async def accept_answer(session: AsyncSession, actor: Actor, comment_id: int, accepted: bool) -> Comment:
    """The idea's author, moderators and admins mark one top-level, published comment as the answer (a new
    one replaces the old) or unmark it; its writer is told. Accepting the accepted one again changes nothing.
    FORBIDDEN on commentId for any other member."""
    found = (await get_visible_many(session, actor, [comment_id])).get(comment_id)
    if found is None:
        raise not_found("No such comment.", "commentId")
    # Ideas are locked before anything else (architecture.md), and this lock serialises two accepts.
    idea, board = await ideas.get_for_write(session, actor, found.idea_id, lock=True, field="commentId")
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "accept answers")
    if not (actor.is_moderator_of(board.workspace_id) or idea.author_id == user_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "Only the idea's author, moderators and admins may accept an answer.", "commentId"
        )
    boards.require_active(board, "commentId")
    comment, _, _ = await get_for_write(session, actor, comment_id)
    if comment.accepted == accepted:
        return comment
    if accepted:
        require_live(comment)
        ideas.require_unmerged(idea, "accept answers on", "commentId")
        if comment.parent_id is not None:
            raise invalid("Only a top-level comment can be the answer; replies discuss it.", "commentId")
        if comment.moderation_state != ModerationState.VISIBLE:
            raise invalid("Only a published comment can be the answer.", "commentId")
        await session.execute(
            update(Comment).where(Comment.idea_id == idea.id, Comment.accepted.is_(True)).values(accepted=False)
        )
    comment.accepted = accepted
    await session.flush()
    if accepted:
        await conversations.tell_about_answer(session, user_id, board, idea, comment)
    return comment
