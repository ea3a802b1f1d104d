"""Memory of `ideaengine export` on a board of 100,000 ideas against one of 1,000 (issue 13: streamed, bounded).

Each board is seeded by COPY on a scratch PostgreSQL database (bench/scale.py's seeding), then exported as CSV
and as JSON lines by the real command in a child process; the peak resident memory of that process (its
`ru_maxrss`) and its time are printed. Memory that stays flat from 1,000 to 100,000 ideas is the claim.

    .venv/bin/python -m bench.export_memory [--ideas 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.api_bench import database
from bench.scale import WORKSPACE, Size, seed_board, seed_workspace


def export(cli: str, env: dict[str, str], board: str, fmt: str) -> tuple[float, float, int]:
    """Seconds, peak resident MB and bytes written of one export, run in a child of its own: `ru_maxrss` of a
    waited-for child is its own peak, so each export runs through a fresh Python that measures one child."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.monotonic()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(time.monotonic() - start, peak, len(done.stdout))\n"
    )
    command = [sys.executable, "-c", probe, cli, "export", WORKSPACE, "--board", board, "--format", fmt]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ideas", type=int, default=100_000, help="the big board (the small one has 1,000)")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from ideaengine.platform import migrate

    cli = str(Path(sys.executable).parent / "ideaengine")
    with tempfile.TemporaryDirectory() as tmp, database("postgres", tmp) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
        env |= {"IDEAENGINE_DATABASE_URL": url, "IDEAENGINE_SECRET_KEY": Fernet.generate_key().decode()}
        os.environ.update(env)
        migrate.upgrade(url)
        seeded = asyncio.run(seed_workspace(url))
        sizes = {"small": Size(1_000, 5_000, 0), "big": Size(args.ideas, args.ideas * 5, 0)}
        for n, (slug, size) in enumerate(sizes.items()):
            started = time.monotonic()
            asyncio.run(seed_board(url, seeded, slug, size, n))
            print(f"seeded {slug}: {size} in {time.monotonic() - started:.1f} s", flush=True)
        print(f"{'board':<8} {'ideas':>8} {'format':<6} {'seconds':>8} {'peak MB':>8} {'output MB':>10}")
        peaks = {}
        for slug, size in sizes.items():
            for fmt in ("csv", "jsonl"):
                seconds, peak, written = export(cli, env, slug, fmt)
                peaks[slug, fmt] = peak
                print(f"{slug:<8} {size.ideas:>8,} {fmt:<6} {seconds:>8.1f} {peak:>8.0f} {written / 2**20:>10.1f}")
        for fmt in ("csv", "jsonl"):
            ratio = peaks["big", fmt] / peaks["small", fmt]
            print(f"{fmt}: peak memory at {args.ideas:,} ideas is {ratio:.2f}x that at 1,000")


if __name__ == "__main__":
    main()
