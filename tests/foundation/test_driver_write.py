"""PostgreSQL's driver writes (`Database.driver_write`, the vote's transaction): they commit or roll back whole,
refuse to commit effects no unit of work took, and never hand a connection still in a transaction to the next
writer, even when cancelled in the middle of a statement."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ideaengine.platform import jobs
from ideaengine.platform.db import POOL_SIZE
from tests.api.conftest import Workspace

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

RENAME = "UPDATE workspaces SET name = $1 WHERE slug = $2"


async def name_of(services: Any, slug: str) -> str:
    async with services.db.driver_write() as work:
        return str(await work.driver.fetchval("SELECT name FROM workspaces WHERE slug = $1", slug))


async def test_a_driver_write_commits_whole_or_not_at_all(services: Any, ws: Workspace) -> None:
    before = await name_of(services, ws.slug)
    with pytest.raises(LookupError):
        async with services.db.driver_write() as work:
            await work.driver.execute(RENAME, "Renamed, then rolled back", ws.slug)
            raise LookupError("a refusal after the first statement")
    assert await name_of(services, ws.slug) == before
    with pytest.raises(RuntimeError, match="effects queued outside a unit of work"):
        async with services.db.driver_write() as work:
            await work.driver.execute(RENAME, "Renamed with a job nobody hands over", ws.slug)
            jobs.after_commit(work, "workers.scores.refresh_board", 1)
    assert await name_of(services, ws.slug) == before
    async with services.db.driver_write() as work:
        await work.driver.execute(RENAME, "Renamed", ws.slug)
    assert await name_of(services, ws.slug) == "Renamed"


async def test_a_cancelled_driver_write_leaves_no_transaction_open_in_the_pool(services: Any, ws: Workspace) -> None:
    for _ in range(3):
        with pytest.raises(TimeoutError):
            async with services.db.driver_write() as work:
                await work.driver.execute(RENAME, "Renamed by a write that never ended", ws.slug)
                await asyncio.wait_for(work.driver.execute("SELECT pg_sleep(5)"), 0.2)

    async def checked_out() -> bool:
        async with services.db.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            await asyncio.sleep(0.05)  # hold it, so that the others check out the pool's other connections
            return bool(driver.is_in_transaction())

    assert not any(await asyncio.gather(*(checked_out() for _ in range(POOL_SIZE))))
    assert await name_of(services, ws.slug) != "Renamed by a write that never ended"
