"""GraphQL request cost against a reference measured in the same run (PERFORMANCE.md).

Serves, each in its own uvicorn process on 127.0.0.1:
  reference: strawberry + Starlette answering `{__typename}`, no extensions (the GraphQL floor);
  ideaengine: the real app on a scratch SQLite file (embedded default).
The load comes from `wrk` (20 connections, one thread) when it is installed (`apt-get install wrk`), as
in PERFORMANCE.md; otherwise from a Python client keeping 20 requests in flight, which itself costs more
CPU than the servers and so compresses every ratio towards 1. Both share the 2 cores with the load
generator, so only the ratios mean anything.

    .venv/bin/python -m bench.api_bench [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REFERENCE_APP = """
import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL

@strawberry.type
class Query:
    hello: str = "world"

app = Starlette(routes=[Route("/graphql", GraphQL(strawberry.Schema(query=Query), graphql_ide=None))])
"""

CONNECTIONS = 20


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    options = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "reference_app.py").write_text(REFERENCE_APP)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
        env |= {"IDEAENGINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db", "IDEAENGINE_LOG_LEVEL": "WARNING"}
        seeded = subprocess.run(
            [str(bin_dir / "ideaengine"), "demo"], env=env, capture_output=True, text=True, check=True
        )
        key = json.loads(seeded.stdout)["apiKey"]
        reference, ref_url = serve(
            [sys.executable, "-m", "uvicorn", "reference_app:app", "--log-level", "warning"], env, tmp
        )
        ours, our_url = serve([str(bin_dir / "ideaengine"), "serve"], env, tmp)
        try:
            typename = [{"query": "{__typename}"}]
            floor = rate(ref_url, typename, options.seconds)
            our_floor = rate(our_url, typename, options.seconds)
            ids = httpx.post(
                our_url,
                json={
                    "query": '{ board(workspace: "demo", slug: "ideas") { ideas(first: 20) '
                    "{ edges { node { id } } } } }"
                },
            ).json()
            idea_ids = [e["node"]["id"] for e in ids["data"]["board"]["ideas"]["edges"]]
            vote = "mutation($i: VoteInput!) { vote(input: $i) { idea { votes { up down } } userErrors { code } } }"
            votes = [
                {"query": vote, "variables": {"i": {"ideaId": i, "value": v}}} for i in idea_ids for v in ("UP", "DOWN")
            ]
            vote_rate = rate(our_url, votes, options.seconds, {"authorization": f"Bearer {key}"})
            page = [
                {
                    "query": '{ board(workspace: "demo", slug: "ideas") { ideas(first: 20) { edges { node { '
                    "title votes { up down } author { name } score { wilsonLowerBound stale } "
                    "tags } } } } }"
                }
            ]
            page_rate = rate(our_url, page, options.seconds)
        finally:
            for proc in (reference, ours):
                proc.terminate()
                proc.wait(10)
    generator = "wrk" if shutil.which("wrk") else "a Python client (install wrk for truer ratios)"
    print(f"load generator: {generator}")
    print(f"{'work':<58} {'req/s':>8} {'vs floor':>9}")
    for name, value in [
        ("reference floor: {__typename}, strawberry+Starlette, no extensions", floor),
        ("ideaengine: {__typename}", our_floor),
        ("ideaengine: vote (one upsert + tally, SQLite)", vote_rate),
        ("ideaengine: a page of 20 ideas with authors, scores, tags", page_rate),
    ]:
        print(f"{name:<58} {value:8.0f} {value / floor:8.2f}x")


if __name__ == "__main__":
    main()
