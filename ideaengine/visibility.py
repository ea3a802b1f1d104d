"""What an actor may see of moderated content: the one rule every read of ideas and comments applies.

VISIBLE content is seen by whoever may read its board; PENDING content only by the moderators and admins
of its workspace and by its author; HIDDEN content only by the moderators and admins (the contract's rule:
taken down means taken down, for its author too). Lists, counts, loaders, subscriptions and writes all
filter through here. The one exception is a user's own notifications: they stay readable, with their idea,
to the idea's author whatever its state, so the author learns that reports hid it (`notified_ideas_clause`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, or_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import ColumnElement

from ideaengine import boards
from ideaengine.identity import Actor, ActorRole, actor_of
from ideaengine.platform.models import Board, Comment, Idea, ModerationState, User


def _moderator_workspace(actor: Actor) -> int | None:
    return actor.workspace_id if actor.workspace_id is not None and actor.role >= ActorRole.MODERATOR else None


def _author(actor: Actor) -> int | None:
    return actor.user_id if actor.user_id is not None and actor.role >= ActorRole.MEMBER else None


def _moderated(
    state: InstrumentedAttribute[ModerationState],
    author: InstrumentedAttribute[int | None],
    moderator_of: Any,
    author_id: Any,
) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = state == ModerationState.VISIBLE
    if moderator_of is not None:
        clause = or_(clause, Board.workspace_id == moderator_of)
    if author_id is not None:
        clause = or_(clause, and_(author == author_id, state == ModerationState.PENDING))
    return clause


def ideas_clause(actor: Actor) -> ColumnElement[bool]:
    """Ideas the actor may see (the statement joins Board): its board is readable and its state allows it."""
    return and_(
        boards.visible_to(actor),
        _moderated(Idea.moderation_state, Idea.author_id, _moderator_workspace(actor), _author(actor)),
    )


def comments_clause(actor: Actor) -> ColumnElement[bool]:
    """Comments the actor may see (the statement joins Idea and Board): a comment is as visible as its idea,
    and its own state must allow it too."""
    return and_(
        ideas_clause(actor),
        _moderated(Comment.moderation_state, Comment.author_id, _moderator_workspace(actor), _author(actor)),
    )


def notified_ideas_clause(actor: Actor) -> ColumnElement[bool]:
    """Ideas a user's notifications may be about (the statement joins Board): those they may see, and their
    own on a board they can read, whatever its state (a CONTENT_HIDDEN notification names the idea it hid)."""
    author_id = _author(actor)
    if author_id is None:
        return ideas_clause(actor)
    return or_(ideas_clause(actor), and_(boards.visible_to(actor), Idea.author_id == author_id))


def ideas_bound() -> ColumnElement[bool]:
    """The moderation half of `ideas_clause` for a statement built once: `params` supplies its values."""
    return _moderated(Idea.moderation_state, Idea.author_id, bindparam("moderator_of"), bindparam("reader_user"))


def params(actor: Actor) -> dict[str, int | None]:
    """Values of `ideas_bound`'s parameters; None compares as unknown, so it matches nothing."""
    return {"moderator_of": _moderator_workspace(actor), "reader_user": _author(actor)}


def can_see(actor: Actor, workspace_id: int, state: ModerationState, author_id: int | None) -> bool:
    """`ideas_clause`'s moderation half in Python, for one row already loaded."""
    if state == ModerationState.VISIBLE or actor.is_moderator_of(workspace_id):
        return True
    return state == ModerationState.PENDING and _is_author(actor, workspace_id, author_id)


def _is_author(actor: Actor, workspace_id: int, author_id: int | None) -> bool:
    return author_id is not None and actor.is_member_of(workspace_id) and author_id == actor.user_id


def user_can_read(user: User, board: Board, idea: Idea) -> bool:
    """Whether `user`, signing in now, could read the idea: whom a mention may notify, whom mail may tell."""
    reader = actor_of(user)
    return boards.can_read(reader, board) and can_see(reader, board.workspace_id, idea.moderation_state, idea.author_id)


def user_can_read_notified(user: User, board: Board, idea: Idea) -> bool:
    """`notified_ideas_clause` for one user and idea: whether mail may tell them of their notification."""
    reader = actor_of(user)
    return user_can_read(user, board, idea) or (
        boards.can_read(reader, board) and _is_author(reader, board.workspace_id, idea.author_id)
    )
