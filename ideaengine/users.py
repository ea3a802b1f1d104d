"""Users as others see them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards
from ideaengine.identity import Actor
from ideaengine.platform.models import Board, Comment, Idea, StatusChange, User


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, User]:
    """Users of the actor's own workspace, and users whose name shows on something the actor can read: an
    idea or comment they wrote, or a status change they made, on a board visible to the actor. Anyone else
    (a voter on a private board, say) is unknown to the actor, so `node` and `User` answer null."""
    rows = (await session.execute(select(User).where(User.id.in_(ids)))).scalars().all()
    own = {u.id for u in rows if actor.workspace_id is not None and u.workspace_id == actor.workspace_id}
    others = [u.id for u in rows if u.id not in own]
    shown: set[int] = set()
    if others:
        visible = boards.visible_to(actor)
        authors = union(
            select(Idea.author_id.label("user_id"))
            .join(Board, Board.id == Idea.board_id)
            .where(Idea.author_id.in_(others), visible),
            select(Comment.author_id.label("user_id"))
            .join(Idea, Idea.id == Comment.idea_id)
            .join(Board, Board.id == Idea.board_id)
            .where(Comment.author_id.in_(others), visible),
            select(StatusChange.actor_id.label("user_id"))
            .join(Idea, Idea.id == StatusChange.idea_id)
            .join(Board, Board.id == Idea.board_id)
            .where(StatusChange.actor_id.in_(others), visible),
        )
        shown = {user_id for (user_id,) in await session.execute(authors) if user_id is not None}
    return {u.id: u for u in rows if u.id in own or u.id in shown}


def can_see_external_id(actor: Actor, user: User) -> bool:
    """The user themself, and the workspace's moderators and admins (DECISIONS.md 4)."""
    return actor.user_id == user.id or actor.is_moderator_of(user.workspace_id)
