"""Email: the outbox a notification writes, what a sender claims and records, and the signed unsubscribe links.

With a mail server configured (`Settings.mail_enabled`), every notification for a user who wants email and has
an address writes one outbox row in the notification's own transaction: nothing is mailed for a write that
rolled back, and one row per notification (unique) means no address hears of one event twice. The workers
send (`workers.mail.send_due`), never the request: INSTANT rows at once, DAILY and WEEKLY ones gathered into
one digest per user when the oldest is a day or a week old (the periodic sweep finds them). A row is claimed
before it is sent, so two senders never send it both; a failure leaves it PENDING for a later attempt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import notification_settings
from ideaengine.notification_settings import Settings as Choices
from ideaengine.platform import jobs
from ideaengine.platform.db import SETTINGS_KEY
from ideaengine.platform.ids import global_id, parse_global_id
from ideaengine.platform.models import (
    Board,
    DigestFrequency,
    Idea,
    MailOutbox,
    MailStatus,
    Notification,
    NotificationSetting,
    User,
    Workspace,
    utcnow,
)
from ideaengine.platform.secrets_box import SecretBox
from ideaengine.platform.settings import Settings
from ideaengine.platform.upsert import insert_for

SEND_DUE = "workers.mail.send_due"
"The sending job, by dotted name (the domain never imports workers)."
DIGEST_PERIODS = {DigestFrequency.DAILY: timedelta(days=1), DigestFrequency.WEEKLY: timedelta(days=7)}
"How long a digest row waits: its user's digest goes out when the oldest waiting row is this old."
LEASE = timedelta(minutes=10)
"How long a sender's claim lasts: past it, a sender that died mid-batch leaves its rows to the next one."
CHUNK = 1000
"Rows per statement (PostgreSQL takes at most 32,767 parameters)."
UNSUBSCRIBE_PATH = "/mail/unsubscribe"
TOKEN_PURPOSE = "unsubscribe"


def configured(session: AsyncSession) -> Settings | None:
    """The session's settings when mail is configured; None otherwise (then nothing is queued)."""
    settings: Settings | None = session.info.get(SETTINGS_KEY)
    return settings if settings is not None and settings.mail_enabled else None


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


async def queue(session: AsyncSession, notification_ids: Sequence[int]) -> int:
    """Write the outbox rows of notifications just written, in the caller's transaction; returns how many.

    A row for each notification whose user wants email (email on, digest not NEVER) and has an address, due now
    (INSTANT) or a digest period on; INSTANT ones are sent by a job after commit. Nothing without a mail server.
    """
    if not notification_ids or configured(session) is None:
        return 0
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(list(notification_ids)):
        found = await session.execute(
            select(Notification.id, Notification.user_id, NotificationSetting)
            .join(User, User.id == Notification.user_id)
            .outerjoin(NotificationSetting, NotificationSetting.user_id == Notification.user_id)
            .where(Notification.id.in_(chunk), User.email.is_not(None), User.email != "", User.erased_at.is_(None))
        )
        for notification_id, user_id, setting in found:
            choices = notification_settings.of_row(setting)
            if notification_settings.sends_email(choices):
                rows.append(
                    {
                        "notification_id": notification_id,
                        "user_id": user_id,
                        "digest": choices.digest,
                        "status": MailStatus.PENDING,
                        "attempts": 0,
                        "next_attempt_at": now + DIGEST_PERIODS.get(choices.digest, timedelta()),
                        "created_at": now,
                    }
                )
    for chunk in _chunks(rows):
        stmt = insert_for(session, MailOutbox).values(list(chunk))
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["notification_id"]))
    if any(row["digest"] == DigestFrequency.INSTANT for row in rows):
        jobs.after_commit(session, SEND_DUE, coalesce=True)
    return len(rows)


# --- Sending -----------------------------------------------------------------------------------------------


PENDING = MailOutbox.status == MailStatus.PENDING


def _free(now: datetime) -> Any:
    """Rows no sender holds now."""
    return or_(MailOutbox.locked_until.is_(None), MailOutbox.locked_until < now)


async def anything_due(session: AsyncSession, now: datetime) -> bool:
    """Whether a row waits for a sender now: a digest whose time came, a retry, a row whose job was lost."""
    found = await session.execute(
        select(MailOutbox.id).where(PENDING, MailOutbox.next_attempt_at <= now, _free(now)).limit(1)
    )
    return found.first() is not None


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[MailOutbox]:
    """Claim up to `limit` due rows (oldest first) for one sender, with every other waiting digest row of the
    users whose digest is due: a digest takes all that waits. Rows another sender holds are left alone."""
    due = (
        await session.execute(
            select(MailOutbox.id, MailOutbox.user_id, MailOutbox.digest)
            .where(PENDING, MailOutbox.next_attempt_at <= now, _free(now))
            .order_by(MailOutbox.id)
            .limit(limit)
        )
    ).all()
    if not due:
        return []
    ids = {row_id for row_id, _, _ in due}
    digest_users = sorted({user_id for _, user_id, digest in due if digest != DigestFrequency.INSTANT})
    if digest_users:
        waiting = select(MailOutbox.id).where(
            PENDING, _free(now), MailOutbox.user_id.in_(digest_users), MailOutbox.digest != DigestFrequency.INSTANT
        )
        ids |= set((await session.execute(waiting)).scalars())
    claimed = await session.execute(
        update(MailOutbox)
        .where(MailOutbox.id.in_(sorted(ids)), PENDING, _free(now))  # checked again: another sender may have won
        .values(locked_until=now + LEASE)
        .returning(MailOutbox.id)
        .execution_options(synchronize_session=False)
    )
    claimed_ids = sorted(claimed.scalars())
    if not claimed_ids:
        return []
    return list(
        (await session.execute(select(MailOutbox).where(MailOutbox.id.in_(claimed_ids)).order_by(MailOutbox.id)))
        .scalars()
        .all()
    )


@dataclass(frozen=True)
class Item:
    """One notification of a message, with what the message shows of it."""

    row: MailOutbox
    notification: Notification
    idea: Idea
    board: Board


@dataclass(frozen=True)
class Recipient:
    user: User
    choices: Choices
    workspace: Workspace
    items: list[Item]


async def recipients(session: AsyncSession, rows: Sequence[MailOutbox]) -> list[Recipient]:
    """Claimed rows with their notifications, ideas, boards, users, current settings and workspaces; three
    statements whatever the number of rows. Settings are read now: a user who turned email off since the row
    was written is not sent it."""
    by_notification = {row.notification_id: row for row in rows}
    items: dict[int, list[Item]] = {}
    found = await session.execute(
        select(Notification, Idea, Board)
        .join(Idea, Idea.id == Notification.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .where(Notification.id.in_(sorted(by_notification)))
        .order_by(Notification.id)
    )
    for notification, idea, board in found:
        row = by_notification[notification.id]
        items.setdefault(row.user_id, []).append(Item(row, notification, idea, board))
    people = await session.execute(
        select(User, NotificationSetting, Workspace)
        .join(Workspace, Workspace.id == User.workspace_id)
        .outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
        .where(User.id.in_(sorted(items)))
        .order_by(User.id)
    )
    return [
        Recipient(user, notification_settings.of_row(setting), workspace, items[user.id])
        for user, setting, workspace in people
    ]


async def settle(
    session: AsyncSession,
    row_ids: Sequence[int],
    status: MailStatus,
    *,
    attempts: int | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
    now: datetime,
) -> None:
    """Record one attempt's outcome for the rows of one message (or why they are not sent: `attempts` None) and
    release the claim. A row settled already (by a sender whose claim had lapsed) is left as it is."""
    await session.execute(
        update(MailOutbox)
        .where(MailOutbox.id.in_(list(row_ids)), PENDING)
        .values(
            status=status,
            attempts=MailOutbox.attempts if attempts is None else attempts,
            last_error=error,
            locked_until=None,
            next_attempt_at=retry_at if retry_at is not None else MailOutbox.next_attempt_at,
            sent_at=now if status == MailStatus.SENT else None,
        )
        .execution_options(synchronize_session=False)
    )


# --- Unsubscribe links ---------------------------------------------------------------------------------------


class BadLink(ValueError):
    """An unsubscribe link that is forged, altered, expired or for another user: answered 400, nothing written."""


def unsubscribe_url(settings: Settings, box: SecretBox, user_id: int, at: float | None = None) -> str:
    """The link every message carries (and its List-Unsubscribe header): the user's id, and a token only this
    server can read that names the same user and when it was made (`at`, default now)."""
    token = box.seal_token(json.dumps({"p": TOKEN_PURPOSE, "u": user_id}), at)
    query = urlencode({"user": global_id("User", user_id), "token": token})
    return f"{settings.public_url or ''}{UNSUBSCRIBE_PATH}?{query}"


def check_link(settings: Settings, box: SecretBox, user: str | None, token: str | None) -> int:
    """The user an unsubscribe link stands for; BadLink unless the token is this server's, unexpired, and for the
    user the link names."""
    if not user or not token:
        raise BadLink("The link is incomplete.")
    try:
        payload = json.loads(box.open_token(token, settings.unsubscribe_link_days * 86400))
    except ValueError:
        raise BadLink("The link is not valid, or has expired.") from None
    named = parse_global_id(user)
    if not isinstance(payload, dict) or payload.get("p") != TOKEN_PURPOSE or not isinstance(payload.get("u"), int):
        raise BadLink("The link is not valid, or has expired.")
    if named is None or named != ("User", payload["u"]):
        raise BadLink("The link is for another user.")
    return int(payload["u"])


async def recipient_of(session: AsyncSession, user_id: int) -> tuple[User, Workspace] | None:
    """The user a valid link names, and their workspace (None when the user is gone or erased)."""
    found = (
        await session.execute(
            select(User, Workspace)
            .join(Workspace, Workspace.id == User.workspace_id)
            .where(User.id == user_id, User.erased_at.is_(None))
        )
    ).first()
    return None if found is None else (found[0], found[1])


async def unsubscribe(session: AsyncSession, user_id: int) -> Choices:
    """One-click unsubscribe: all email to the user stops, including what waits in the outbox (skipped when
    its time comes, as settings are read at sending time)."""
    return await notification_settings.email_off(session, user_id)
