"""Whole answers to anonymous queries, kept until the data they were read from changes.

A board's embed shows the same page to every anonymous visitor, and answering it means resolving a few
hundred fields: far more work than telling whether anything was written since the last visitor. Each
entry is stored under the database's data version read before the query ran (`Database.data_version`);
a request whose data version still equals it gets the stored bytes. The data version changes with every
commit that could have changed an answer, whoever made it (this server, another server, a worker, the
CLI), so an entry is never served after a write it does not include; it is never served early either,
because the reads behind it ran after the version was taken (a write landing in between only makes the
entry unreachable). Bounded in bytes, least recently used first out.

An entry whose reads were all recorded (`replay`) carries them: when the data version has moved, running them
again tells whether the answer still holds (then it is served, and kept under the new version), so a board's
page outlives the votes on ideas it does not show.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ideaengine.platform.replay import Recipe


@dataclass(frozen=True)
class Cached:
    version: str
    body: bytes
    media_type: str
    operation: str | None
    "The operation name, for the access log of a request answered from here."
    reads: Recipe | None = None
    "What the answer was read from, when every read was recorded (`replay`)."

    def size(self, key: bytes) -> int:
        return len(key) + len(self.body) + sum(read.size for read in self.reads or ())


@dataclass
class _Check:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ResponseCache:
    MAX_KEY_BYTES = 10_000
    "Longer requests are not kept: a board page's query is a few hundred bytes, and keys cost memory too."

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, Cached] = OrderedDict()
        self._bytes = 0
        self._checks: dict[bytes, _Check] = {}

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def keeps(self, key: bytes) -> bool:
        return self.enabled and len(key) <= self.MAX_KEY_BYTES

    def get(self, key: bytes, version: str) -> Cached | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version:
            return None
        self._entries.move_to_end(key)
        return entry

    def replayable(self, key: bytes) -> Cached | None:
        """The entry under this key whatever its version, if it can be checked by running its reads again."""
        entry = self._entries.get(key)
        return entry if entry is not None and entry.reads is not None else None

    @asynccontextmanager
    async def checking(self, key: bytes) -> AsyncIterator[None]:
        """One check of a key's entry at a time. A burst of visitors after a vote asks for one page at once, with
        the same data version (they share the question, `Database.data_version`): the first runs the reads,
        and the rest, let in after it, find the entry kept under their version."""
        held = self._checks.get(key)
        if held is None:
            held = self._checks[key] = _Check()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if not held.users:
                del self._checks[key]

    def put(self, key: bytes, entry: Cached) -> None:
        size = entry.size(key)
        if not self.keeps(key) or size > self.max_bytes // 4:
            self.drop(key)
            return
        self.drop(key)
        self._entries[key] = entry
        self._bytes += size
        while self._bytes > self.max_bytes:
            evicted_key, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size(evicted_key)

    def drop(self, key: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size(key)

    def __len__(self) -> int:
        return len(self._entries)
