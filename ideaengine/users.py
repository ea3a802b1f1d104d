"""Users as others see them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import Exists

from ideaengine.identity import Actor
from ideaengine.platform.models import Board, Comment, Idea, StatusChange, User, Visibility


def _shown_on_a_public_board(*where: ColumnElement[bool]) -> Exists:
    return exists().where(Idea.board_id == Board.id, Board.visibility == Visibility.PUBLIC, *where)


_VISIBLE = select(User).where(
    User.id.in_(bindparam("ids", expanding=True)),
    or_(
        User.workspace_id == bindparam("reader_workspace"),
        _shown_on_a_public_board(Idea.author_id == User.id),
        _shown_on_a_public_board(
            Comment.idea_id == Idea.id, Comment.author_id == User.id, Comment.deleted_at.is_(None)
        ),
        _shown_on_a_public_board(StatusChange.idea_id == Idea.id, StatusChange.actor_id == User.id),
    ),
)
"""Users of the reader's own workspace, and users whose name shows on a public board: an idea or comment they
wrote (a deleted comment names nobody), or a status change they made. (A user's content lives in their own
workspace, so outside it the boards a reader can see are the public ones.) One statement, built once: a
DataLoader batch runs it for every page."""


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, User]:
    """Anyone else (a voter on a private board, say) is unknown to the actor: `node` and `User` answer null."""
    rows = await session.execute(_VISIBLE, {"ids": list(ids), "reader_workspace": actor.workspace_id})
    return {u.id: u for u in rows.scalars()}


def can_see_external_id(actor: Actor, user: User) -> bool:
    """The user themself, and the workspace's moderators and admins (DECISIONS.md 4)."""
    return actor.user_id == user.id or actor.is_moderator_of(user.workspace_id)
