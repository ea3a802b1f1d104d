"""The reads behind an answer, recorded so the response cache can tell whether the answer still holds.

The response cache keys an answer on the database's data version, which every commit moves: on a board that
takes votes all the time nothing it keeps is ever served again, though almost every vote lands on an idea the
board's first page does not show. An answer is a function of the rows its reads returned (the request as sent,
the caller anonymous, the settings: what the cache's key and the server fix), so if each read, run again now,
returns the same rows, the answer now is the same bytes. So a request leaves a recipe of its reads: the
driver's prepared ones (`driver.Prepared.read`: a board and its page) with their parameters and rows, and
every other SELECT with its text and parameters as its DBAPI cursor was given them and the rows the cursor
fetched (`Raw`, heard after it ran). A statement whose rows cannot be kept whole (a write, a server-side cursor)
leaves no recipe. Running the recipe again costs a round trip per read and a comparison of rows, against
resolving a few hundred fields. The same rule as the data version holds: an answer is never served after a
write it does not include.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

if TYPE_CHECKING:
    from ideaengine.platform.driver import Prepared

VALUE_BYTES = 64
"What a recorded value is counted as against the response cache's memory: a rough mean of a row's values."


@dataclass(frozen=True)
class Read:
    statement: Prepared
    params: Mapping[str, Any]
    rows: list[tuple[Any, ...]]

    @property
    def size(self) -> int:
        return sum(len(row) for row in self.rows) * VALUE_BYTES + len(self.params) * VALUE_BYTES


@dataclass(frozen=True)
class Raw:
    """A SELECT run through SQLAlchemy (the ORM or Core): its text and parameters as its DBAPI cursor was given
    them, and the rows the cursor fetched, before any result processing."""

    statement: str
    parameters: Any
    rows: list[tuple[Any, ...]]

    @property
    def size(self) -> int:
        return sum(len(row) for row in self.rows) * VALUE_BYTES + len(self.statement) + VALUE_BYTES


Recipe = tuple[Read | Raw, ...]


class Recording:
    """The reads of one request, in the order they ran; `complete` until a statement ran that is not among them.
    `known`: reads this request ran already (checking a cached answer that turned out changed), each served
    once in place of its round trip."""

    def __init__(self, known: Sequence[Read] = ()) -> None:
        self.reads: list[Read | Raw] = []
        self.complete = True
        self._known = list(known)

    def known(self, statement: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
        for n, done in enumerate(self._known):
            if done.statement is statement and done.params == params:
                del self._known[n]
                return done.rows
        return None

    def recipe(self) -> Recipe | None:
        return tuple(self.reads) if self.complete else None


_recording: ContextVar[Recording | None] = ContextVar("ideaengine_recording", default=None)
"The request's recording: set around an operation, seen by every task and loader batch it starts."


@contextmanager
def recording(known: Sequence[Read] = ()) -> Iterator[Recording]:
    recorded = Recording(known)
    token = _recording.set(recorded)
    try:
        yield recorded
    finally:
        _recording.reset(token)


def known(statement: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
    """The rows of this read if the request ran it already (`Recording.known`)."""
    recorded = _recording.get()
    return None if recorded is None else recorded.known(statement, params)


def read(statement: Prepared, params: Mapping[str, Any], rows: list[tuple[Any, ...]]) -> None:
    """A driver read ran (`driver.Prepared.read`)."""
    if (recorded := _recording.get()) is not None:
        recorded.reads.append(Read(statement, dict(params), rows))


def unrecorded() -> None:
    """A statement ran whose rows are not recorded: the answer has no recipe."""
    if (recorded := _recording.get()) is not None:
        recorded.complete = False


def listen(engine: AsyncEngine) -> None:
    """Hear every statement the engine runs, once its cursor has its rows (the driver's own reads record
    themselves, and are not announced there)."""
    event.listen(engine.sync_engine, "after_cursor_execute", _ran)


RECORDED = "ideaengine_recorded"
"The execution option of a `driver.Prepared` read run through a session (SQLite): its rows are recorded."


def _ran(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    """A SELECT whose cursor fetched all its rows at once is recorded with them (SQLAlchemy's asyncio adapters,
    asyncpg's and aiosqlite's, fetch every row of a cursor that is not server-side as it runs); anything else
    (a write, a server-side cursor, a cursor of another kind) leaves the answer with no recipe."""
    recorded = _recording.get()
    if recorded is None or (context is not None and context.execution_options.get(RECORDED)):
        return
    rows = getattr(cursor, "_rows", None)
    if (
        executemany
        or rows is None
        or getattr(cursor, "server_side", True)
        or not statement.lstrip()[:7].upper().startswith("SELECT")
    ):
        recorded.complete = False
        return
    recorded.reads.append(Raw(statement, parameters, [tuple(row) for row in rows]))


async def again(session: AsyncSession, reads: Sequence[Read | Raw]) -> tuple[bool, list[Read]]:
    """Run the reads again on a read session (`Database.reader`), in order, up to the first whose rows differ:
    whether none did, and the driver's reads run meanwhile (for `recording`'s `known`, when one did)."""
    now: list[Read] = []
    for done in reads:
        if isinstance(done, Raw):
            result = await (await session.connection()).exec_driver_sql(done.statement, done.parameters)
            if [tuple(row) for row in result] != done.rows:
                return False, now
            continue
        rows = await done.statement.read(session, done.params)
        now.append(Read(done.statement, done.params, rows))
        if rows != done.rows:
            return False, now
    return True, now
