"""Per-request DataLoaders. Each batch reads through the context's `read()` (the request's shared session,
one task at a time) and calls a domain function that applies the actor's visibility."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from ideaengine import boards, comments, follows, ideas, lifecycle, scores, users, votes
from ideaengine.identity import Actor
from ideaengine.platform.models import Board, Comment, Idea, IdeaScore, StatusChange, User

K = TypeVar("K")
V = TypeVar("V")


class Reads(Protocol):
    """Where a batch gets its session: the request's `Context`."""

    def read(self) -> AbstractAsyncContextManager[AsyncSession]: ...


def _loader(
    db: Reads, fetch: Callable[[AsyncSession, Sequence[Any]], Awaitable[dict[Any, Any]]], default: Any = None
) -> DataLoader[Any, Any]:
    async def batch(keys: list[Any]) -> list[Any]:
        async with db.read() as session:
            found = await fetch(session, keys)
        return [found.get(k, default() if callable(default) else default) for k in keys]

    return DataLoader(load_fn=batch)


class Loaders:
    def __init__(self, db: Reads, actor: Actor) -> None:
        self.idea: DataLoader[int, Idea | None] = _loader(db, lambda s, ids: ideas.get_visible_many(s, actor, ids))
        self.board: DataLoader[int, Board | None] = _loader(db, lambda s, ids: boards.get_visible_many(s, actor, ids))
        self.user: DataLoader[int, User | None] = _loader(db, lambda s, ids: users.get_visible_many(s, actor, ids))
        self.comment: DataLoader[int, Comment | None] = _loader(db, comments.get_many)
        self.score: DataLoader[int, tuple[IdeaScore | None, int]] = _loader(db, scores.scores_many, (None, 0))
        self.tags: DataLoader[int, list[str]] = _loader(db, ideas.tags_many, list)
        self.history: DataLoader[int, list[StatusChange]] = _loader(db, lifecycle.history_many, list)
        user_id = actor.user_id
        self.viewer_vote: DataLoader[int, int | None] = _loader(
            db, lambda s, ids: votes.viewer_votes(s, user_id, ids) if user_id else _empty()
        )
        self.viewer_follows: DataLoader[int, bool] = _loader(
            db, lambda s, ids: _as_flags(follows.follows_many(s, user_id, ids)) if user_id else _empty(), False
        )


async def _empty() -> dict[Any, Any]:
    return {}


async def _as_flags(found: Awaitable[set[int]]) -> dict[int, bool]:
    return dict.fromkeys(await found, True)
