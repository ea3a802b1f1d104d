"""PostgreSQL's driver writes (`Database.driver_write`, the vote's transaction): they commit or roll back whole,
refuse to commit effects no unit of work took, and never hand a connection still in a transaction to the next
writer, even when cancelled in the middle of a statement."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ideaengine.app import create_app
from ideaengine.platform import jobs
from ideaengine.platform.db import pool_sizes
from tests.api.conftest import Api, Workspace, make_workspace
from tests.api.ops import create_board, idea_id, vote

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

    kept_writes = pool_sizes(services.settings.concurrent_operations)[1][0]
    assert not any(await asyncio.gather(*(checked_out() for _ in range(kept_writes))))
    # Nor among the connections the driver writes keep for themselves: writes at once take every one of them.
    assert not any(await asyncio.gather(*(in_transaction(services) for _ in range(services.db.kept_connections + 1))))
    assert await name_of(services, ws.slug) != "Renamed by a write that never ended"


async def in_transaction(services: Any) -> bool:
    """Whether the connection a driver write outside a transaction is lent was already in one."""
    async with services.db.driver_write(atomic=False) as work:
        await asyncio.sleep(0.05)  # hold it, so that writes beside this one take the other kept connections
        return bool(work.driver.is_in_transaction())


async def test_driver_writes_keep_their_connection_out_of_the_pool_and_drop_it_when_closed(
    services: Any, ws: Workspace
) -> None:
    """A driver write hands its connection to the next one without the pool's checkout and check-in (the vote's
    hot path); one the server closed meanwhile is discarded and the write runs on a fresh one."""
    from sqlalchemy import event

    pool = services.db.engine.sync_engine.pool
    checkouts: list[tuple[object, ...]] = []

    def count(*checkout: object) -> None:
        checkouts.append(checkout)

    event.listen(pool, "checkout", count)
    try:
        first = await backend_pid(services)
        assert await backend_pid(services) == first
        assert (services.db.kept_connections, len(checkouts)) == (1, 1)
    finally:
        event.remove(pool, "checkout", count)
    async with services.db.engine.connect() as conn:  # the server ends the kept connection's session
        await conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
    ((kept, _),) = services.db._kept
    for _ in range(100):  # asyncpg marks it closed once the event loop sees its socket close
        if kept.driver_connection.is_closed():
            break
        await asyncio.sleep(0.01)
    name = await name_of(services, ws.slug)  # a write in a transaction, on a fresh connection
    assert name and await backend_pid(services) != first


async def test_a_kept_connection_goes_back_to_the_pool_after_a_while(
    services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `KEEP_SECONDS` a kept connection goes back to the pool at its next use, so the pool's checks and its
    recycling reach it again."""
    from ideaengine.platform import db

    await backend_pid(services)
    assert services.db.kept_connections == 1
    monkeypatch.setattr(db, "KEEP_SECONDS", 0.0)
    await backend_pid(services)
    assert services.db.kept_connections == 0
    pool = services.db.engine.sync_engine.pool
    assert pool.checkedout() == 0


async def backend_pid(services: Any) -> int:
    async with services.db.driver_write(atomic=False) as work:
        return int(await work.driver.fetchval("SELECT pg_backend_pid()"))


@pytest.fixture
async def without_temporary(database_url: str) -> AsyncIterator[str]:
    """The test database through a role that may read and write its tables but not make temporary objects
    (TEMPORARY revoked), as a hardened deployment may run the server."""
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = database_url.replace("postgresql+asyncpg://", "postgresql://")
    role = f"ie_no_temp_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE ROLE "{role}" LOGIN')
        await conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
        await conn.execute(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        await conn.execute(f'REVOKE TEMPORARY ON DATABASE "{make_url(database_url).database}" FROM PUBLIC')
    finally:
        await conn.close()
    yield make_url(database_url).set(username=role).render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP OWNED BY "{role}"')
        await conn.execute(f'DROP ROLE "{role}"')
    finally:
        await conn.close()


async def test_a_server_that_may_not_make_temporary_objects_still_counts_votes(
    settings: Any, without_temporary: str
) -> None:
    """The vote's one call needs a function in pg_temp (`driver.AfterLock`); where the role may not make one, every
    vote takes the transaction instead, and the tally stays exact."""
    from ideaengine.platform.services import Services

    services = Services.create(settings.model_copy(update={"database_url": without_temporary}))
    try:
        ws = await make_workspace(services, "acme")
        app = create_app(services.settings, services)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            api = Api(client)
            target = await idea_id(api, ws.token("alice"), await create_board(api, ws.api_key), "Oat milk")
            for value, tally in (("UP", (1, 0)), ("DOWN", (0, 1)), (None, (0, 0)), ("UP", (1, 0))):
                payload = await vote(api, ws.token("bob"), target, value)
                assert payload["userErrors"] == [], payload
                assert (payload["idea"]["votes"]["up"], payload["idea"]["votes"]["down"]) == tally, value
    finally:
        await services.close()


async def test_a_burst_of_driver_writes_past_the_pool_hands_every_connection_back(settings: Any) -> None:
    """Forty writers at once on a pool of four kept connections and one overflow: they wait their turn, and
    afterwards only the connections the driver writes keep for the next ones are out (at most the pool's four),
    no more are open than the pool allows, and closing the services hands those back too."""
    from ideaengine.platform.services import Services

    services = Services.create(settings.model_copy(update={"max_concurrent_operations": 4}))
    try:

        async def write(n: int) -> int:
            async with services.db.driver_write(atomic=n % 2 == 0) as work:
                return int(await work.driver.fetchval("SELECT $1::int FROM pg_sleep(0.01)", n))

        assert await asyncio.gather(*(write(n) for n in range(40))) == list(range(40))
        pool = services.db.engine.sync_engine.pool
        kept = services.db.kept_connections
        assert 1 <= kept <= pool_sizes(4)[1][0]
        assert pool.checkedout() == kept  # type: ignore[attr-defined]
        assert pool.checkedin() + kept <= sum(pool_sizes(4)[1])  # type: ignore[attr-defined]
        assert await write(40) == 40
    finally:
        await services.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]  # closing hands back the kept ones too


async def test_sessions_take_back_what_the_driver_writes_keep_when_the_pool_runs_dry(settings: Any) -> None:
    """The driver writes keep as many connections as the write pool keeps open; sessions on that pool (writes, and
    `read` on PostgreSQL) that find none idle take kept ones back, instead of waiting out the pool's timeout."""
    from sqlalchemy import text

    from ideaengine.platform.services import Services

    update = {"max_concurrent_operations": 4, "database_pool_timeout_seconds": 1.0}
    services = Services.create(settings.model_copy(update=update))
    try:

        async def driver_write() -> None:
            async with services.db.driver_write(atomic=False) as work:
                await work.driver.execute("SELECT pg_sleep(0.05)")

        await asyncio.gather(*(driver_write() for _ in range(4)))
        assert services.db.kept_connections == pool_sizes(4)[1][0] == 4

        async def session_write() -> int:
            async with services.db.write() as session:
                return int((await session.execute(text("SELECT 1 FROM pg_sleep(0.3)"))).scalar_one())

        async def session_read() -> int:
            async with services.db.read() as session:
                return int((await session.execute(text("SELECT 2 FROM pg_sleep(0.3)"))).scalar_one())

        # Five at once on a pool of four kept and one overflow, all four kept by the driver writes.
        together = await asyncio.gather(*(session_write() for _ in range(3)), *(session_read() for _ in range(2)))
        assert together == [1, 1, 1, 2, 2]
        assert services.db.kept_connections == 0
    finally:
        await services.close()
