"""The right to be forgotten: an admin erases a user's personal data for good, keeping what the board needs.

The user row stays (ideas, comments, votes and status changes point at it) but holds nothing personal: no
name, no email, an external id of the engine's own (`erased:<id>`, which no SSO token may claim, so the
person signing in again is a new user), no ban. Their ideas and comments stay, shown as by a deleted user;
their votes and comparisons stay counted, tied to no one. What served only them goes: follows (so follower
counts drop), notifications and notification settings. Their reports keep counting (moderators'
decisions must stay explainable), but lose the free-text note, which could name anyone."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import users
from ideaengine.errors import invalid, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import Follow, Idea, Notification, NotificationSetting, Report, Role, User, utcnow
from ideaengine.platform.queries import lock_in_order

ERASED_PREFIX = "erased:"
"External ids of erased users; `identity.RESERVED_SUBJECTS` refuses tokens claiming one."


async def erase_user(session: AsyncSession, actor: Actor, user_id: int) -> User:
    """Admins of the user's workspace only. An API key's user (revoke the key) and an erased user are INVALID."""
    actor.refuse_if_banned()  # a banned actor reads like anonymous: tell them why before "no such user"
    user = (await users.get_visible_many(session, actor, [user_id])).get(user_id)
    if user is None:
        raise not_found("No such user.", "userId")
    await require_in(session, actor, user.workspace_id, ActorRole.ADMIN, "erase users")
    if user.role == Role.ADMIN:
        raise invalid("An API key's user cannot be erased: revoke the key instead.", "userId")
    if user.erased_at is not None:
        raise invalid("This user has already been erased.", "userId")
    followed = select(Follow.idea_id).where(Follow.user_id == user.id)
    await lock_in_order(session, Idea.id, Idea.id.in_(followed))
    await session.execute(
        update(Idea).where(Idea.id.in_(followed)).values(follower_count=Idea.follower_count - 1),
        execution_options={"synchronize_session": False},
    )
    await session.execute(delete(Follow).where(Follow.user_id == user.id))
    await session.execute(delete(Notification).where(Notification.user_id == user.id))
    await session.execute(update(Report).where(Report.reporter_id == user.id).values(note=None))
    await session.execute(delete(NotificationSetting).where(NotificationSetting.user_id == user.id))
    user.name = user.email = None
    user.external_id = f"{ERASED_PREFIX}{user.id}"
    user.role = Role.MEMBER
    user.banned_at = user.banned_until = user.ban_reason = user.banned_by_id = None
    user.erased_at = utcnow()
    await session.flush()
    return user


def is_erased(user: User) -> bool:
    return user.erased_at is not None
