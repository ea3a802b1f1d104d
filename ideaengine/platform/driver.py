"""PostgreSQL's driver (asyncpg) under SQLAlchemy, for the vote: the hottest write runs its statements here.

SQLAlchemy's execution of a statement (an execution context, parameter and result processing, each in a
greenlet) costs more CPU than asyncpg's whole round trip: profiled under a stream of votes, 40% of the
server's CPU was SQLAlchemy's own, for six statements a vote. Its session costs as much again around them: a
transaction begun, committed and closed through the ORM took 0.75 ms of server CPU a vote where the driver's own
took 0.35 (the same SELECT inside, in the same server). So the API's vote runs in a `Write`: a connection of the
engine's pool in a transaction of the driver's own (`Database.driver_write`). Every other write stays on the ORM,
whose cost is worth its safety where writes are rarer. The common vote needs no transaction of its own: its lock
and statement run as one call (`AfterLock`), and only a vote that call does not write takes the transaction.

The same prepared SELECTs serve a board's page and its lookup (`Prepared.read`); on SQLite they run through the
session as Core statements, one statement where the ORM's loading took several.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import logging
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar, cast

import asyncpg
from sqlalchemy import Select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.base import instance_state
from sqlalchemy.sql.compiler import Compiled, SQLCompiler

from ideaengine.platform import replay

T = TypeVar("T")
log = logging.getLogger("ideaengine.driver")


class NeedsSession(Exception):
    """A write on the driver met a case it leaves to the ORM (nothing written yet): the caller runs it again in a
    session. Only rare cases do, so the common one never pays for a session."""


class NeedsTransaction(Exception):
    """A write run as one statement outside a transaction (`Write.atomic` False) met a case it leaves to the
    longer way (nothing written): the caller runs it again in a transaction, whose checks say what is wrong."""


@dataclass
class Write:
    """One PostgreSQL write transaction on the driver connection. `info` carries what the write queues for after
    its commit, as a session's `info` does (`jobs.after_commit`, `events.after_commit` take either). `session` is
    the ORM session whose transaction this is, when there is one (`Write.of`); without one, a step that needs the
    ORM raises NeedsSession. With `atomic` False there is no transaction: each statement commits on its own, so
    only a write that is one statement (`AfterLock`) runs there, and anything else raises NeedsTransaction."""

    driver: asyncpg.Connection[Any]
    dialect: Dialect
    info: dict[Any, Any] = field(default_factory=dict)
    session: AsyncSession | None = None
    atomic: bool = True

    @classmethod
    async def of(cls, session: AsyncSession) -> Write:
        """The driver side of a session's write transaction (begun by `Database.write`)."""
        return cls(await connection(session), session.get_bind().dialect, session.info, session)


async def connection(session: AsyncSession) -> asyncpg.Connection[Any]:
    """The driver connection of the session's transaction (begun by `Database.write`)."""
    driver, begun = await read_connection(session)
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its own first statement: a statement sent
    # straight to the driver first would run outside the transaction, its row locks released at once (votes
    # were lost so). Begin it the way the adapter would; its commit or rollback then ends it.
    adapted = begun.connection.dbapi_connection
    if getattr(adapted, "_transaction", None) is None:
        await adapted._start_transaction()  # type: ignore[union-attr]
    return driver


def usable(session: AsyncSession) -> bool:
    """Whether a session's statements may run on the driver here: PostgreSQL's (asyncpg)."""
    return session.get_bind().dialect.name == "postgresql"


async def read_connection(session: AsyncSession) -> tuple[asyncpg.Connection[Any], Connection]:
    """The driver connection of a read session (`Database.reader`, autocommit), where each statement runs on its
    own as the session's would, and the session's connection, whose listeners hear of it."""
    held = (await session.connection()).sync_connection
    if held is None:
        raise RuntimeError("the session's connection is closed")
    driver: asyncpg.Connection[Any] = held.connection.driver_connection
    return driver, held


class Prepared:
    """A Core SELECT compiled once for PostgreSQL and run on the driver (in a `Write`, or on a read session's
    connection), its parameters and columns passed through the same type processing SQLAlchemy applies (UTC
    times, enums), rows as tuples in the order of `selected_columns`. Expanding (IN) parameters are not
    supported: bind one value each."""

    def __init__(self, stmt: Select[*tuple[Any, ...]]) -> None:
        self.stmt = stmt
        self._compiled: _Compiled | None = None
        self._recorded = stmt.execution_options(**{replay.RECORDED: True})
        "The statement as a session runs it: `replay` records its rows, so its listener lets it pass."

    async def compiled(self, dialect: Dialect, driver: asyncpg.Connection[Any]) -> _Compiled:
        """The statement compiled for the server, once."""
        if self._compiled is None:
            self._compiled = await self._compile(dialect, driver)
        return self._compiled

    async def _compile(self, dialect: Dialect, driver: asyncpg.Connection[Any]) -> _Compiled:
        compiled = self.stmt.compile(dialect=dialect)
        names = list(compiled.positiontup or ())
        binds = [_processor(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names]
        # A column's processor may depend on the type the server sends (as SQLAlchemy reads it from the cursor).
        sent = [attribute.type.oid for attribute in (await driver.prepare(compiled.string)).get_attributes()]
        columns = [
            _processor(c.type.dialect_impl(dialect).result_processor(dialect, oid))
            for c, oid in zip(self.stmt.selected_columns, sent, strict=True)
        ]
        return _Compiled(compiled, names, binds, columns)

    async def fetch(self, work: Write, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        replay.unrecorded()
        return await self.rows(work.driver, work.dialect, params)

    async def read(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Its rows, read on the connection of a read session. The engine's `before_cursor_execute` listeners
        hear of it as of the session's own statements (cursor and context None), so what counts or logs
        statements sees these too. The request's recording keeps it, or had it already (`replay`). Elsewhere
        than PostgreSQL (SQLite) it runs through the session as Core, its rows the same tuples."""
        rows = replay.known(self, params)
        if rows is None:
            if usable(session):
                driver, held = await read_connection(session)
                rows = await self.rows(driver, session.get_bind().dialect, params, held)
            else:
                rows = [tuple(row) for row in await session.execute(self._recorded, dict(params))]
        replay.read(self, params, rows)
        return rows

    async def rows(
        self,
        driver: asyncpg.Connection[Any],
        dialect: Dialect,
        params: Mapping[str, Any],
        observed: Connection | None = None,
    ) -> list[tuple[Any, ...]]:
        compiled = self._compiled or await self.compiled(dialect, driver)
        args = compiled.args(params)
        if observed is not None and observed.dispatch.before_cursor_execute:
            observed.dispatch.before_cursor_execute(observed, None, compiled.compiled.string, args, None, False)
        return compiled.processed_rows(await driver.fetch(compiled.compiled.string, *args))


_REQUIRED = object()
"A parameter's value `params` must give (`_Compiled.arguments`)."


def _same(value: Any) -> Any:
    return value


def _processor(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    return process or _same


@dataclass(frozen=True)
class _Compiled:
    compiled: Compiled
    names: list[str]
    binds: list[Callable[[Any], Any]]
    columns: list[Callable[[Any], Any]]

    @functools.cached_property
    def processed(self) -> list[tuple[int, Callable[[Any], Any]]]:
        """The columns whose values SQLAlchemy would process: most need nothing (a page's 21 rows of some 60
        columns went through 1,260 calls, most of them to a function returning its argument)."""
        return [(at, process) for at, process in enumerate(self.columns) if process is not _same]

    @functools.cached_property
    def arguments(self) -> list[tuple[str, Any, Callable[[Any], Any]]]:
        """Per positional parameter: the key `params` binds it by, its value when the statement fixes one (a
        literal, processed once here; `_REQUIRED` for one `params` must give) and its processor. What
        `construct_params` works out on every call: with the processing of the fixed values, 3% of a vote."""
        out = []
        binds = cast(SQLCompiler, self.compiled).binds
        for name, process in zip(self.names, self.binds, strict=True):
            bind = binds[name]
            fixed = _REQUIRED if bind.required or bind.callable is not None else process(bind.effective_value)
            out.append((bind.key, fixed, process))
        return out

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The statement's positional arguments from named `params`, each processed as SQLAlchemy would."""
        out = []
        for key, fixed, process in self.arguments:
            if key in params:
                out.append(process(params[key]))
            elif fixed is _REQUIRED:
                # Missing, or a callable's: SQLAlchemy's own steps say which, or work it out.
                out.append(process((self.compiled.construct_params(dict(params)) or {})[self.names[len(out)]]))
            else:
                out.append(fixed)
        return out

    def processed_rows(self, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Driver rows as tuples, the statement's columns processed as SQLAlchemy would (columns after them, as
        in `AfterLock`'s rows, as the driver read them)."""
        processed = self.processed
        if not processed:
            return [tuple(row) for row in rows]
        out = []
        for row in rows:
            fields = list(row)
            for at, process in processed:
                fields[at] = process(fields[at])
            out.append(tuple(fields))
        return out


def loaded_attributes(entity: type[Any]) -> list[tuple[str, Any]]:
    """The attributes the ORM loads for a mapped class (its deferred ones left out), each with its column, in
    the order `detached` takes their values."""
    return [
        (attribute.key, attribute.columns[0]) for attribute in sa_inspect(entity).column_attrs if not attribute.deferred
    ]


def loaded_columns(entity: type[Any]) -> list[Any]:
    """The columns of `loaded_attributes`, in its order: what to select for `detached`."""
    return [column for _, column in loaded_attributes(entity)]


def detached(entity: type[T], values: Sequence[Any]) -> T:
    """An instance of a mapped class from a driver row, as a session would have loaded it then closed: its
    columns loaded (`values` in `loaded_columns` order), in no session, so touching anything not loaded (a
    relationship, a deferred column) raises instead of reading the database."""
    shape = _shape(entity)
    instance: T = shape.manager.new_instance()
    instance.__dict__.update(zip(shape.keys, values, strict=True))
    # What make_transient_to_detached does, less expiring what is not loaded: a detached instance refuses to
    # load it anyway. A quarter of the cost (5 us an instance against 19).
    instance_state(instance).key = shape.mapper.identity_key_from_primary_key(tuple(values[n] for n in shape.primary))
    return instance


@dataclass(frozen=True)
class _Shape:
    mapper: Mapper[Any]
    manager: Any
    keys: tuple[str, ...]
    primary: tuple[int, ...]


def _shape(entity: type[Any]) -> _Shape:
    known = _SHAPES.get(entity)
    if known is not None:
        return known
    mapper = sa_inspect(entity)
    loaded = loaded_attributes(entity)
    columns = [column for _, column in loaded]
    primary = tuple(columns.index(column) for column in mapper.primary_key)
    shape = _SHAPES[entity] = _Shape(mapper, mapper.class_manager, tuple(key for key, _ in loaded), primary)
    return shape


_SHAPES: dict[type[Any], _Shape] = {}


class AfterLock:
    """A write that takes a row lock, then runs one statement whose snapshot is taken after the lock is held, in
    one round trip and no transaction of its own (a `Write` with `atomic` False): no BEGIN, no COMMIT, and no
    lock statement of its own to wait for. Under a stream of votes those three round trips were a fifth of the
    server's CPU (py-spy: the driver's protocol and the event loop's turns for each), and PostgreSQL's too.

    One SQL statement cannot do it: its snapshot is taken when it starts, before it waits for a lock, so what it
    reads of other rows may be older than the lock (DECISIONS.md 8). A VOLATILE PL/pgSQL function takes a new
    snapshot for each statement, so it runs `lock` (a SELECT ... FOR ...), then the statement. The function is
    made in `pg_temp` on each connection the first time it is called there (and again where the connection was
    reset since), its types read from the server, beside `fetch_together`'s; their names carry a hash of their
    text, so a changed statement is a new function. Where they cannot be made or found (a role without
    TEMPORARY; a pooler such as PgBouncer in transaction mode, which hands each statement to any server
    connection), a call raises NeedsTransaction, then at once on that connection from then on.

    `select` is read by the statement as `compose` places it (`compose` gets its SQL and returns the whole
    statement); the statement's own parameters $1..$`fixed` come first, then the select's, which `fetch` binds
    from `params`. The statement's first columns are the select's, processed as `Prepared` does; the rest come
    back as the driver reads them."""

    def __init__(
        self,
        name: str,
        lock: str,
        select: Select[*tuple[Any, ...]],
        fixed: int,
        compose: Callable[[str], str],
        lock_all: str,
    ) -> None:
        self.name, self.lock, self.fixed, self.compose, self.lock_all = name, lock, fixed, compose, lock_all
        self.select = Prepared(select)
        self._made: tuple[_Compiled, str, str, str] | None = None
        "The compiled select, the call, the grouped call (`fetch_together`), the functions they call."
        self._refused: weakref.WeakSet[asyncpg.Connection[Any]] = weakref.WeakSet()
        "Connections where the function cannot be made or found: their writes take the transaction at once."

    def _refuse(self, work: Write, exc: Exception) -> NoReturn:
        log.warning("%s runs in a transaction on this connection: its function is not there (%s)", self.name, exc)
        self._refused.add(work.driver)
        raise NeedsTransaction from exc

    async def fetch(self, work: Write, args: Sequence[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if work.atomic:
            raise RuntimeError("AfterLock runs outside a transaction: its first call on a connection may fail")
        if work.driver in self._refused:
            raise NeedsTransaction
        replay.unrecorded()
        compiled, call, _, create = self._made or await self._make(work)
        return compiled.processed_rows(await self._call(work, create, call, [*args, *compiled.args(params)]))

    async def _call(self, work: Write, create: str, call: str, bound: Sequence[Any]) -> list[asyncpg.Record]:
        """`call`'s rows, its functions made first where this connection does not have them."""
        try:
            return cast(list[asyncpg.Record], await work.driver.fetch(call, *bound))
        except _MISSING:  # the first call on this connection, or its temporary objects dropped (DISCARD TEMP)
            pass
        try:
            await work.driver.execute(create)
        except asyncpg.PostgresError as exc:  # a role that may not make temporary objects (no TEMPORARY)
            self._refuse(work, exc)
        try:
            return cast(list[asyncpg.Record], await work.driver.fetch(call, *bound))
        except _MISSING as exc:  # made, yet not there: a pooler hands each statement to any server connection
            self._refuse(work, exc)

    async def fetch_together(
        self, work: Write, writes: Sequence[tuple[Sequence[Any], Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """Several writes' `fetch` as one call, one transaction, committed at once (`Group`); each write's rows.

        A transaction that takes one write's locks after another's must take every lock in one order, the order
        every other write takes them in, or two such transactions could each hold what the other waits for. The
        call's function (made beside `fetch`'s) first runs `lock_all`, which locks the first rows of every write
        at once, in ascending key order (the key is each write's first argument, its `lock`'s $1; `lock_all`'s
        $1 is the array of them), and gives for each key the order in which the writes then run, as its later
        columns: a write locks its later rows (for the vote, the board's score-sequence shard) in that order.
        Then it runs each write's function, as `fetch` does, in that order (one key's writes in the order they
        came), its lock held already. Each argument goes as an array of every write's value.

        One call where a transaction of the driver's took four round trips (BEGIN, the locks, the writes,
        COMMIT): under wrk, 10% of the server's CPU went to that transaction. An error rolls every write back
        and propagates."""
        if work.atomic:
            raise RuntimeError("fetch_together runs outside a transaction: the call commits on its own")
        if work.driver in self._refused:
            raise NeedsTransaction
        compiled, _, together, create = self._made or await self._make(work)
        bound = [[*args, *compiled.args(params)] for args, params in writes]
        out: list[list[Any]] = [[] for _ in writes]
        for row in await self._call(work, create, together, [list(values) for values in zip(*bound, strict=True)]):
            out[row[0] - 1].append(row[1:])
        return [compiled.processed_rows(found) for found in out]

    async def _make(self, work: Write) -> tuple[_Compiled, str, str, str]:
        compiled = await self.select.compiled(work.dialect, work.driver)
        selected = re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + self.fixed}", compiled.compiled.string)
        statement = self.compose(selected)
        described = await work.driver.prepare(statement)
        parameters = [_type_name(t) for t in described.get_parameters()]
        columns = ", ".join(f"c{n} {_type_name(a.type)}" for n, a in enumerate(described.get_attributes()))
        orders = len((await work.driver.prepare(self.lock_all)).get_attributes()) - 1
        digest = hashlib.sha256(f"{self.lock}\n{statement}\n{self.lock_all}".encode()).hexdigest()[:16]
        function, batch = f"pg_temp.{self.name}_{digest}", f"pg_temp.{self.name}_all_{digest}"
        arguments = ", ".join(f"${n + 1}" for n in range(len(parameters)))
        arrays = ", ".join(f"{p}[]" for p in parameters)
        create = (
            f"CREATE OR REPLACE FUNCTION {function}({', '.join(parameters)}) RETURNS TABLE ({columns})\n"
            f"LANGUAGE plpgsql VOLATILE AS $after_lock$\n#variable_conflict use_column\n"
            f"BEGIN\n    PERFORM 1 FROM ({self.lock}) AS locked;\n    RETURN QUERY {statement};\nEND\n$after_lock$;\n"
            f"CREATE OR REPLACE FUNCTION {batch}({arrays}) RETURNS TABLE (_n integer, {columns})\n"
            f"LANGUAGE plpgsql VOLATILE AS $after_lock$\n#variable_conflict use_column\n"
            + _each_in_lock_order(self.lock_all, orders, function, len(parameters))
            + "\n$after_lock$"
        )
        call = f"SELECT * FROM {function}({arguments})"
        together = f"SELECT * FROM {batch}({arguments})"
        self._made = (compiled, call, together, create)
        return self._made


def _each_in_lock_order(lock_all: str, orders: int, function: str, parameters: int) -> str:
    """The body of `fetch_together`'s function: `lock_all` (which gives `orders` order columns after its key),
    then `function` on each write's arguments (element n of every array argument), in that order, each of its
    rows after the write's ordinal `_n`."""
    order = [f"locked._o{n}" for n in range(orders)]
    each = ", ".join(f"${n + 1}[_i]" for n in range(parameters))
    return f"""DECLARE
    _order integer[];
    _i integer;
BEGIN
    WITH locked(_key{"".join(f", _o{n}" for n in range(orders))}) AS ({lock_all})
    SELECT array_agg(w._n::integer ORDER BY {", ".join([*order, "w._key", "w._n"])}) INTO _order
    FROM unnest($1) WITH ORDINALITY AS w(_key, _n) LEFT JOIN locked ON locked._key = w._key;
    FOREACH _i IN ARRAY _order LOOP
        RETURN QUERY SELECT _i, f.* FROM {function}({each}) AS f;
    END LOOP;
END"""


@dataclass
class Grouped:
    """What a write of one `AfterLock` statement runs with instead of a `Write`: its `fetch` goes through the
    database's `Group`, alone or with other callers' writes. `info` carries what the write queues for after its
    commit, as a `Write`'s does; the caller's unit of work hands it over once `fetch` has returned."""

    group: Group
    info: dict[Any, Any] = field(default_factory=dict)

    async def fetch(self, write: AfterLock, args: Sequence[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return await self.group.fetch(write, args, params)


GROUP_LANES = 4
"""How many of a `Group`'s transactions (or writes alone) run at once."""
GROUP_MOST = 64
"""The most writes one of a `Group`'s transactions takes."""


@dataclass
class GroupStats:
    """What a `Group` has done so far (the benchmark prints it; tests read it)."""

    alone: int = 0
    "Writes run alone, as one call."
    together: int = 0
    "Writes committed in transactions with others."
    transactions: int = 0
    "Those transactions."
    failed: int = 0
    "Transactions that failed (each of their writes ran again alone, in a transaction of its own)."


@dataclass(eq=False)  # one caller's write: compared by identity, never by its arguments
class _Waiting:
    write: AfterLock
    args: Sequence[Any]
    params: Mapping[str, Any]
    answer: asyncio.Future[list[tuple[Any, ...]]]


class Group:
    """Group commit: `AfterLock` writes that arrive while others are running wait, and go together in one
    transaction (`AfterLock.fetch_together`), committed once for all of them.

    A write that finds a lane free and nobody waiting runs alone at once, as one call (`AfterLock.fetch`), so a
    quiet server answers as fast as before. Under load, PostgreSQL commits once per transaction instead of once
    per write: a commit was a third of PostgreSQL's CPU for a vote (460-600 us a vote committed alone, 270-300
    eight to a transaction, one client in a loop). Each waiting caller gets its own write's rows once the
    transaction has committed, so nothing is acknowledged before it is durable; when the transaction fails,
    every write in it was rolled back and each caller gets NeedsTransaction, so it runs again alone in a
    transaction of its own, whose checks say what is wrong. A caller cancelled while still waiting is taken out
    of the queue, nothing written; once its transaction has started, its write goes on as the others do.

    `lend` gives a connection for a write outside a transaction (`Database.driver_write(atomic=False)`)."""

    def __init__(
        self,
        lend: Callable[[], AbstractAsyncContextManager[Write]],
        *,
        lanes: int = GROUP_LANES,
        most: int = GROUP_MOST,
    ) -> None:
        self._lend, self.lanes, self.most = lend, lanes, most
        self._waiting: list[_Waiting] = []
        self._busy = 0
        self._running: set[asyncio.Task[None]] = set()
        self.stats = GroupStats()

    async def fetch(self, write: AfterLock, args: Sequence[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """`write.fetch` of these arguments, alone or in a transaction with others'."""
        replay.unrecorded()  # in the caller's context: the transaction runs in a task of its own
        if self._busy < self.lanes and not self._waiting:
            self._busy += 1
            try:
                return await self._alone(write, args, params)
            finally:
                self._busy -= 1
                self._start()
        waiting = _Waiting(write, args, params, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._start()
        try:
            return await waiting.answer
        except asyncio.CancelledError:
            if waiting in self._waiting:
                self._waiting.remove(waiting)
            raise

    def _start(self) -> None:
        """Take the waiting writes of one kind (the first's) into a transaction, if a lane is free."""
        if self._busy >= self.lanes or not self._waiting:
            return
        kind = self._waiting[0].write
        taken = [w for w in self._waiting if w.write is kind][: self.most]
        self._waiting = [w for w in self._waiting if w not in taken]
        self._busy += 1
        # A context of its own: the task serves many callers, and must not carry one request's (its log id).
        task = asyncio.create_task(self._together(kind, taken), context=contextvars.Context())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _alone(self, write: AfterLock, args: Sequence[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        async with self._lend() as work:
            rows = await write.fetch(work, args, params)
        self.stats.alone += 1
        return rows

    async def _together(self, write: AfterLock, taken: list[_Waiting]) -> None:
        try:
            if len(taken) == 1:  # nobody to share a transaction with: one call, as `fetch` makes it
                alone = taken[0]
                try:
                    rows = await self._alone(write, alone.args, alone.params)
                except Exception as exc:
                    if not alone.answer.done():
                        alone.answer.set_exception(exc)
                else:
                    if not alone.answer.done():
                        alone.answer.set_result(rows)
                return
            async with self._lend() as work:
                answers = await write.fetch_together(work, [(w.args, w.params) for w in taken])
        except Exception as exc:  # rolled back: each runs again in a transaction of its own
            self.stats.failed += 1
            if not isinstance(exc, NeedsTransaction):
                log.warning(
                    "%s: %d writes together failed; each runs again alone", write.name, len(taken), exc_info=True
                )
            for w in taken:
                if not w.answer.done():
                    w.answer.set_exception(NeedsTransaction())
        else:
            self.stats.transactions += 1
            self.stats.together += len(taken)
            for w, rows in zip(taken, answers, strict=True):
                if not w.answer.done():
                    w.answer.set_result(rows)
        finally:
            self._busy -= 1
            self._start()

    async def close(self) -> None:
        """Wait for the transactions under way (a server shutting down)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


_MISSING = (asyncpg.UndefinedFunctionError, asyncpg.InvalidSchemaNameError)
"What calling a function in pg_temp raises where it was not made (no temporary schema yet, or no such function)."


def _type_name(described: Any) -> str:
    return f'"{described.schema}"."{described.name}"'
