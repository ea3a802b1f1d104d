"""`at_once` and `Loader.prefetch`: the fields of a page's items resolve in place when their list loaded
ahead, and a failed key still fails only the field that asks for it."""

from __future__ import annotations

import gc
import inspect

import pytest

from ideaengine.platform.models import Idea, IdeaScore
from ideaengine.platform.services import Services
from schema.loaders import Loader, Loaders, at_once
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, drain, idea_id


def _loader(calls: list[list[int]]) -> Loader[int, int]:
    async def batch(keys: list[int]) -> list[int | BaseException]:
        calls.append(keys)
        return [ValueError(f"no {k}") if k < 0 else k * 10 for k in keys]

    return Loader(load_fn=batch)


async def test_a_prefetched_key_resolves_at_once_in_one_batch() -> None:
    calls: list[list[int]] = []
    loader = _loader(calls)
    await loader.prefetch([1, 2, 3])
    assert [at_once(loader, k, str) for k in (1, 2, 3)] == ["10", "20", "30"]
    assert calls == [[1, 2, 3]]


async def test_a_key_not_loaded_yet_comes_as_an_awaitable() -> None:
    calls: list[list[int]] = []
    loader = _loader(calls)
    pending = at_once(loader, 4, str)
    assert inspect.isawaitable(pending)
    assert await pending == "40"


async def test_a_failed_key_fails_its_own_field_only() -> None:
    calls: list[list[int]] = []
    loader = _loader(calls)
    await loader.prefetch([1, -1])  # never raises
    assert at_once(loader, 1, str) == "10"
    failing = at_once(loader, -1, str)
    assert inspect.isawaitable(failing)
    with pytest.raises(ValueError, match="no -1"):
        await failing


READ_EVERYTHING = """query($b: ID!) { node(id: $b) { ... on Board { ideas(first: 20) { totalCount edges { node {
    id title author { name } tags score { rank stale } comments(first: 2) { totalCount edges { node { body } } }
} } } } } }"""


async def test_a_request_frees_what_it_read_without_the_garbage_collector(
    api: Api, ws: Workspace, services: Services
) -> None:
    """A request's loaders and context refer to each other until the operation ends, then let go: with the
    collector off, no idea, score or loader the request read is left alive once it has answered (a cycle held
    a page's whole graph until the collector's next pass, which on a large heap was long)."""
    board = await create_board(api, ws.api_key)
    for n in range(3):
        await idea_id(api, ws.token(f"author{n}"), board, f"Idea number {n}", tags=["x"])
    await drain(services)
    body = await api(READ_EVERYTHING, {"b": board})  # warm: whatever the first request builds for good
    assert len(body["data"]["node"]["ideas"]["edges"]) == 3
    gc.collect()
    gc.disable()
    try:
        body = await api(READ_EVERYTHING, {"b": board}, auth=ws.token("author0"))
        assert body["data"]["node"]["ideas"]["totalCount"] == 3
        # (The context itself waits for the collector: graphql-core's execution context, which holds it, refers to
        # itself. Without its loaders it holds a few small objects.)
        left = [o for o in gc.get_objects() if isinstance(o, (Idea, IdeaScore, Loaders, Loader))]
    finally:
        gc.enable()
    assert left == []


def test_the_server_freezes_what_it_holds_at_start_and_collects_young_objects_less_often() -> None:
    """`ideaengine serve` calls this as it starts (the app's lifespan): the collector's full passes then skip the
    startup heap, and young passes wait for 10,000 allocations."""
    from ideaengine.app import GC_YOUNG_THRESHOLD, gc_freeze

    threshold = gc.get_threshold()
    try:
        gc_freeze()
        assert gc.get_freeze_count() > 10_000  # the modules and everything they built
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
