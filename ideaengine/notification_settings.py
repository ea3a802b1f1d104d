"""What each user wants to hear and how: email on or off, the digest's rhythm, and whether an UP vote follows.

A user without a row has the defaults, so signing in writes nothing; the first change writes the row."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.errors import DomainError, ErrorCode
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform.models import DigestFrequency, NotificationSetting, utcnow
from ideaengine.platform.upsert import insert_for


@dataclass(frozen=True)
class Settings:
    email: bool
    digest: DigestFrequency
    follow_on_vote: bool


DEFAULTS = Settings(email=True, digest=DigestFrequency.INSTANT, follow_on_vote=True)
"""Email on, sent as it happens (once a mail server is configured and the user has an address), and an UP
vote follows: a supporter hears what became of their vote unless they say otherwise."""


def of_row(row: NotificationSetting | None) -> Settings:
    """The settings a (possibly missing) row stands for: callers that read rows in bulk use it too."""
    return DEFAULTS if row is None else Settings(row.email, row.digest, row.follow_on_vote)


async def of_user(session: AsyncSession, user_id: int) -> Settings:
    return of_row(await session.get(NotificationSetting, user_id))


async def of_viewer(session: AsyncSession, actor: Actor) -> Settings | None:
    """The signed-in caller's settings; None for anonymous (and banned) callers, who have none to read."""
    if actor.user_id is None or actor.role < ActorRole.MEMBER:
        return None
    return await of_user(session, actor.user_id)


async def update(
    session: AsyncSession,
    actor: Actor,
    email: bool | None = None,
    digest: DigestFrequency | None = None,
    follow_on_vote: bool | None = None,
) -> Settings:
    """The caller's own settings; what is None stays as it was. Members and above (an API key's user too)."""
    if actor.workspace_id is None or actor.user_id is None:
        actor.refuse_if_banned()
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Sign in to change notification settings.")
    user_id = actor.require(actor.workspace_id, ActorRole.MEMBER, "change notification settings")
    current = await of_user(session, user_id)
    if email is not None:
        current = replace(current, email=email)
    if digest is not None:
        current = replace(current, digest=digest)
    if follow_on_vote is not None:
        current = replace(current, follow_on_vote=follow_on_vote)
    await _store(session, user_id, current)
    return current


async def email_off(session: AsyncSession, user_id: int) -> Settings:
    """Stop all email to the user (a one-click unsubscribe link); their other choices stay."""
    current = replace(await of_user(session, user_id), email=False)
    await _store(session, user_id, current)
    return current


def sends_email(settings: Settings) -> bool:
    """Whether these settings want email at all: email on, and a rhythm other than NEVER."""
    return settings.email and settings.digest != DigestFrequency.NEVER


async def _store(session: AsyncSession, user_id: int, settings: Settings) -> None:
    values = {
        "email": settings.email,
        "digest": settings.digest,
        "follow_on_vote": settings.follow_on_vote,
        "updated_at": utcnow(),
    }
    stmt = insert_for(session, NotificationSetting).values(user_id=user_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))


FOLLOWS_ON_VOTE_OFF = select(NotificationSetting.user_id).where(NotificationSetting.follow_on_vote.is_(False))
"Users who turned followOnVote off (everyone else, with or without a row, follows on an UP vote)."
