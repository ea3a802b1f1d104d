"""`at_once` and `Loader.prefetch`: the fields of a page's items resolve in place when their list loaded
ahead, and a failed key still fails only the field that asks for it."""

from __future__ import annotations

import inspect

import pytest

from schema.loaders import Loader, at_once


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
