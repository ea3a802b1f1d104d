"""SQLite writers of one process queue in one line, whichever loop or thread they run on (in-process jobs)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from ideaengine.platform import writer_lock
from ideaengine.platform.db import Database
from ideaengine.platform.settings import Settings
from tests.conftest import eventually


async def queued(lock: writer_lock.SharedWriterLock, n: int) -> None:
    async def check() -> bool:
        return len(lock._waiters) >= n

    await eventually(check, 5, f"{n} waiters")


async def test_writers_on_other_loops_take_their_turn_in_order() -> None:
    lock = writer_lock.SharedWriterLock()
    order: list[str] = []

    def waiter(name: str) -> threading.Thread:
        async def body() -> None:
            async with lock:
                order.append(name)

        thread = threading.Thread(target=asyncio.run, args=(body(),))
        thread.start()
        return thread

    await lock.acquire()
    first = waiter("first")
    await queued(lock, 1)
    second = waiter("second")
    await queued(lock, 2)
    await asyncio.sleep(0.1)
    assert order == []  # both wait while this loop holds it
    lock.release()
    await asyncio.to_thread(first.join, 5)
    await asyncio.to_thread(second.join, 5)
    assert order == ["first", "second"]
    await asyncio.wait_for(lock.acquire(), 1)  # free again
    lock.release()


async def test_a_waiter_cancelled_as_its_turn_comes_passes_the_lock_on() -> None:
    lock = writer_lock.SharedWriterLock()
    await lock.acquire()
    cancelled = asyncio.ensure_future(lock.acquire())
    await asyncio.sleep(0)
    following = asyncio.ensure_future(lock.acquire())
    await asyncio.sleep(0)
    lock.release()  # handed to `cancelled`, which is cancelled before it runs
    cancelled.cancel()
    await asyncio.wait_for(following, 1)
    assert cancelled.cancelled()
    lock.release()
    await asyncio.wait_for(lock.acquire(), 1)


async def test_every_database_on_one_file_shares_the_queue(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    server, job = Database(settings), Database(settings, pooled=False)
    other = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'y.db'}"))
    try:
        assert server._writer is job._writer is writer_lock.for_database(str(tmp_path / "x.db"))
        assert other._writer is not server._writer
    finally:
        for db in (server, job, other):
            await db.dispose()
