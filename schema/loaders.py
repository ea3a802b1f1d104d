"""Per-request DataLoaders. Each batch reads through the context's `read()` (the request's shared session,
one task at a time) and calls a domain function that applies the actor's visibility."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import cached_property
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from ideaengine import (
    ballots,
    board_pages,
    boards,
    campaign_results,
    campaigns,
    comments,
    duplicates,
    follows,
    ideas,
    lifecycle,
    reactions,
    scores,
    supporters,
    users,
    votes,
    webhooks,
)
from ideaengine.duplicates import Cluster
from ideaengine.errors import DomainError
from ideaengine.identity import Actor
from ideaengine.platform.models import (
    Board,
    Campaign,
    CampaignPhase,
    CampaignResult,
    Comment,
    CommentRevision,
    Idea,
    Notification,
    StatusChange,
    User,
    WebhookDelivery,
)
from ideaengine.platform.queries import Page, Window
from ideaengine.reactions import ReactionCount
from ideaengine.supporters import Contributions

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")

IdeaListing = tuple[ideas.IdeaSort, ideas.IdeaFilter, Window]
"What a board's idea list is asked for: its sort, filters and window."
CampaignListing = tuple[tuple[CampaignPhase, ...] | None, Window]
"What a board's campaign list is asked for: its phases and window."


class Reads(Protocol):
    """Where a batch gets its session: the request's `Context`."""

    def read(self) -> AbstractAsyncContextManager[AsyncSession]: ...


class Loader(DataLoader[K, V]):
    """A DataLoader whose callers wait on their own view of a shared result.

    Fields that load the same key share one future. graphql-core cancels the sibling fields of a non-null
    field that failed, and cancelling a task cancels the future it awaits: without the shield, one failed
    field cancelled the shared load under another, unrelated field, and the CancelledError escaped the
    whole request (a 500 for `{ a: idea(id: X) { author { name } comments(first: 101) { totalCount } }
    b: idea(id: X) { author { name } } }`)."""

    def load(self, key: K) -> Awaitable[V]:
        shared = super().load(key)
        # Every waiter may have been cancelled: the failure is then no one's news (and not a log line).
        shared.add_done_callback(_retrieved)  # type: ignore[attr-defined]
        return asyncio.shield(shared)

    def prefetch(self, keys: Sequence[K]) -> Awaitable[Any]:
        """Load these keys in one batch for fields that will ask for them (`at_once`); it never raises: a
        failed key is its field's to report. One shield for all, where `load` has one per key."""
        shared = [super(Loader, self).load(key) for key in keys]
        for future in shared:
            future.add_done_callback(_retrieved)  # type: ignore[attr-defined]
        return asyncio.shield(asyncio.gather(*shared, return_exceptions=True))


def at_once(loader: DataLoader[K, V], key: K, then: Callable[[V], R]) -> R:
    """`then` of the loaded value, at once when the loader holds it already, else (typed as the value, as
    graphql-core takes either from a resolver) an awaitable of it.

    For fields of every item of a page: a resolver that returns a value is completed in place, while one that
    returns an awaitable costs graphql-core a task and a gather, and the loader a future and a shield; on a
    top-20 page those were most of the CPU. Lists load what their items' fields will ask first (see
    `schema.ideas.prefetch`), so each item's fields find their values here."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return then(future.result())
    return cast(R, _later(loader, key, then))


async def _later(loader: DataLoader[K, V], key: K, then: Callable[[V], R]) -> R:
    return then(await loader.load(key))


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _loader(
    db: Reads, fetch: Callable[[AsyncSession, Sequence[Any]], Awaitable[dict[Any, Any]]], default: Any = None
) -> DataLoader[Any, Any]:
    async def batch(keys: list[Any]) -> list[Any]:
        async with db.read() as session:
            found = await fetch(session, keys)
        return [found.get(k, default() if callable(default) else default) for k in keys]

    return Loader(load_fn=batch)


def _per_parent(
    db: Reads, fetch: Callable[[AsyncSession, list[Any], Any], Awaitable[Mapping[Any, Any]]], default: Any = None
) -> DataLoader[tuple[Any, Any], Any]:
    """A loader keyed by (parent, arguments): one fetch per distinct arguments, for all their parents, so a
    nested list of a page of parents costs the same few statements however long the page. A DomainError
    (as a value, or raised for the whole group) is raised by each `load` it concerns."""

    async def batch(keys: list[tuple[Any, Any]]) -> list[Any]:
        groups: dict[Hashable, list[Any]] = {}
        for parent, args in keys:
            groups.setdefault(args, []).append(parent)
        found: dict[tuple[Any, Any], Any] = {}
        async with db.read() as session:
            for args, parents in groups.items():
                try:
                    result: Mapping[Any, Any] = await fetch(session, parents, args)
                except DomainError as exc:
                    result = dict.fromkeys(parents, exc)
                for parent in parents:
                    found[parent, args] = result.get(parent, default() if callable(default) else default)
        return [found[k] for k in keys]

    return Loader(load_fn=batch)


class Loaders:
    """Per-request loaders, each made on first use: a request asks a few of the thirty (making them all cost
    a tenth of a page's CPU). A loader's function refers to what it needs (the actor, the reads), never to
    the Loaders: with `Context.release` that leaves no reference cycle, so what a request read is freed when it
    ends instead of waiting for the garbage collector."""

    def __init__(self, db: Reads, actor: Actor) -> None:
        self._db = db
        self._actor = actor
        self._user_id = actor.user_id

    def _seen(
        self, fetch: Callable[[AsyncSession, Actor, Sequence[Any]], Awaitable[Any]], default: Any = None
    ) -> DataLoader[Any, Any]:
        """A loader of `fetch` as the request's actor sees it."""
        actor = self._actor
        return _loader(self._db, lambda s, ids: fetch(s, actor, ids), default)

    def _pages(
        self, fetch: Callable[[AsyncSession, Actor, list[Any], Any], Awaitable[Any]], default: Any
    ) -> DataLoader[Any, Any]:
        """A per-parent loader of `fetch` as the request's actor sees it."""
        actor = self._actor
        return _per_parent(self._db, lambda s, ids, a: fetch(s, actor, ids, a), default)

    @cached_property
    def idea(self) -> DataLoader[int, Idea | None]:
        return self._seen(ideas.get_visible_many)

    @cached_property
    def notified_idea(self) -> DataLoader[int, Idea | None]:
        return self._seen(ideas.get_notified_many)

    @cached_property
    def board(self) -> DataLoader[int, Board | None]:
        return self._seen(boards.get_visible_many)

    @cached_property
    def user(self) -> DataLoader[int, User | None]:
        return self._seen(users.get_visible_many)

    @cached_property
    def comment(self) -> DataLoader[int, Comment | None]:
        return self._seen(comments.get_visible_many)

    @cached_property
    def comment_revisions(self) -> DataLoader[int, list[CommentRevision] | None]:
        return self._seen(comments.revisions_many)

    @cached_property
    def notification(self) -> DataLoader[int, Notification | None]:
        return self._seen(follows.notifications_many)

    @cached_property
    def score(self) -> DataLoader[int, scores.Stored]:
        return _loader(self._db, scores.scores_many, scores.NOTHING)

    @cached_property
    def tags(self) -> DataLoader[int, list[str]]:
        return _loader(self._db, ideas.tags_many, list)

    @cached_property
    def board_tags(self) -> DataLoader[int, list[str]]:
        return _loader(self._db, boards.tags_many, list)

    @cached_property
    def history(self) -> DataLoader[int, list[StatusChange]]:
        return _loader(self._db, lifecycle.history_many, list)

    @cached_property
    def viewer_vote(self) -> DataLoader[int, int | None]:
        user_id = self._user_id
        return _loader(self._db, lambda s, ids: votes.viewer_votes(s, user_id, ids) if user_id else _empty())

    @cached_property
    def viewer_follows(self) -> DataLoader[int, bool]:
        user_id = self._user_id
        return _loader(
            self._db,
            lambda s, ids: _as_flags(follows.follows_many(s, user_id, ids)) if user_id else _empty(),
            False,
        )

    @cached_property
    def board_ideas(self) -> DataLoader[tuple[int, IdeaListing], Page[Idea]]:
        return self._pages(lambda s, actor, ids, a: board_pages.list_boards(s, actor, ids, *a), Page)

    @cached_property
    def comment_pages(self) -> DataLoader[tuple[int, Window], Page[Comment]]:
        return self._pages(comments.pages_for_ideas, Page)

    @cached_property
    def comment_replies(self) -> DataLoader[tuple[int, Window], Page[Comment]]:
        return self._pages(comments.replies_for_comments, Page)

    @cached_property
    def reactions(self) -> DataLoader[int, list[ReactionCount]]:
        return self._seen(reactions.counts_many, list)

    @cached_property
    def clusters(self) -> DataLoader[tuple[int, Window], Page[Cluster]]:
        return self._pages(duplicates.clusters_many, Page)

    @cached_property
    def deliveries(self) -> DataLoader[tuple[int, Window], Page[WebhookDelivery]]:
        return self._pages(webhooks.deliveries_many, Page)

    @cached_property
    def supporters(self) -> DataLoader[tuple[int, Window], Page[User]]:
        return self._pages(supporters.supporters_many, Page)

    @cached_property
    def contributions(self) -> DataLoader[int, Contributions]:
        return self._seen(supporters.contributions_many, supporters.Contributions)

    @cached_property
    def similar(self) -> DataLoader[tuple[int, int], list[tuple[int, float]]]:
        return self._pages(duplicates.similar_many, list)

    @cached_property
    def campaign(self) -> DataLoader[int, Campaign | None]:
        return self._seen(campaigns.get_visible_many)

    @cached_property
    def campaign_pages(self) -> DataLoader[tuple[int, CampaignListing], Page[Campaign]]:
        return self._pages(lambda s, actor, ids, a: campaigns.list_many(s, actor, ids, *a), Page)

    @cached_property
    def campaign_finalists(self) -> DataLoader[int, list[int]]:
        return _loader(self._db, ballots.finalists_many, list)

    @cached_property
    def campaign_results(self) -> DataLoader[int, list[CampaignResult]]:
        return _loader(self._db, campaign_results.results_many, list)

    @cached_property
    def viewer_ballot(self) -> DataLoader[int, list[int]]:
        user_id = self._user_id
        return _loader(self._db, lambda s, ids: ballots.viewer_ballots(s, user_id, ids) if user_id else _empty(), list)


async def _empty() -> dict[Any, Any]:
    return {}


async def _as_flags(found: Awaitable[set[int]]) -> dict[int, bool]:
    return dict.fromkeys(await found, True)
