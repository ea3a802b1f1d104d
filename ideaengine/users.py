"""Users as others see them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.identity import Actor
from ideaengine.platform.models import Board, User, Visibility


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, User]:
    """Users of the actor's workspace, and users of workspaces with a public board (their names show there)."""
    rows = (await session.execute(select(User).where(User.id.in_(ids)))).scalars().all()
    public = set(
        (
            await session.execute(
                select(Board.workspace_id)
                .where(Board.visibility == Visibility.PUBLIC, Board.workspace_id.in_({u.workspace_id for u in rows}))
                .distinct()
            )
        ).scalars()
    )
    return {u.id: u for u in rows if u.workspace_id in public or actor.workspace_id == u.workspace_id}


def can_see_external_id(actor: Actor, user: User) -> bool:
    """The user themself, and the workspace's moderators and admins (DECISIONS.md 4)."""
    return actor.user_id == user.id or actor.is_moderator_of(user.workspace_id)
