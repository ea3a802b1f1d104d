"""Who hears of a published comment: the writer of the comment it answers (REPLY), the users it @mentions
(MENTION), and webhooks; and the writer of an accepted answer (ANSWER_ACCEPTED). Nobody is told about an
idea they cannot read, and messages name who and where, never quote the comment (it may be hidden later)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import mail, visibility, webhooks
from ideaengine.platform.models import Board, Comment, Idea, Notification, NotificationKind, User, utcnow

MENTION = re.compile(r"(?<![\w@])@(\w(?:[\w.'-]*\w)?)")
"""`@` then a user's name written without its spaces (`@AdaLovelace` for "Ada Lovelace"), any case; it may
hold dots, hyphens and apostrophes inside, so a trailing full stop ends it."""
MAX_MENTIONS = 10
"Distinct @names of one comment that notify: more is a broadcast, not a conversation."


def handle(name: str) -> str:
    """The form a name is mentioned and compared in: without whitespace, case-folded."""
    return "".join(name.split()).casefold()


def mentioned_handles(body: str) -> list[str]:
    """The distinct handles a body mentions, in order, at most MAX_MENTIONS."""
    found: list[str] = []
    for match in MENTION.finditer(body):
        h = handle(match.group(1))
        if h not in found:
            found.append(h)
    return found[:MAX_MENTIONS]


def _ascii_lower(text: str) -> str:
    """What SQLite's lower() makes of a text: ASCII letters lowered, every other character kept."""
    return "".join(c.lower() if c.isascii() else c for c in text)


async def _mentioned(session: AsyncSession, workspace_id: int, body: str) -> list[User]:
    """The users of the workspace the body names. A handle that several users share names nobody (it cannot
    say whom it means); no statement at all for a body without @."""
    wanted = mentioned_handles(body)
    if not wanted:
        return []
    # SQL lower() is ASCII-only on SQLite (DECISIONS.md 18): narrow in SQL (the handles, and the names as
    # written with ASCII lowered, which is what SQLite's lower() gives), decide in Python.
    candidates = set(wanted) | {_ascii_lower(m.group(1)) for m in MENTION.finditer(body)}
    rows = (
        await session.execute(
            select(User).where(
                User.workspace_id == workspace_id,
                User.erased_at.is_(None),
                func.lower(func.replace(User.name, " ", "")).in_(sorted(candidates)),
            )
        )
    ).scalars()
    by_handle: dict[str, list[User]] = {}
    for user in rows:
        if user.name is not None:
            by_handle.setdefault(handle(user.name), []).append(user)
    return [by_handle[h][0] for h in wanted if len(by_handle.get(h, [])) == 1]


def _name(users: Iterable[User], user_id: int) -> str:
    return next((u.name for u in users if u.id == user_id and u.name), "Someone")


async def _users(session: AsyncSession, ids: set[int]) -> list[User]:
    return list((await session.execute(select(User).where(User.id.in_(sorted(ids))))).scalars()) if ids else []


async def _notify(session: AsyncSession, user: User, idea: Idea, kind: NotificationKind, message: str) -> None:
    notification = Notification(user_id=user.id, idea_id=idea.id, kind=kind, message=message, created_at=utcnow())
    session.add(notification)
    await session.flush()
    await mail.queue(session, [notification.id])


async def tell_about_comment(
    session: AsyncSession, writer_id: int, board: Board, idea: Idea, comment: Comment, answered: Comment | None
) -> None:
    """For a comment just published: REPLY to the answered comment's writer, MENTION to each user it names
    (a user told of the reply is not told twice), never to its own writer, only to readers of the idea; the
    comment.reply webhook for a reply."""
    mentioned = await _mentioned(session, board.workspace_id, comment.body)
    replied_to = answered.author_id if answered is not None else None
    known = await _users(session, {writer_id} | ({replied_to} if replied_to is not None else set()))
    who = _name(known, writer_id)
    told = {writer_id}
    for user in known:
        if user.id == replied_to and user.id not in told and visibility.user_can_read(user, board, idea):
            message = f"{who} replied to your comment on “{idea.title}”."
            await _notify(session, user, idea, NotificationKind.REPLY, message)
            told.add(user.id)
    for user in mentioned:
        if user.id not in told and visibility.user_can_read(user, board, idea):
            await _notify(session, user, idea, NotificationKind.MENTION, f"{who} mentioned you on “{idea.title}”.")
            told.add(user.id)
    if answered is not None:
        await webhooks.emit(
            session,
            board,
            webhooks.WebhookEvent.COMMENT_REPLY,
            {
                "idea": webhooks.idea_ref(idea, board),
                "comment": webhooks.comment_ref(comment),
                "parent": webhooks.comment_ref(answered),
            },
            about=[idea, comment, answered],
        )


async def tell_about_answer(
    session: AsyncSession, accepter_id: int, board: Board, idea: Idea, comment: Comment
) -> None:
    """ANSWER_ACCEPTED to the answer's writer (not when they accepted it themselves), and the webhook."""
    if comment.author_id is not None and comment.author_id != accepter_id:
        known = await _users(session, {accepter_id, comment.author_id})
        for user in known:
            if user.id == comment.author_id and visibility.user_can_read(user, board, idea):
                who = _name(known, accepter_id)
                message = f"{who} marked your comment as the answer on “{idea.title}”."
                await _notify(session, user, idea, NotificationKind.ANSWER_ACCEPTED, message)
    await webhooks.emit(
        session,
        board,
        webhooks.WebhookEvent.ANSWER_ACCEPTED,
        {"idea": webhooks.idea_ref(idea, board), "comment": webhooks.comment_ref(comment)},
        about=[idea, comment],
    )
