"""The event loop's CPU for one vote, measured inside one process: where `bench.api_bench`'s vote ratio comes from.

`bench.api_bench` measures rates through uvicorn with wrk beside the server and PostgreSQL on the same cores,
so its figures move with the machine. This runs the app's ASGI callable itself, one request at a time, on a
scratch database seeded by `ideaengine demo`, and reads the thread's CPU time (`time.thread_time`) around each
batch: the server's own cost of a vote (middleware, strawberry's view, GraphQL, the write) without uvicorn,
without wrk, and with PostgreSQL's time outside it. Beside it, the same for an API-key `mutation { __typename }`
(the HTTP layers and strawberry's per-operation cost, no resolver) as the reference measured in the same run.

A sequential loop also gives clean stacks to a sampling profiler, where uvicorn's async frames come out broken:

    .venv/bin/python -m bench.vote_cpu [--votes 2000] [--database postgres|sqlite]
    .venv/bin/py-spy record -o vote.svg -- .venv/bin/python -m bench.vote_cpu --votes 5000
    .venv/bin/python -m bench.vote_cpu --profile vote.prof   # cProfile of the measured batches

PostgreSQL is IDEAENGINE_BENCH_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/test), as in api_bench.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from bench.api_bench import VOTABLE_IDEAS, VOTE, database, demo_database, votable

REPEATS = 4
"Batches of each kind; the median is printed (a batch now and then pays for a score refresh or a collection)."

SETTLE_SECONDS = 120.0
"How long `settle` waits at most for the start's jobs."

Message = MutableMapping[str, Any]
App = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Any]


async def post(app: App, body: bytes, key: str | None, path: str = "/graphql") -> dict[str, Any]:
    """One request through the ASGI app, as uvicorn would hand it over (a POST to `path`, or a GET without
    `body`); its JSON answer."""
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"accept", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if body else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    received = False
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        if received:  # the app listens for a disconnect only after the answer: none comes
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    answer: dict[str, Any] = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    return answer


async def settle(app: App) -> None:
    """Wait for the jobs a fresh server runs at start (the seeded board's score refresh and duplicate index, the
    embedding model's warm-up) to finish: their threads would share the cores with the measured ones."""
    deadline = time.monotonic() + SETTLE_SECONDS
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        health = await post(app, b"", None, "/healthz")
        idle = health.get("queueDepth") == 0 and health.get("stalestScoreAgeSeconds") == 0
        quiet = quiet + 1 if idle and health.get("embeddings") != "cold" else 0
        await asyncio.sleep(0.5)


async def batches(app: App, bodies: list[bytes], key: str, count: int, profile: cProfile.Profile | None) -> float:
    """The median CPU microseconds a request over REPEATS batches of `count` requests, each checked once."""
    for body in bodies[:50]:  # warm: caches, the statement cache, the pool
        answer = await post(app, body, key)
        if "errors" in answer:
            raise SystemExit(f"the request failed: {answer['errors']}")
    spent = []
    for _ in range(REPEATS):
        if profile is not None:
            profile.enable()
        start = time.thread_time()
        for n in range(count):
            await post(app, bodies[n % len(bodies)], key)
        spent.append((time.thread_time() - start) / count * 1e6)
        if profile is not None:
            profile.disable()
    return statistics.median(spent)


async def run(count: int, profile_to: Path | None) -> None:
    from ideaengine.app import create_app
    from ideaengine.platform.settings import load_settings

    app = create_app(load_settings())
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, to_app.get, from_app.put)
    )
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"the app did not start: {started}")
    try:
        await settle(app)
        key = os.environ["BENCH_API_KEY"]
        ideas = votable(await post(app, json.dumps({"query": VOTABLE_IDEAS}).encode(), None))
        # Each idea UP then DOWN, in turn: every vote moves a tally.
        votes = [
            json.dumps({"query": VOTE, "variables": {"i": {"ideaId": i, "value": v}}}).encode()
            for v in ("UP", "DOWN")
            for i in ideas
        ]
        typename = [json.dumps({"query": "mutation { __typename }"}).encode()]
        profile = cProfile.Profile() if profile_to is not None else None
        reference = await batches(app, typename, key, count, None)
        vote = await batches(app, votes, key, count, profile)
        print(f"API-key mutation {{ __typename }}: {reference:7.0f} us of the event loop's CPU a request")
        print(f"vote (API key):                   {vote:7.0f} us a vote, {vote / reference:.2f}x the __typename")
        if profile is not None and profile_to is not None:
            profile.dump_stats(profile_to)
            print(f"cProfile of the vote batches: {profile_to}")
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await lifespan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=2000, help="requests in each of the measured batches")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the vote batches here")
    options = parser.parse_args()
    if options.votes < 1:
        print("vote_cpu: --votes must be at least 1", file=sys.stderr)
        raise SystemExit(2)
    cli = str(Path(sys.executable).parent / "ideaengine")
    with tempfile.TemporaryDirectory() as tmp, database(options.database, tmp) as url:
        env, seeded = demo_database(cli, options.database, url, {"IDEAENGINE_RATE_LIMITS_ENABLED": "false"})
        os.environ.update(env | {"BENCH_API_KEY": seeded["apiKey"]})
        try:
            import uvloop

            uvloop.run(run(options.votes, options.profile))
        except ImportError:  # uvicorn runs on asyncio where uvloop is missing, and so does this
            asyncio.run(run(options.votes, options.profile))


if __name__ == "__main__":
    main()
