"""Users as others see them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.identity import Actor
from ideaengine.platform.models import Board, User, Visibility

_VISIBLE = select(User).where(
    User.id.in_(bindparam("ids", expanding=True)),
    or_(
        exists().where(Board.workspace_id == User.workspace_id, Board.visibility == Visibility.PUBLIC),
        User.workspace_id == bindparam("reader_workspace"),
    ),
)
"One statement, built once: a DataLoader batch runs it for every page that shows authors."


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, User]:
    """Users of the actor's workspace, and users of workspaces with a public board (their names show there)."""
    rows = await session.execute(_VISIBLE, {"ids": list(ids), "reader_workspace": actor.workspace_id})
    return {u.id: u for u in rows.scalars()}


def can_see_external_id(actor: Actor, user: User) -> bool:
    """The user themself, and the workspace's moderators and admins (DECISIONS.md 4)."""
    return actor.user_id == user.id or actor.is_moderator_of(user.workspace_id)
