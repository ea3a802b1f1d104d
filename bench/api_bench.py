"""GraphQL request cost against a reference measured in the same run (PERFORMANCE.md).

Serves, each in its own uvicorn process on 127.0.0.1:
  reference: strawberry + Starlette answering `{__typename}`, with the parser and validation caches (the
  GraphQL floor issue 10 measures against);
  ideaengine: the real app seeded by `ideaengine demo`, on a scratch SQLite file (embedded default) and on
  a scratch PostgreSQL database (IDEAENGINE_BENCH_POSTGRES_URL, default postgresql://root@127.0.0.1:5432/test);
  a second server on the same database has the response cache off, for the page resolved every time.
Each figure of ours also says the CPU a request took in the server and, where it runs here, in PostgreSQL
(`CpuMeter`; the floor its own). Besides request rates it fires 1,050 votes from 200 signed-in users at once
and checks the tallies are exact.
The load comes from `wrk` (20 connections, one thread) when it is installed (`apt-get install wrk`), as
in PERFORMANCE.md; otherwise from a Python client keeping 20 requests in flight, which itself costs more
CPU than the servers and so compresses every ratio towards 1. Both share the 2 cores with the load
generator, so only the ratios mean anything. The floors are measured again after every figure, and each
ratio is to the mean of the floors just before and just after it (`Floors`).

    .venv/bin/python -m bench.api_bench [--seconds 5] [--database sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt

REFERENCE_APP = """
import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

@strawberry.type
class Query:
    hello: str = "world"

schema = strawberry.Schema(
    query=Query, extensions=[lambda: ParserCache(maxsize=100), lambda: ValidationCache(maxsize=100)]
)
app = Starlette(routes=[Route("/graphql", GraphQL(schema, graphql_ide=None))])
"""

CONNECTIONS = 20

TOP_PAGE = (
    '{ board(workspace: "demo", slug: "ideas") { ideas(first: 20, sort: TOP) { edges { node { '
    "id title status votes { up down } score { wilsonLowerBound rank } } } } } }"
)
"The read that issue 10 measures: a top-20 page with tallies and scores."
TOP_PAGE_SIGNED_IN = (
    '{ board(workspace: "demo", slug: "ideas") { ideas(first: 20, sort: TOP) { edges { node { '
    "id title status votes { up down } score { wilsonLowerBound rank } author { name } tags viewerVote } } } } }"
)
"The same page as an embedding app shows it to a signed-in user: authors, tags and the viewer's own vote."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(args: list[str], env: dict[str, str], cwd: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(Path(cwd) / f"server-{port}.log", "wb")
    proc = subprocess.Popen([*args, "--port", str(port)], env=env, cwd=cwd, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 120  # a shared, busy machine can take a while
    while time.monotonic() < deadline:
        try:
            httpx.post(url, json={"query": "{__typename}"}, timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {' '.join(args)}")


WRK_SCRIPT = """
local bodies = {%s}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%s
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n %% #bodies) + 1])
end
response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"') then
    io.stderr:write("bad answer: " .. status .. " " .. body .. "\\n")
    os.exit(1)
  end
end
"""


def measured_seconds(seconds: float) -> float:
    """How long `rate` loads a server: wrk takes whole seconds."""
    return float(max(int(seconds), 1)) if shutil.which("wrk") else seconds


class CpuMeter:
    """CPU time a server process and PostgreSQL (its processes on this machine, when it runs here) spend while a
    figure is measured, per request: what a ratio is made of. The servers, PostgreSQL and wrk share the 2 cores,
    so a figure falls where PostgreSQL's share of a vote grows (on one machine of this kind it took twice the
    CPU of another's for the same vote), even when the server's own cost is unchanged."""

    def __init__(self, pid: int, postgres: bool) -> None:
        self.pid, self.postgres = pid, postgres
        self.server = self.database = 0.0

    def __enter__(self) -> CpuMeter:
        self._start = _cpu_seconds([self.pid]), _cpu_seconds(_postgres_pids()) if self.postgres else {}
        return self

    def __exit__(self, *exc: object) -> None:
        self.server = _spent(self._start[0], _cpu_seconds([self.pid]))
        if self.postgres:
            self.database = _spent(self._start[1], _cpu_seconds(_postgres_pids()))

    def per_request(self, rate: float, seconds: float) -> str:
        """The server's (and PostgreSQL's) CPU microseconds a request, at `rate` over `measured_seconds`."""
        requests = rate * measured_seconds(seconds)
        text = f"server {self.server / requests * 1e6:.0f} us"
        return text + (f", PostgreSQL {self.database / requests * 1e6:.0f} us" if self.postgres else "")


def _cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """User and system CPU seconds of each of these processes (all its threads) that is still there."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return found


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings: a process that started meanwhile counts all of its time, one
    that ended meanwhile nothing (its last moments are lost, rather than its whole life counted against us)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().startswith("postgres"):
                    pids.append(int(entry.name))
    return pids


def wrk_rate(url: str, bodies: Sequence[dict[str, Any]], seconds: float, headers: dict[str, str] | None) -> float:
    """Requests per second measured by wrk; every answer must be a 200 without errors."""
    quoted = ", ".join("[==[" + json.dumps(b) + "]==]" for b in bodies)
    extra = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (quoted, extra))
    try:
        command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{measured_seconds(seconds):.0f}s", "-s", script.name, url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


def rate(url: str, bodies: Sequence[dict[str, Any]], seconds: float, headers: dict[str, str] | None = None) -> float:
    """Requests per second, over `measured_seconds(seconds)`."""
    if shutil.which("wrk"):
        return wrk_rate(url, bodies, seconds, headers)
    return asyncio.run(client_rate(url, bodies, seconds, headers))


async def client_rate(
    url: str, bodies: Sequence[dict[str, Any]], seconds: float, headers: dict[str, str] | None = None
) -> float:
    """Answers per second with CONNECTIONS requests in flight; every answer must be a 200 without errors."""
    done = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def loop(n: int) -> None:
            nonlocal done
            i = n
            while time.monotonic() < stop:
                response = await client.post(url, json=bodies[i % len(bodies)])
                i += CONNECTIONS
                body = response.json()
                if response.status_code != 200 or "errors" in body:
                    raise SystemExit(f"bad answer: {response.status_code} {body}")
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(loop(n) for n in range(CONNECTIONS)))
    return done / (time.monotonic() - started)


BURST_USERS = 200
BURST_VOTES = 1050
"The burst: 1,050 votes from 200 signed-in users at once, each user on its own connection."
VOTABLE_IDEAS = (
    '{ board(workspace: "demo", slug: "ideas") { ideas(first: 50, statuses: '
    "[SUBMITTED, UNDER_REVIEW, PLANNED, IN_PROGRESS]) { edges { node { id campaign { id } } } } } }"
)
"The demo board's open ideas, for `votable`."
TYPENAME = [{"query": "{__typename}"}]
"The floor's request."


def votable(answer: dict[str, Any]) -> list[str]:
    """The ids of `VOTABLE_IDEAS`' answer that take plain votes: entries of the demo's campaigns take votes only
    in their campaign's rules, so the board's own ideas."""
    return [e["node"]["id"] for e in answer["data"]["board"]["ideas"]["edges"] if e["node"]["campaign"] is None]


VOTE = "mutation($i: VoteInput!) { vote(input: $i) { idea { id votes { up down } } userErrors { code } } }"


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> dict[str, Any]:
    """One HTTP/1.1 keep-alive round trip; a bare client, so the load costs little of the shared CPU."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    raw = await reader.readexactly(length)
    try:
        body: dict[str, Any] = json.loads(raw)
    except json.JSONDecodeError:
        raise SystemExit(f"bad answer: {head.decode(errors='replace')!r} {raw!r}") from None
    if status != b"200" or "errors" in body:
        raise SystemExit(f"bad answer: {status.decode()} {body}")
    return body


def raw_post(url: httpx.URL, token: str, body: dict[str, Any]) -> bytes:
    """One keep-alive POST of a JSON body as a signed-in user, as bytes for `exchange`."""
    data = json.dumps(body).encode()
    return (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def burst(url: str, plan: list[tuple[str, list[dict[str, Any]]]]) -> float:
    """Votes per second when every user sends its votes at once, one after another on its own connection."""
    parsed = httpx.URL(url)
    connections = [await asyncio.open_connection(parsed.host, parsed.port or 80) for _ in plan]

    async def user(n: int) -> None:
        token, bodies = plan[n]
        reader, writer = connections[n]
        for body in bodies:
            answer = await exchange(reader, writer, raw_post(parsed, token, body))
            if answer["data"]["vote"]["userErrors"]:
                raise SystemExit(f"vote refused: {answer}")

    started = time.monotonic()
    await asyncio.gather(*(user(n) for n in range(len(plan))))
    elapsed = time.monotonic() - started
    for _, writer in connections:
        writer.close()
    return sum(len(bodies) for _, bodies in plan) / elapsed


def burst_plan(
    workspace: str, sso_secret: str, idea_ids: list[str]
) -> tuple[list[tuple[str, list[dict[str, Any]]]], Counter[tuple[str, str]]]:
    """Who votes what: each user votes on 5 or 6 different ideas (1,050 in all); returns the expected deltas."""
    import jwt

    plan: list[tuple[str, list[dict[str, Any]]]] = []
    expected: Counter[tuple[str, str]] = Counter()
    extra = BURST_VOTES - 5 * BURST_USERS
    for n in range(BURST_USERS):
        claims = {"iss": workspace, "sub": f"bench-{n}", "name": f"Bench {n}", "exp": int(time.time()) + 3600}
        token = jwt.encode(claims, sso_secret, algorithm="HS256")
        bodies = []
        for k in range(6 if n < extra else 5):
            idea = idea_ids[(n * 6 + k) % len(idea_ids)]
            value = "DOWN" if (n + k) % 3 == 0 else "UP"
            bodies.append({"query": VOTE, "variables": {"i": {"ideaId": idea, "value": value}}})
            expected[idea, value.lower()] += 1
        plan.append((token, bodies))
    return plan, expected


def tallies(url: str, idea_ids: list[str]) -> Counter[tuple[str, str]]:
    query = "query($id: ID!) { idea(id: $id) { votes { up down } } }"
    found: Counter[tuple[str, str]] = Counter()
    for idea in idea_ids:
        votes = httpx.post(url, json={"query": query, "variables": {"id": idea}}, timeout=30).json()
        for kind in ("up", "down"):
            found[idea, kind] = votes["data"]["idea"]["votes"][kind]
    return found


def provision(url: str, plan: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """Sign every burst user in once beforehand: the burst measures votes, not first-sight provisioning."""
    for token, _ in plan:
        body = httpx.post(
            url, json={"query": "{ viewer { user { id } } }"}, headers={"authorization": f"Bearer {token}"}, timeout=30
        ).json()
        if "errors" in body or body["data"]["viewer"]["user"] is None:
            raise SystemExit(f"cannot sign the burst user in: {body}")


@contextlib.contextmanager
def database(kind: str, tmp: str) -> Iterator[str]:
    """A scratch database: a SQLite file, or a PostgreSQL database created for the run and dropped after."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    import asyncpg

    admin = os.environ.get("IDEAENGINE_BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
    name = f"ie_bench_{os.getpid()}"

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield "postgresql+asyncpg://" + admin.removeprefix("postgresql://").rpartition("/")[0] + "/" + name
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def demo_database(
    cli: str, kind: str, url: str, settings: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment of a server on the scratch database `url` (this process's IDEAENGINE_ variables left out,
    a fresh secret key, warnings only, and `settings` added), and what `ideaengine demo` seeded there. PostgreSQL
    is migrated first; SQLite the demo migrates itself."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
    env |= {
        "IDEAENGINE_DATABASE_URL": url,
        "IDEAENGINE_LOG_LEVEL": "WARNING",
        "IDEAENGINE_SECRET_KEY": Fernet.generate_key().decode(),
        **(settings or {}),
    }
    if kind != "sqlite":
        subprocess.run([cli, "migrate"], env=env, capture_output=True, check=True)
    seeded = json.loads(subprocess.run([cli, "demo"], env=env, capture_output=True, text=True, check=True).stdout)
    return env, seeded


def settle(url: str, timeout: float = 120.0) -> None:
    """Wait for the jobs a fresh server runs at start (a score refresh and the duplicate index of the
    seeded board, run in-process) to finish, so they do not run beside the measurements."""
    health = url.removesuffix("/graphql") + "/healthz"
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        body = httpx.get(health, timeout=10).json()
        quiet = quiet + 1 if body.get("queueDepth") == 0 and body.get("stalestScoreAgeSeconds") == 0 else 0
        time.sleep(0.5)


def sso_token(seeded: dict[str, str], sub: str = "bench-viewer") -> str:
    """A signed-in embedding-app user (HS256 with the workspace's SSO secret), valid for an hour."""
    claims = {"iss": seeded["workspace"], "sub": sub, "name": "Bench Viewer", "exp": int(time.time()) + 3600}
    return jwt.encode(claims, seeded["ssoSecret"], algorithm="HS256")


class Floors:
    """The two floors (on this uvicorn with uvloop and httptools, then on asyncio and h11), measured again after
    each figure: a figure's ratio is to the mean of the floors measured just before and just after it. This
    machine's speed moves by up to a third within an hour, and a floor measured once at the start put a vote
    measured minutes later anywhere between 0.16x and 0.23x."""

    def __init__(self, urls: tuple[str, str], seconds: float, reference: int) -> None:
        self.urls, self.seconds = urls, seconds
        with CpuMeter(reference, postgres=False) as meter:
            first = self._floor(0)
        self.cpu = meter.per_request(first, seconds)
        "The CPU a request of the first floor took, as first measured."
        self.last = first, self._floor(1)
        "The floors as last measured: those before the next figure."

    def _floor(self, which: int) -> float:
        return rate(self.urls[which], TYPENAME, self.seconds)

    def _measure(self) -> tuple[float, float]:
        return self._floor(0), self._floor(1)

    def around(self) -> tuple[float, float]:
        """The floors for the figure just measured: the mean of those before it and those measured now."""
        after = self._measure()
        (a0, a1), self.last = self.last, after
        return (a0 + after[0]) / 2, (a1 + after[1]) / 2


VOTE_STREAMS = (10, 50, 200)
"Votes a second beside the anonymous page in `VoteStream`'s figures: a busy board, a very busy one, a burst."


class VoteStream:
    """Votes at a steady rate from one signed-in client while a figure is measured: each vote moves the data
    version, so the response cache must check the page again (`replay`), and where the vote changed a tally the
    page shows, answer it afresh. What the cached page's figure is worth on a board that is being voted on."""

    def __init__(self, url: str, bodies: Sequence[dict[str, Any]], headers: dict[str, str], per_second: float) -> None:
        self.url, self.bodies, self.headers, self.per_second = url, bodies, headers, per_second
        self.sent, self.failure = 0, ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> VoteStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.failure:
            raise SystemExit(f"a vote beside the page failed: {self.failure}")

    def _run(self) -> None:
        started = time.monotonic()
        with httpx.Client(headers=self.headers, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    answer = client.post(self.url, json=self.bodies[self.sent % len(self.bodies)])
                except httpx.HTTPError as exc:  # said by __exit__, in the bench's own thread
                    self.failure = repr(exc)
                    return
                if answer.status_code != 200 or "errors" in answer.json():
                    self.failure = f"{answer.status_code} {answer.text}"
                    return
                self.sent += 1
                self._stop.wait(max(0.0, started + self.sent / self.per_second - time.monotonic()))


def show(name: str, value: float, floors: tuple[float, float] | None, cpu: str = "") -> None:
    """One figure, with its ratio to each floor where it is a rate of requests (`floors` given), and the CPU a
    request took (`CpuMeter.per_request`) where it was measured."""
    ratios = [f"{value / f:8.2f}x" for f in floors] if floors else [f"{'':>9}"] * 2
    print(f"{name:<64} {value:8.0f} {' '.join(ratios)}" + (f"   CPU a request: {cpu}" if cpu else ""), flush=True)


def _local(url: str) -> bool:
    """Whether the database runs on this machine, where its processes' CPU can be read."""
    from sqlalchemy.engine import make_url

    return make_url(url).host in (None, "", "127.0.0.1", "localhost", "::1")


def _pk(global_id: str) -> int:
    from ideaengine.platform.ids import parse_global_id

    parsed = parse_global_id(global_id)
    if parsed is None:
        raise SystemExit(f"not a global id: {global_id}")
    return parsed[1]


async def bare_votes(
    url: str, user_id: int, workspace_id: int, idea_pks: list[int], seconds: float, *, at_once: bool
) -> float:
    """Issue 10's reference for the database's own share: a bare asyncpg loop, CONNECTIONS connections, running
    the vote's transaction (BEGIN, the idea's row lock, the vote's one statement, COMMIT) on the same ideas;
    with `at_once`, the vote as the server sends it: one call, one round trip (`votes._CAST_AT_ONCE`)."""
    import asyncpg
    from sqlalchemy.ext.asyncio import create_async_engine

    from ideaengine import boards
    from ideaengine.platform.driver import Write
    from ideaengine.platform.models import stored_utc, utcnow
    from ideaengine.votes import _CAST_AT_ONCE, _CAST_POSTGRES

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connections = [await asyncpg.connect(dsn) for _ in range(CONNECTIONS)]
    done = 0
    stop = time.monotonic() + seconds

    async def loop(conn: Any, n: int) -> None:
        nonlocal done
        i = n
        work = Write(conn, create_async_engine(url).dialect, atomic=False)
        while time.monotonic() < stop:
            idea = idea_pks[i % len(idea_pks)]
            value = 1 if (i // len(idea_pks)) % 2 == 0 else -1
            if at_once:
                call = (idea, user_id, value, stored_utc(utcnow()), boards.score_shard(idea))
                params = {"id": idea, "reader_workspace": workspace_id, "moderator_of": None, "reader_user": user_id}
                if not await _CAST_AT_ONCE.fetch(work, call, params):
                    raise SystemExit(f"the one-call vote wrote nothing on idea {idea}")
            else:
                async with conn.transaction():
                    board = await conn.fetchval("SELECT board_id FROM ideas WHERE id = $1 FOR NO KEY UPDATE", idea)
                    args = (idea, user_id, value, stored_utc(utcnow()), board, boards.score_shard(idea))
                    await conn.fetchrow(_CAST_POSTGRES, *args)
            i += CONNECTIONS
            done += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(loop(conn, n) for n, conn in enumerate(connections)))
    finally:
        for conn in connections:
            await conn.close()
    return done / (time.monotonic() - started)


async def workspace_of(url: str, idea_pk: int) -> int:
    """The workspace of an idea's board, read straight from the database."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        query = "SELECT b.workspace_id FROM ideas i JOIN boards b ON b.id = i.board_id WHERE i.id = $1"
        return int(await conn.fetchval(query, idea_pk))
    finally:
        await conn.close()


def measure(kind: str, seconds: float, bin_dir: Path) -> None:
    """Print each figure for one database as soon as it is measured (against the floor where it is a rate)."""
    with tempfile.TemporaryDirectory() as tmp, database(kind, tmp) as url:
        (Path(tmp) / "reference_app.py").write_text(REFERENCE_APP)
        cli = str(bin_dir / "ideaengine")
        # The load comes from one address and a handful of users on purpose: lift the rate limits.
        lifted = {"IDEAENGINE_RATE_LIMITS_ENABLED": "false", "IDEAENGINE_MAX_SUBSCRIPTIONS_PER_IP": "100000"}
        env, seeded = demo_database(cli, kind, url, lifted)
        key, sso_secret = seeded["apiKey"], seeded["ssoSecret"]
        reference, ref_url = serve(
            [sys.executable, "-m", "uvicorn", "reference_app:app", "--log-level", "warning"], env, tmp
        )
        # The same app on uvicorn without uvloop and httptools, as issue 10 measured its floor.
        plain_args = ["--loop", "asyncio", "--http", "h11"]
        plain, plain_url = serve(
            [sys.executable, "-m", "uvicorn", "reference_app:app", "--log-level", "warning", *plain_args], env, tmp
        )
        ours, our_url = serve([cli, "serve"], env, tmp)
        # The same app with the response cache off: what an anonymous page costs when it must be resolved.
        uncached, uncached_url = serve([cli, "serve"], env | {"IDEAENGINE_RESPONSE_CACHE_BYTES": "0"}, tmp)
        try:
            settle(our_url)
            floors = Floors((ref_url, plain_url), seconds, reference.pid)
            show("reference floor: {__typename}, strawberry+Starlette", floors.last[0], floors.last, floors.cpu)
            show("the same on asyncio and h11 (no uvloop, httptools)", floors.last[1], floors.last)
            postgres = kind == "postgres" and _local(url)

            def figure(name: str, cache: bool, bodies: list[dict[str, Any]], headers: dict[str, str]) -> float:
                """One rate of a server of ours (with the response cache or without), shown against the floors
                with the CPU a request took."""
                server, server_url = (ours, our_url) if cache else (uncached, uncached_url)
                with CpuMeter(server.pid, postgres) as meter:
                    measured = rate(server_url, bodies, seconds, headers)
                show(name, measured, floors.around(), meter.per_request(measured, seconds))
                return measured

            figure("ideaengine: {__typename}", True, TYPENAME, {})
            idea_ids = votable(httpx.post(our_url, json={"query": VOTABLE_IDEAS}).json())
            auth = {"authorization": f"Bearer {key}"}
            votes = [
                {"query": VOTE, "variables": {"i": {"ideaId": i, "value": v}}} for i in idea_ids for v in ("UP", "DOWN")
            ]
            vote_rate = figure("ideaengine: vote (API key, 20 connections)", True, votes, auth)
            if kind == "postgres":
                service_user = httpx.post(
                    our_url, json={"query": "{ viewer { user { id } } }"}, headers=auth, timeout=30
                ).json()["data"]["viewer"]["user"]["id"]
                pks = [_pk(i) for i in idea_ids]
                workspace = asyncio.run(workspace_of(url, pks[0]))
                for at_once, name in ((False, "the vote transaction"), (True, "the vote in one call")):
                    bare = asyncio.run(bare_votes(url, _pk(service_user), workspace, pks, seconds, at_once=at_once))
                    print(f"{f'bare asyncpg: {name}, 20 connections (votes/s)':<64} {bare:8.0f}")
                    print(f"{'  ideaengine votes as a share of it':<64} {vote_rate / bare:8.2f}x")
            token = {"authorization": f"Bearer {sso_token(seeded)}"}
            first = httpx.post(our_url, json={"query": TOP_PAGE_SIGNED_IN}, headers=token).json()  # provisions
            if "errors" in first or len(first["data"]["board"]["ideas"]["edges"]) != 20:
                raise SystemExit(f"{kind}: the signed-in page is not a page of 20 ideas: {first}")
            settle(our_url)  # the votes' score refresh would change the data version during the page's run
            page, signed_in_page = [{"query": TOP_PAGE}], [{"query": TOP_PAGE_SIGNED_IN}]
            figure("ideaengine: top-20 page (id title status votes score), anonymous", True, page, {})
            figure("ideaengine: the same page with the response cache off", False, page, {})
            figure("ideaengine: same + author tags viewerVote, signed in", True, signed_in_page, token)
            for per_second in VOTE_STREAMS:
                # The votes stop before the floors are measured again; the server's CPU a page includes theirs.
                with VoteStream(our_url, votes, auth, per_second) as stream, CpuMeter(ours.pid, postgres) as meter:
                    started = time.monotonic()
                    measured = rate(our_url, page, seconds, {})
                    voted = stream.sent / (time.monotonic() - started)
                name = f"ideaengine: the anonymous page, {per_second} votes/s beside it"
                show(name, measured, floors.around(), meter.per_request(measured, seconds))
                if voted < per_second * 0.8:
                    print(f"{f'  (the votes fell behind: {voted:.0f}/s reached the server)':<64}")
            plan, expected = burst_plan("demo", sso_secret, idea_ids)
            provision(our_url, plan)
            before = tallies(our_url, idea_ids)
            burst_rate = asyncio.run(burst(our_url, plan))
            after = tallies(our_url, idea_ids)
            if after != before + expected:
                raise SystemExit(
                    f"{kind}: the burst's tallies are not exact: expected {before + expected}, found {after}"
                )
            show(f"ideaengine: {BURST_VOTES} votes from {BURST_USERS} users at once (tallies exact)", burst_rate, None)
        except SystemExit:
            for log in sorted(Path(tmp).glob("server-*.log")):  # what the servers said, for the failure above
                print(f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-40:], sep="\n", file=sys.stderr)
            raise
        finally:
            for proc in (reference, plain, ours, uncached):
                proc.terminate()
                proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    options = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    kinds = ["sqlite", "postgres"] if options.database == "both" else [options.database]
    generator = "wrk" if shutil.which("wrk") else "a Python client (install wrk for truer ratios)"
    print(f"load generator: {generator}; the burst uses a bare asyncio client")
    print(f"{'work':<64} {'req/s':>8} {'vs floor':>9} {'vs h11':>9}")
    for kind in kinds:
        print(f"-- {kind}")
        measure(kind, options.seconds, bin_dir)


if __name__ == "__main__":
    main()
