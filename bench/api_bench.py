"""GraphQL request cost against a reference measured in the same run (PERFORMANCE.md).

Serves, each in its own uvicorn process on 127.0.0.1:
  reference: strawberry + Starlette answering `{__typename}` with only the parser and validation caches
             (the GraphQL floor of issue 10; without the caches it is about 2.8x slower, PERFORMANCE.md);
  ideaengine: the real app seeded with `ideaengine demo`, once on a scratch SQLite file (embedded default)
  and once on a scratch PostgreSQL database (`--postgres`, default the local test server; `--postgres ''`
  skips it).
The load comes from `wrk` (20 connections, one thread) when it is installed (`apt-get install wrk`), as
in PERFORMANCE.md; otherwise from a Python client keeping 20 requests in flight, which itself costs more
CPU than the servers and so compresses every ratio towards 1. Both share the 2 cores with the load
generator, so only the ratios mean anything.

    .venv/bin/python -m bench.api_bench [--seconds 5] [--postgres postgresql+asyncpg://root@127.0.0.1/test]
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
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

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
DEFAULT_POSTGRES = "postgresql+asyncpg://root@127.0.0.1:5432/test"
"Where the PostgreSQL run creates (and drops) its scratch database."

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
    proc = subprocess.Popen(
        [*args, "--port", str(port)], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 30
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


def wrk_rate(url: str, bodies: list[dict[str, object]], seconds: float, headers: dict[str, str] | None) -> float:
    """Requests per second measured by wrk; every answer must be a 200 without errors."""
    quoted = ", ".join("[==[" + json.dumps(b) + "]==]" for b in bodies)
    extra = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (quoted, extra))
    try:
        command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(int(seconds), 1)}s", "-s", script.name, url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


def rate(url: str, bodies: list[dict[str, object]], seconds: float, headers: dict[str, str] | None = None) -> float:
    if shutil.which("wrk"):
        return wrk_rate(url, bodies, seconds, headers)
    return asyncio.run(client_rate(url, bodies, seconds, headers))


async def client_rate(
    url: str, bodies: list[dict[str, object]], seconds: float, headers: dict[str, str] | None = None
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


CLI = [sys.executable, "-c", "import sys; from ideaengine.cli import main; sys.exit(main())"]
"The `ideaengine` command of the code under test (PYTHONPATH decides which checkout that is)."


def ideaengine(env: dict[str, str], *args: str) -> str:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=True).stdout


async def _postgres(admin_url: str, statement: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def scratch_database(kind: str, tmp: str, postgres_url: str, base_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The environment of an engine on an empty, migrated database: a SQLite file in `tmp`, or a
    PostgreSQL database created beside `postgres_url` and dropped afterwards."""
    env = dict(base_env)
    if kind == "sqlite":
        env["IDEAENGINE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp}/bench.db"
        yield env
        return
    name = f"ideaengine_bench_{os.getpid()}"
    env["IDEAENGINE_DATABASE_URL"] = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    env["IDEAENGINE_SECRET_KEY"] = Fernet.generate_key().decode()  # refused as missing on PostgreSQL
    asyncio.run(_postgres(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        ideaengine(env, "migrate")
        yield env
    finally:
        asyncio.run(_postgres(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


def page_figures(url: str, seeded: dict[str, str], seconds: float) -> list[tuple[str, float]]:
    """Issue 10's top-20 page, anonymous and as a signed-in user with authors, tags and viewerVote."""
    token = sso_token(seeded)
    headers = {"authorization": f"Bearer {token}"}
    first = httpx.post(url, json={"query": TOP_PAGE_SIGNED_IN}, headers=headers).json()  # provisions the user
    if "errors" in first or len(first["data"]["board"]["ideas"]["edges"]) != 20:
        raise SystemExit(f"the signed-in page is not a page of 20 ideas: {first}")
    return [
        ("top-20 page (id title status votes score), anonymous", rate(url, [{"query": TOP_PAGE}], seconds)),
        (
            "same + author tags viewerVote, SSO-signed-in user",
            rate(url, [{"query": TOP_PAGE_SIGNED_IN}], seconds, headers),
        ),
    ]


def vote_figures(url: str, seeded: dict[str, str], seconds: float, database: str) -> list[tuple[str, float]]:
    ids = httpx.post(
        url,
        json={"query": '{ board(workspace: "demo", slug: "ideas") { ideas(first: 20) { edges { node { id } } } } }'},
    ).json()
    idea_ids = [e["node"]["id"] for e in ids["data"]["board"]["ideas"]["edges"]]
    vote = "mutation($i: VoteInput!) { vote(input: $i) { idea { votes { up down } } userErrors { code } } }"
    votes: list[dict[str, object]] = [
        {"query": vote, "variables": {"i": {"ideaId": i, "value": v}}} for i in idea_ids for v in ("UP", "DOWN")
    ]
    headers = {"authorization": f"Bearer {seeded['apiKey']}"}
    return [(f"vote (one upsert + tally, {database})", rate(url, votes, seconds, headers))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="admin URL for a scratch database; '' skips")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--votes", action=argparse.BooleanOptionalAction, default=True)
    options = parser.parse_args()
    databases = (["sqlite"] if options.sqlite else []) + (["postgresql"] if options.postgres else [])
    generator = "wrk" if shutil.which("wrk") else "a Python client (install wrk for truer ratios)"
    print(f"load generator: {generator}, {CONNECTIONS} connections, {options.seconds:g} s per figure", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "reference_app.py").write_text(REFERENCE_APP)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
        base_env["IDEAENGINE_LOG_LEVEL"] = "WARNING"
        reference, ref_url = serve(
            [sys.executable, "-m", "uvicorn", "reference_app:app", "--log-level", "warning"], base_env, tmp
        )
        try:
            for database in databases:
                with scratch_database(database, tmp, options.postgres, base_env) as env:
                    seeded = json.loads(ideaengine(env, "demo"))
                    ours, our_url = serve([*CLI, "serve"], env, tmp)
                    try:
                        settle(our_url)
                        # The floor is measured beside each database's figures: the machine is shared.
                        floor = rate(ref_url, [{"query": "{__typename}"}], options.seconds)
                        figures = [
                            ("ideaengine: {__typename}", rate(our_url, [{"query": "{__typename}"}], options.seconds))
                        ]
                        if options.votes:
                            figures += vote_figures(our_url, seeded, options.seconds, database)
                        figures += page_figures(our_url, seeded, options.seconds)
                    finally:
                        ours.terminate()
                        ours.wait(10)
                print(f"\n{database}")
                print(f"{'work':<58} {'req/s':>8} {'vs floor':>9}")
                print(
                    f"{'floor: {__typename}, strawberry+Starlette, parse/validate caches':<58} {floor:8.0f} {1:8.2f}x"
                )
                for name, value in figures:
                    print(f"{name:<58} {value:8.0f} {value / floor:8.2f}x", flush=True)
        finally:
            reference.terminate()
            reference.wait(10)


if __name__ == "__main__":
    main()
