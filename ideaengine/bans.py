"""Bans: a moderator takes a user's right to write away, until a time or until lifted.

A banned user's token still verifies, but `identity` turns it into an anonymous actor carrying the ban: they
read what anyone may read, and every write is FORBIDDEN with a message saying they are banned. What they
wrote stays as it was (pending content stays pending)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import users, validation
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor, ActorRole, active_ban, require_in
from ideaengine.platform.models import Role, User, utcnow

REASON_MAX = 1_000


async def _target(session: AsyncSession, actor: Actor, user_id: int, what: str) -> tuple[User, int]:
    """The user to ban or unban, and the acting moderator's id; permissions are checked before any input rule."""
    actor.refuse_if_banned()  # a banned actor reads like anonymous: tell them why before "no such user"
    user = (await users.get_visible_many(session, actor, [user_id])).get(user_id)
    if user is None:
        raise not_found("No such user.", "userId")
    actor_id = await require_in(session, actor, user.workspace_id, ActorRole.MODERATOR, what)
    if user.id == actor_id:
        raise invalid("You cannot ban or unban yourself.", "userId")
    if user.role == Role.ADMIN:
        raise invalid("An API key's user cannot be banned or unbanned: revoke the key instead.", "userId")
    if user.role == Role.MODERATOR and actor.role_in(user.workspace_id) < ActorRole.ADMIN:
        raise DomainError(ErrorCode.FORBIDDEN, "Only admins may ban or unban a moderator.", "userId")
    return user, actor_id


async def ban_user(
    session: AsyncSession, actor: Actor, user_id: int, until: datetime | None = None, reason: str | None = None
) -> User:
    """Moderators and admins of the user's workspace. Banning a banned user replaces the ban (its end, its
    reason); `until` None bans until lifted. A time without a zone is read as UTC."""
    user, actor_id = await _target(session, actor, user_id, "ban users")
    now = utcnow()
    if until is not None:
        until = until.replace(tzinfo=UTC) if until.tzinfo is None else until.astimezone(UTC)
        if until <= now:
            raise invalid("A ban must end in the future (or leave `until` out to ban until lifted).", "until")
    if reason is not None:
        reason = validation.text(reason, "reason", max_len=REASON_MAX, label="A reason") or None
    user.banned_at, user.banned_until, user.ban_reason, user.banned_by_id = now, until, reason, actor_id
    await session.flush()
    return user


async def unban_user(session: AsyncSession, actor: Actor, user_id: int) -> User:
    """Moderators and admins: lift a ban at once. A user who is not banned (or whose ban ran out) is INVALID."""
    user, _ = await _target(session, actor, user_id, "unban users")
    if active_ban(user) is None:
        raise invalid("This user is not banned.", "userId")
    user.banned_at = user.banned_until = user.ban_reason = user.banned_by_id = None
    await session.flush()
    return user


def can_see_ban(actor: Actor, user: User) -> bool:
    """Moderators and admins of the user's workspace (the banned user is anonymous while banned)."""
    return actor.is_moderator_of(user.workspace_id)
