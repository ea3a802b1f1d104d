"""One queue of SQLite writers per database file and process, across event loops and threads.

The server's writers run on its event loop; in-process jobs run in threads, each on a loop of its own. With
an `asyncio.Lock` per `Database`, the two met only in SQLite's busy handler, which polls: under a stream of
server writes a job's writer woke each time to find the lock taken again, outwaited `busy_timeout` and
failed with "database is locked", and a server writer queued behind a few jobs could do the same (a 503).
Here every writer of the process waits in one FIFO queue, woken on its own loop when its turn comes, so the
busy handler only arbitrates between processes (an rq worker, the CLI).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from types import TracebackType


class SharedWriterLock:
    """A FIFO lock usable from any event loop in any thread; ownership passes straight to the next waiter."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        except asyncio.CancelledError:
            with self._mutex:
                if waiter in self._waiters:  # not handed over yet: leave the queue
                    self._waiters.remove(waiter)
                    raise
            self.release()  # handed over as it was cancelled: pass it on
            raise

    def release(self) -> None:
        with self._mutex:
            while self._waiters:
                loop, future = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(_wake, future)
                except RuntimeError:  # that loop is closed: its waiter is gone
                    continue
                return
            self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.release()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_LOCKS: dict[str, SharedWriterLock] = {}
_REGISTRY = threading.Lock()


def for_database(path: str) -> SharedWriterLock:
    """The process's writer queue for one SQLite file (every `Database` on it shares it)."""
    with _REGISTRY:
        return _LOCKS.setdefault(path, SharedWriterLock())
