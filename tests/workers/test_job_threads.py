"""In-process jobs keep their thread's event loop and connections from one job to the next (workers.base)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from ideaengine.platform.db import Database
from ideaengine.platform.jobs import JOB_THREADS, InProcessQueue, JobRequest
from ideaengine.platform.settings import Settings
from tests.conftest import eventually
from workers.base import with_database

SEEN: dict[str, list[tuple[int | None, Any]]] = {}
"What each test's jobs saw: the PostgreSQL backend (None on SQLite) and the driver's connection object, kept\n"
"so that no two connections seen share an id."
JOB = f"{__name__}.connection_of_a_job"


def connection_of_a_job(test: str) -> None:
    """A job: note which connection its write transaction ran on."""

    async def ask(db: Database) -> tuple[int | None, Any]:
        async with db.write() as session:
            connection = await session.connection()
            backend = None if db.settings.is_sqlite else (await connection.execute(text("SELECT pg_backend_pid()")))
            raw = await connection.get_raw_connection()
            return (None if backend is None else int(backend.scalar_one())), raw.driver_connection

    SEEN.setdefault(test, []).append(with_database(ask))


async def one_after_another(runner: InProcessQueue, test: str, jobs: int) -> list[tuple[int | None, Any]]:
    for _ in range(jobs):
        await runner.submit([JobRequest(JOB, (test,))])
        await runner.drain()
    seen = SEEN.pop(test, [])
    assert len(seen) == jobs, f"{jobs - len(seen)} of {jobs} jobs failed (their traceback is logged)"
    return seen


async def backends(settings: Settings, pids: set[int]) -> set[int]:
    """Which of `pids` are still connected to the test's database."""
    db = Database(settings, pooled=False)
    try:
        async with db.reader() as session:
            alive = (await session.execute(text("SELECT pid FROM pg_stat_activity"))).scalars().all()
    finally:
        await db.dispose()
    return pids & set(alive)


def job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ideaengine-job")]


async def test_jobs_one_after_another_reuse_their_threads_connections(
    settings: Settings, request: pytest.FixtureRequest
) -> None:
    runner = InProcessQueue(settings)
    try:
        seen = await one_after_another(runner, request.node.name, 12)
    finally:
        await runner.close()
    connections = {id(driver) for _, driver in seen}
    # A job that connected afresh would have made 12; each runner thread keeps one for writes.
    assert len(connections) <= JOB_THREADS, seen
    if not settings.is_sqlite:
        assert len({pid for pid, _ in seen}) == len(connections)


async def test_closing_the_runner_closes_what_its_threads_kept(
    settings: Settings, request: pytest.FixtureRequest
) -> None:
    before = set(threading.enumerate())
    runner = InProcessQueue(settings)
    try:
        seen = await one_after_another(runner, request.node.name, 3)
        assert job_threads()
    finally:
        await runner.close()
    # The job threads end, and aiosqlite's connection threads and the job loops' executors with them.
    assert await eventually(
        lambda: _no_new_threads(before), 5, "threads left by the runner", lambda: str(threading.enumerate())
    )
    if not settings.is_sqlite:
        pids = {pid for pid, _ in seen if pid is not None}
        assert await eventually(lambda: _gone(settings, pids), 5, "connections left by the runner")


async def _no_new_threads(before: set[threading.Thread]) -> bool:
    return not [t for t in threading.enumerate() if t not in before and t.is_alive()]


async def _gone(settings: Settings, pids: set[int]) -> bool:
    return not await backends(settings, pids)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # no server closes a SQLite connection
async def test_a_job_after_its_kept_connection_was_closed_by_the_server_runs_on_a_new_one(
    settings: Settings, request: pytest.FixtureRequest
) -> None:
    runner = InProcessQueue(settings)
    try:
        (first, _), *_ = await one_after_another(runner, request.node.name, 1)
        assert first is not None
        db = Database(settings, pooled=False)
        try:
            async with db.reader() as session:
                await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        finally:
            await db.dispose()
        await eventually(lambda: _gone(settings, {first}), 5, "the terminated backend")
        after = await one_after_another(runner, request.node.name, 3)
    finally:
        await runner.close()
    assert first not in {pid for pid, _ in after}
