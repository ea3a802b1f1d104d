""" "Did you mean" through the API: `similarIdeas` on a board of 10,000 ideas, over HTTP, one draft at a time.

    .venv/bin/python -m bench.duplicates_api [DATA_DIR] [--database sqlite|postgres|both] [--drafts 200]

What a front end waits for as a visitor types, where bench/duplicates_speed.py times the lookup alone. Per
database: `ideaengine demo` on a scratch database (SQLite file, or a PostgreSQL database created for the run,
IDEAENGINE_BENCH_POSTGRES_URL as in bench/api_bench.py), 10,000 ideas added to its board (Quora questions from
DATA_DIR when they are there, see bench/duplicates_eval.py; else synthetic titles), the board's index built by
`workers.duplicates.index_board` (embeddings included), then `ideaengine serve`. Each draft is asked once,
with the API key (no response cache) and anonymously (another draft: the cache records its reads).

The reference, measured in the same run and interleaved draft by draft so that both see the same load: the
same lookup called in this process, embedding the draft and `TextIndex.similar` on the stored index (what
bench/duplicates_speed.py reports against issue 17's < 5 ms). The ratio is the API's cost over it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.api_bench import database, demo_database, serve, settle
from bench.duplicates_speed import integer_kernels, texts_from
from ideaengine.cli import one_blas_thread
from ideaengine.duplicates import StoredIndex
from ideaengine.platform import embeddings

IDEAS = 10_000
SIMILAR = (
    "query($b: ID!, $t: String!) { similarIdeas(boardId: $b, text: $t, first: 5) { similarity idea { id title } } }"
)
BOARD = (
    "SELECT b.id FROM boards b JOIN workspaces w ON w.id = b.workspace_id WHERE w.slug = 'demo' AND b.slug = 'ideas'"
)


async def seed(url: str, titles: list[str]) -> int:
    """Add the ideas to the demo board, as submissions would leave them; its index is then out of date."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            board = (await conn.execute(text(BOARD))).scalar_one()
            author = (
                await conn.execute(
                    text("SELECT author_id FROM ideas WHERE board_id = :b AND author_id IS NOT NULL LIMIT 1"),
                    {"b": board},
                )
            ).scalar_one()
            now = datetime.now(UTC).replace(tzinfo=None)
            await conn.execute(
                text(
                    "INSERT INTO ideas (board_id, author_id, title, body, search_text, status, up_count, down_count,"
                    " follower_count, created_at, updated_at, moderation_state, trending, finalist) VALUES (:b, :a,"
                    " :t, '', :s, 'SUBMITTED', 0, 0, 0, :now, :now, 'VISIBLE', 0.0, false)"
                ),
                [{"b": board, "a": author, "t": t[:200], "s": t[:200].lower(), "now": now} for t in titles],
            )
            await conn.execute(text("UPDATE boards SET text_seq = text_seq + 1 WHERE id = :b"), {"b": board})
        return int(board)
    finally:
        await engine.dispose()


async def stored_index(url: str, board: int) -> StoredIndex:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            payload = (
                await conn.execute(text("SELECT payload FROM board_indexes WHERE board_id = :b"), {"b": board})
            ).scalar_one()
        return StoredIndex.from_bytes(bytes(payload))
    finally:
        await engine.dispose()


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1e3


def summary(ms: list[float]) -> str:
    return f"median {statistics.median(ms):5.1f} ms, p95 {float(np.percentile(ms, 95)):5.1f} ms"


def measure(kind: str, texts: list[str], drafts: list[str], bin_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(kind, tmp) as url:
        cli = str(bin_dir / "ideaengine")
        env, seeded = demo_database(cli, kind, url, {"IDEAENGINE_RATE_LIMITS_ENABLED": "false"})  # one address
        key = seeded["apiKey"]
        board = asyncio.run(seed(url, texts))
        build = f"from workers.duplicates import index_board; print(index_board({board}))"
        built = subprocess.run([sys.executable, "-c", build], env=env, capture_output=True, text=True, check=True)
        print(f"-- {kind}: {IDEAS:,} ideas indexed ({built.stdout.strip()})")
        index = asyncio.run(stored_index(url, board)).index
        server, graphql = serve([cli, "serve"], env, tmp)
        try:
            settle(graphql)  # the score refresh of 10,000 new ideas
            with httpx.Client(timeout=30) as client:
                health = graphql.removesuffix("/graphql") + "/healthz"
                while client.get(health).json().get("embeddings") != "ready":
                    time.sleep(0.2)
                board_id = client.post(graphql, json={"query": '{ board(workspace: "demo", slug: "ideas") { id } }'})
                variables = {"b": board_id.json()["data"]["board"]["id"]}
                signed = {"authorization": f"Bearer {key}"}

                def ask(draft: str, headers: dict[str, str]) -> None:
                    answer = client.post(
                        graphql, json={"query": SIMILAR, "variables": variables | {"t": draft}}, headers=headers
                    )
                    if answer.status_code != 200 or "errors" in answer.json():
                        raise SystemExit(f"{kind}: similarIdeas failed: {answer.text}")

                def lookup(draft: str) -> None:
                    index.similar(draft, k=5, vector=embeddings.embed([draft])[0])  # type: ignore[index]

                for draft in drafts[:5]:  # the server loads the board's index once; the model is warm here too
                    ask(draft + " (warm)", signed)
                    lookup(draft + " (warm)")
                half = len(drafts) // 2
                api_key, anonymous, reference = [], [], []
                for keyed, plain in zip(drafts[:half], drafts[half:], strict=False):
                    api_key.append(timed(partial(ask, keyed, signed)))
                    reference.append(timed(partial(lookup, keyed)))
                    anonymous.append(timed(partial(ask, plain, {})))
            base = statistics.median(reference)
            print(f"similarIdeas over HTTP, API key:    {summary(api_key)}: {statistics.median(api_key) / base:.2f}x")
            print(
                f"similarIdeas over HTTP, anonymous:  {summary(anonymous)}: {statistics.median(anonymous) / base:.2f}x"
            )
            print(f"reference, the lookup in-process:   {summary(reference)}")
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=Path("/work/data"))
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--drafts", type=int, default=200, help="drafts asked in all (half with the API key)")
    args = parser.parse_args()
    if not embeddings.available():
        raise SystemExit("the `semantic` extra is not installed: did-you-mean would match words only")
    one_blas_thread()  # as the server runs
    texts = texts_from(args.data, IDEAS + args.drafts)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f}; {integer_kernels()}")
    bin_dir = Path(sys.executable).parent
    for kind in ("sqlite", "postgres") if args.database == "both" else (args.database,):
        measure(kind, texts[:IDEAS], texts[IDEAS:], bin_dir)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
