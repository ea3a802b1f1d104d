"""The distributed runner with real parts: rq worker processes, the shared Redis, PostgreSQL.

Tests that break Redis start a private redis-server on a free port, never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ranking
from tests.api.conftest import Api, make_workspace
from tests.api.ops import create_board, idea, idea_id, vote
from tests.conftest import TEST_SECRET_KEY, eventually

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

SCRIPT = Path(sys.executable).parent / "ideaengine"
SCORE = "score { wilsonLowerBound rank stale } votes { up down }"


class Workers:
    """Starts `ideaengine worker` processes and kills them (and their work-horses) like a crash would."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.files: list[Any] = []

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker{len(self.procs)}.log", "wb")
        self.files.append(log)
        proc = subprocess.Popen(
            [str(SCRIPT), "worker"], env=self.env | extra, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def crash(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and every descendant (the work-horse runs in its own process group)."""
        for pid in [*descendants(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.crash(proc)
        for log in self.files:
            log.close()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("worker*.log")))


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def settings_for(database_url: str, redis_url: str, queue: str, delay: float = 0.3) -> Any:
    from ideaengine.platform.settings import Settings

    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        queue_name=queue,
        secret_key=TEST_SECRET_KEY,
        refresh_delay_seconds=delay,
        sweep_interval_seconds=2,
    )


def env_for(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
    env.update(
        {
            "IDEAENGINE_DATABASE_URL": settings.database_url,
            "IDEAENGINE_REDIS_URL": settings.redis_url,
            "IDEAENGINE_QUEUE_NAME": settings.queue_name,
            "IDEAENGINE_SECRET_KEY": TEST_SECRET_KEY,
            "IDEAENGINE_REFRESH_DELAY_SECONDS": str(settings.refresh_delay_seconds),
            "IDEAENGINE_SWEEP_INTERVAL_SECONDS": str(settings.sweep_interval_seconds),
        }
    )
    return env


@contextlib.asynccontextmanager
async def system(settings: Any, logs: Path) -> AsyncIterator[tuple[Api, Any, Workers]]:
    from ideaengine.app import create_app
    from ideaengine.platform.services import Services

    services = Services.create(settings)
    workers = Workers(env_for(settings), logs)
    app = create_app(settings, services)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield Api(client), services, workers
    finally:
        workers.stop_all()
        await services.close()


def fresh(api: Api, target: str, up: int) -> Any:
    async def check() -> bool:
        found = await idea(api, None, target, SCORE)
        return found["score"]["stale"] is False and found["votes"]["up"] == up and found["score"]["rank"] == 1

    return check


async def test_a_vote_leads_to_a_fresh_score(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    async with system(settings_for(pg_url, redis_url, f"ie-{uuid.uuid4().hex}"), tmp_path) as (api, services, workers):
        ws = await make_workspace(services, "acme")
        board = await create_board(api, ws.api_key)
        target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
        workers.start()
        await vote(api, ws.token("bob"), target, "UP")
        await eventually(fresh(api, target, 1), 30, "a fresh score", workers.output)
        found = await idea(api, None, target, SCORE)
        assert found["score"]["wilsonLowerBound"] == pytest.approx(float(ranking.wilson_lower_bound([1], [0])[0]))


async def test_a_burst_of_1000_votes_runs_a_handful_of_refreshes(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    from rq import Queue
    from rq.job import Job

    from ideaengine import votes
    from ideaengine.identity import Actor, ActorRole
    from ideaengine.platform.models import Role, User

    queue_name = f"ie-{uuid.uuid4().hex}"
    settings = settings_for(pg_url, redis_url, queue_name, delay=1.0)
    async with system(settings, tmp_path) as (api, services, workers):
        ws = await make_workspace(services, "acme")
        board = await create_board(api, ws.api_key)
        target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
        workers.start()
        async with services.db.transaction() as session:
            users = [
                User(workspace_id=1, external_id=f"voter{n}", name=f"Voter {n}", role=Role.MEMBER) for n in range(1000)
            ]
            session.add_all(users)
        from tests.api.ops import pk

        target_pk = pk(target)

        async def cast(user: User) -> None:
            async with services.db.transaction() as session:
                await votes.cast_vote(session, Actor(1, user.id, ActorRole.MEMBER), target_pk, 1)

        started = time.monotonic()
        for batch in range(0, 1000, 20):
            await asyncio.gather(*(cast(u) for u in users[batch : batch + 20]))
        burst = time.monotonic() - started
        await eventually(fresh(api, target, 1000), 60, "the burst's score", workers.output)
        queue = Queue(queue_name, connection=services.queue.redis)
        ids = queue.finished_job_registry.get_job_ids()
        refreshes = [
            j
            for j in Job.fetch_many(ids, connection=services.queue.redis)
            if j is not None and "refresh_board" in (j.description or "")
        ]
        # Two mechanisms enqueue refreshes: coalesced ones (about one per delay while votes arrive) and the
        # sweep (one per sweep interval while the board is stale, ignoring markers by design).
        swept = [j for j in refreshes if "-sweep-" in j.id]
        coalesced = [j for j in refreshes if "-sweep-" not in j.id]
        assert 1 <= len(coalesced) <= burst / settings.refresh_delay_seconds + 2, (len(coalesced), burst)
        assert len(swept) <= burst / settings.sweep_interval_seconds + 2, (len(swept), burst)


async def test_a_worker_killed_mid_job_is_replaced_and_scores_converge(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    import asyncpg
    from rq import Queue

    queue_name = f"ie-{uuid.uuid4().hex}"
    async with system(settings_for(pg_url, redis_url, queue_name), tmp_path) as (api, services, workers):
        ws = await make_workspace(services, "acme")
        board = await create_board(api, ws.api_key)
        target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
        first = workers.start()
        await eventually(fresh(api, target, 0), 30, "the first score", workers.output)
        # Hold the score table so the next refresh blocks mid-job, at its write.
        blocker = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE idea_scores IN ACCESS EXCLUSIVE MODE")
        try:
            await vote(api, ws.token("bob"), target, "UP")
            started = Queue(queue_name, connection=services.queue.redis).started_job_registry

            async def running() -> bool:
                return bool(started.count > 0)

            await eventually(running, 30, "the refresh to start", workers.output)
            workers.crash(first)
        finally:
            await tx.rollback()
            await blocker.close()
        await vote(api, ws.token("carol"), target, "UP")  # lands while no worker lives
        assert (await idea(api, None, target, SCORE))["score"]["stale"] is True
        workers.start()
        await eventually(fresh(api, target, 2), 60, "a new worker to converge", workers.output)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, which it may kill and restart empty."""

    def __init__(self, logs: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port, self.logs = free_port(), logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


async def test_redis_restarted_empty_while_votes_arrive_scores_converge(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    private = PrivateRedis(tmp_path)
    private.start()
    try:
        settings = settings_for(pg_url, private.url, f"ie-{uuid.uuid4().hex}")
        async with system(settings, tmp_path) as (api, services, workers):
            ws = await make_workspace(services, "acme")
            board = await create_board(api, ws.api_key)
            target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
            worker = workers.start()
            await vote(api, ws.token("v0"), target, "UP")
            await eventually(fresh(api, target, 1), 30, "the first score", workers.output)
            private.kill()
            for n in range(1, 6):  # accepted and committed while Redis is gone
                payload = await vote(api, ws.token(f"v{n}"), target, "UP")
                assert payload["userErrors"] == [] and payload["idea"]["votes"]["up"] == n + 1
            await asyncio.sleep(1)
            assert worker.poll() is None, "the worker must survive a Redis outage"
            private.start()  # empty: every queued job is gone
            await eventually(fresh(api, target, 6), 90, "scores to converge after Redis returned", workers.output)
            assert worker.poll() is None
    finally:
        private.kill()


async def test_a_malformed_job_fails_into_the_failed_registry_and_the_worker_lives_on(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    from rq import Queue

    from ideaengine.platform.jobs import run_job

    queue_name = f"ie-{uuid.uuid4().hex}"
    settings = settings_for(pg_url, redis_url, queue_name)
    async with system(settings, tmp_path) as (api, services, workers):
        ws = await make_workspace(services, "acme")
        board = await create_board(api, ws.api_key)
        target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
        worker = workers.start()
        queue = Queue(queue_name, connection=services.queue.redis)
        queue.enqueue(run_job, "workers.scores.refresh_board", ["not-a-board"], None)

        async def failed() -> bool:
            return bool(queue.failed_job_registry.count == 1)

        await eventually(failed, 30, "the malformed job to fail", workers.output)
        status = await asyncio.to_thread(
            subprocess.run,
            [str(SCRIPT), "worker", "--status"],
            env=env_for(settings),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["failed"] == 1
        assert (
            report["failedJobs"][0]["error"] == "TypeError: refresh_board: board_id must be an int, not 'not-a-board'"
        )
        await vote(api, ws.token("bob"), target, "UP")
        await eventually(fresh(api, target, 1), 30, "the worker to go on refreshing", workers.output)
        assert worker.poll() is None
