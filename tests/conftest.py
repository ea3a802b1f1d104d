"""Fixtures shared by every suite: a fresh database per test on SQLite and PostgreSQL, services, a client.

IDEAENGINE_TEST_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing PostgreSQL or Redis into a failure
instead of a skip, so CI cannot go green by skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ideaengine.platform.jobs import InProcessQueue

PG_ADMIN_URL = os.environ.get("IDEAENGINE_TEST_POSTGRES_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IDEAENGINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("IDEAENGINE_TEST_REQUIRE_SERVICES") == "1"
TEST_SECRET_KEY = "Ds7m6hE2yTqQ8mJ3fV0pZ9cR1xK4wN5bL6aS7dF8gH0="
"A fixed Fernet key, so tests never write a key file beside a database."

UNLIMITED: dict[str, Any] = {"rate_limits_enabled": False}
"""Rate limits off: tests send bursts from one address on purpose (test_rate_limits turns them on)."""
UNLIMITED_ENV = {"IDEAENGINE_RATE_LIMITS_ENABLED": "false"}

_counter = itertools.count()

TEST_QUEUE = f"ideaengine-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
"""Each pytest process (xdist runs several) has its own queue name, and with it its own Redis keys, channels
and rate-limit counters: the namespace a deployment sharing a Redis would use."""
os.environ["IDEAENGINE_QUEUE_NAME"] = TEST_QUEUE


def unavailable(what: str, why: object) -> None:
    message = f"{what} is not reachable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (IDEAENGINE_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def pg_dsn(database: str | None = None) -> str:
    """asyncpg's address of the suite's admin database, or of the database named `database`."""
    url = PG_ADMIN_URL if database is None else pg_url(database)
    return url.replace("postgresql+asyncpg://", "postgresql://")


@contextlib.asynccontextmanager
async def _pg_connection(database: str | None = None) -> AsyncIterator[Any]:
    """An asyncpg connection to `database` (None: the suite's admin database), closed after."""
    import asyncpg

    conn = await asyncpg.connect(pg_dsn(database), timeout=5)
    try:
        yield conn
    finally:
        await conn.close()


async def _pg_execute(*statements: str) -> None:
    async with _pg_connection() as conn:
        for statement in statements:
            await conn.execute(statement)


async def pg_fetchval(database: str | None, query: str) -> Any:
    """One value, read in the database `database` (None: the suite's admin database)."""
    async with _pg_connection(database) as conn:
        return await conn.fetchval(query)


async def _pg_reset(database: str, fingerprint: str | None) -> bool:
    """Whether the database was emptied (RESET): False, untouched, if its fingerprint is not the template's.
    Connections a test left open (a server it started, a session it leaked) are ended first."""
    async with _pg_connection(database) as conn:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await conn.execute("SET lock_timeout = '5s'")
        if await conn.fetchval(FINGERPRINT) != fingerprint:
            return False
        await conn.execute(RESET)
        return True


def pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


FINGERPRINT = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(',', table_name, column_name, data_type, is_nullable, column_default), ';'
                     ORDER BY table_name, column_name)
     FROM information_schema.columns WHERE table_schema = 'public'),
  (SELECT string_agg(indexdef, ';' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public'),
  (SELECT string_agg(conname || pg_get_constraintdef(c.oid), ';' ORDER BY conname)
     FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'),
  (SELECT string_agg(p.proname || md5(p.prosrc), ';' ORDER BY p.proname, md5(p.prosrc))
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'),
  (SELECT string_agg(pg_get_triggerdef(oid), ';' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT string_agg(viewname || definition, ';' ORDER BY viewname) FROM pg_views WHERE schemaname = 'public'),
  (SELECT string_agg(t.typname || ':' || e.enumlabel, ';' ORDER BY t.typname, e.enumsortorder)
     FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid),
  (SELECT string_agg(sequencename, ';' ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'public'),
  (SELECT string_agg(extname, ';' ORDER BY extname) FROM pg_extension),
  (SELECT string_agg(tablename || array_to_string(ARRAY(SELECT unnest(c.relacl)::text), ','), ';'
                     ORDER BY tablename)
     FROM pg_tables t JOIN pg_class c ON c.relname = t.tablename AND c.relnamespace = 'public'::regnamespace
     WHERE t.schemaname = 'public'),
  (SELECT coalesce(datacl::text, '') FROM pg_database WHERE datname = current_database()),
  (SELECT string_agg(array_to_string(setconfig, ','), ';') FROM pg_db_role_setting s
     JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()),
  (SELECT string_agg(version_num, ';') FROM alembic_version)
))"""
"""What a test must leave as it found it for its database to be emptied and lent again: the schema (tables,
indexes, constraints, functions, triggers, views, enum labels), the grants and the migration it is at (its
rows are deleted). A test that changes any of these (a downgrade, a revoked privilege) leaves a database that
is dropped instead."""

RESET = """
DO $$
DECLARE t record;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM %I', t.tablename);
  END LOOP;
  FOR t IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
    EXECUTE format('ALTER SEQUENCE %I RESTART', t.sequencename);
  END LOOP;
END $$"""
"""Empties every table and restarts every sequence, as a fresh copy of the template has them: deleting a few
rows with foreign keys off (replica role) takes 20 ms where TRUNCATE took 200 and a new copy 400."""


class Templates:
    """Databases migrated once per session with the real migrations, copied for each test.

    PostgreSQL copies are lent: after a test its copy is emptied (RESET) and lent to a later test of the same
    process, unless the test changed what FINGERPRINT reads, in which case it is dropped. Creating a copy for
    each test (0.4 s) and dropping it cost about 40% of the suite's time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: Path | None = None
        self.pg: str | None = None
        self.pg_error: BaseException | None = None
        self.pg_fingerprint: str | None = None
        self.pg_free: list[str] = []

    def sqlite_template(self) -> Path:
        if self.sqlite is None:
            from ideaengine.platform import migrate

            path = self.root / "template.db"
            migrate.upgrade(f"sqlite+aiosqlite:///{path}")
            self.sqlite = path
        return self.sqlite

    def pg_template(self) -> str:
        if self.pg_error is not None:
            unavailable("PostgreSQL", self.pg_error)
        if self.pg is None:
            from ideaengine.platform import migrate

            name = f"ie_tmpl_{os.getpid()}"
            try:
                asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
            except (OSError, Exception) as exc:  # asyncpg raises its own types for refused logins
                self.pg_error = exc
                unavailable("PostgreSQL", exc)
            migrate.upgrade(pg_url(name))
            self.pg_fingerprint = asyncio.run(pg_fetchval(name, FINGERPRINT))
            self.pg = name
        return self.pg

    def lend_pg(self) -> str:
        """An empty, migrated PostgreSQL database for one test; `give_back` it after."""
        template = self.pg_template()
        if self.pg_free:
            return self.pg_free.pop()
        name = f"ie_t_{os.getpid()}_{next(_counter)}"
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    def give_back(self, name: str) -> None:
        """Empty the database for the next test, or drop it if the test changed its schema or grants."""
        try:
            reusable = asyncio.run(_pg_reset(name, self.pg_fingerprint))
        except Exception:  # a test that broke its database in a way RESET cannot undo
            reusable = False
        if reusable:
            self.pg_free.append(name)
        else:
            asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        for name in [*self.pg_free, *([self.pg] if self.pg is not None else [])]:
            asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    t = Templates(tmp_path_factory.mktemp("templates"))
    yield t
    t.close()


def new_database(templates: Templates, kind: str, tmp_path: Path) -> tuple[str, Any]:
    """A fresh (or emptied), migrated database of `kind`; returns its URL and a function that ends its use."""
    if kind == "sqlite":
        path = tmp_path / f"db{next(_counter)}.sqlite"
        shutil.copy(templates.sqlite_template(), path)
        return f"sqlite+aiosqlite:///{path}", lambda: None
    name = templates.lend_pg()
    return pg_url(name), lambda: templates.give_back(name)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, templates: Templates, tmp_path: Path) -> Iterator[str]:
    """Every storage and API test runs once per database."""
    url, drop = new_database(templates, request.param, tmp_path)
    yield url
    drop()


@pytest.fixture
def settings(database_url: str) -> Any:
    from ideaengine.platform.settings import Settings

    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        refresh_delay_seconds=0.05,
        **UNLIMITED,
    )


@pytest.fixture
async def services(settings: Any) -> AsyncIterator[Any]:
    from ideaengine.platform.services import Services

    s = Services.create(settings)
    yield s
    await s.close()


@pytest.fixture
def pool_filling() -> Iterator[None]:
    """For a test that fills a server's connection pools (a burst of writers, a pool held empty): one such test at a
    time on this machine, whichever pytest process runs it. A test server may open 72 PostgreSQL connections (its
    read and write pools, ideaengine/platform/db.py), so two such tests beside a third worker's passed PostgreSQL's
    default max_connections of 100 ("sorry, too many clients already", seen once in make test on 2026-12-07;
    sampled once a second through a whole run, the suite otherwise peaked at 80)."""
    with (Path(tempfile.gettempdir()) / "ideaengine-tests-pool-filling.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture(scope="session")
def semantic() -> None:
    """Tests of the `semantic` extra: skipped without it, except in CI, whose `make test` installs it."""
    from ideaengine.platform import embeddings

    if not embeddings.available():
        unavailable("The `semantic` extra", "not installed")


def in_process(services: Any) -> InProcessQueue:
    """The tests' services run jobs in-process (no Redis URL): the runner, to wait for or tune."""
    queue = services.queue
    assert isinstance(queue, InProcessQueue), queue
    return queue


async def eventually(check: Any, seconds: float, what: str, output: Any = lambda: "") -> Any:
    """Poll `check` until it returns something truthy; fail after `seconds` with `output()` (e.g. server logs)."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{output()[-4000:]}")
        await asyncio.sleep(0.1)
