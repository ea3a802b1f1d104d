"""What every job shares: its own engine (never across a fork or a loop) and one log line with its figures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from ideaengine.platform.db import Database
from ideaengine.platform.jobs import current_settings

log = logging.getLogger("ideaengine.jobs")
T = TypeVar("T")


@asynccontextmanager
async def job_database() -> AsyncIterator[Database]:
    """A NullPool engine created and disposed inside the job: rq forks per job and runs a fresh loop."""
    db = Database(current_settings(), pooled=False)
    try:
        yield db
    finally:
        await db.dispose()


def run(job: str, board_id: int, body: Callable[[Database], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run an async job body in a fresh event loop and log one line: job, board, duration and counts."""
    if isinstance(board_id, bool) or not isinstance(board_id, int):
        raise TypeError(f"{job}: board_id must be an int, not {board_id!r}")

    async def main() -> dict[str, Any]:
        async with job_database() as db:
            return await body(db)

    started = time.monotonic()
    counts = asyncio.run(main())
    fields = {"job": job, "board": board_id, "seconds": round(time.monotonic() - started, 4), **counts}
    log.info("job %s done", job, extra={"fields": fields})
    return counts
