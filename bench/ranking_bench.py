"""Speed of `ranking` against the reference implementations, as ratios measured in the same run.

.venv/bin/python -m bench.ranking_bench            # full sizes (about a minute or two on 2 cores)
.venv/bin/python -m bench.ranking_bench --quick    # small sizes, a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import ranking


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of `repeat` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def comparisons(n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, n)
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    a_wins = rng.random(m) < 1 / (1 + np.exp(quality[b] - quality[a]))
    return np.where(a_wins, a, b), np.where(a_wins, b, a)


def bench_bradley_terry(n: int, m: int) -> None:
    import choix

    winners, losers = comparisons(n, m)
    data = list(zip(winners.tolist(), losers.tolist(), strict=True))
    ref_time, ref = timed(lambda: choix.opt_pairwise(n, data, alpha=ranking.BT_ALPHA))
    ours_time, ours = timed(lambda: ranking.bradley_terry(n, winners, losers), repeat=5)
    gap = np.max(np.abs(ours.strength - ref))
    print(
        f"bradley_terry   {n} ideas, {m:,} comparisons: {ours_time * 1e3:8.1f} ms (with exact stderr)"
        f" vs choix.opt_pairwise {ref_time * 1e3:8.1f} ms  -> {ref_time / ours_time:6.0f}x faster,"
        f" max |Δθ| = {gap:.1e}"
    )


def bench_wilson(n: int) -> None:
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(1)
    up, down = rng.integers(0, 500, n), rng.integers(0, 500, n)
    total = np.maximum(up + down, 1)
    ref_time, ref = timed(lambda: proportion_confint(up, total, alpha=0.05, method="wilson")[0], repeat=3)
    ours_time, ours = timed(lambda: ranking.wilson_lower_bound(up, total - up), repeat=3)
    gap = np.max(np.abs(ours - np.maximum(ref, 0)))
    print(
        f"wilson          {n:,} ideas: {ours_time * 1e3:8.1f} ms vs statsmodels {ref_time * 1e3:8.1f} ms"
        f"  -> {ref_time / ours_time:5.1f}x faster, max gap {gap:.1e}"
    )


def textbook_elo(n: int, winners: list[int], losers: list[int]) -> list[float]:
    ratings = [1500.0] * n
    for w, l in zip(winners, losers, strict=True):  # noqa: E741
        e = 1 / (1 + 10 ** ((ratings[l] - ratings[w]) / 400))
        ratings[w] += 32 * (1 - e)
        ratings[l] -= 32 * (1 - e)
    return ratings


def bench_elo(n: int, m: int) -> None:
    winners, losers = comparisons(n, m, seed=2)
    w_list, l_list = winners.tolist(), losers.tolist()
    ref_time, ref = timed(lambda: textbook_elo(n, w_list, l_list), repeat=3)
    ours_time, ours = timed(lambda: ranking.elo_ratings(n, winners, losers), repeat=3)
    print(
        f"elo_ratings     {m:,} comparisons, {n} ideas: {ours_time * 1e3:8.1f} ms (validation included)"
        f" vs textbook loop {ref_time * 1e3:8.1f} ms  -> {ref_time / ours_time:4.2f}x,"
        f" max gap {np.max(np.abs(ours - ref)):.1e}"
    )


def idea_texts(n: int, seed: int = 3) -> list[str]:
    """Short idea-like texts from a Zipfian vocabulary of pseudo-words; one in ten rewords an earlier one."""
    rng = np.random.default_rng(seed)
    syllables = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    vocab = sorted({"".join(rng.choice(syllables, rng.integers(1, 4))) for _ in range(12_000)})
    cumulative = np.cumsum(1 / np.arange(1, len(vocab) + 1))
    draws = iter(np.searchsorted(cumulative, rng.random(12 * n) * cumulative[-1]).tolist())
    texts: list[str] = []
    for i in range(n):
        if i > 10 and rng.random() < 0.1:
            words = texts[rng.integers(0, i)].rstrip("!").split()
            words[rng.integers(0, len(words))] = vocab[next(draws)]
            texts.append(" ".join(words) + ("!" if rng.random() < 0.5 else ""))
        else:
            texts.append(" ".join(vocab[next(draws)] for _ in range(rng.integers(4, 11))).capitalize())
    return texts


def bench_clusters(small: int, large: int) -> None:
    corpus = idea_texts(large)
    small_time, small_labels = timed(lambda: ranking.cluster_duplicates(corpus[:small]))
    large_time, large_labels = timed(lambda: ranking.cluster_duplicates(corpus))
    print(
        f"cluster_duplicates {small:,} texts: {small_time:6.2f} s "
        f"({small - np.unique(small_labels).size:,} merged); {large:,} texts: {large_time:6.2f} s "
        f"({large - np.unique(large_labels).size:,} merged)  -> {large // small}x texts cost "
        f"{large_time / small_time:4.1f}x time"
    )
    query_time, _ = timed(lambda: ranking.TextIndex(corpus).similar(corpus[7], k=5))
    index = ranking.TextIndex(corpus)
    index.similar(corpus[0])
    similar_time, _ = timed(lambda: index.similar(corpus[7], k=5), repeat=20)
    print(
        f"TextIndex       build {large:,} texts + first query {query_time:6.2f} s;"
        f" later queries {similar_time * 1e3:6.1f} ms each"
    )


def bench_next_pair(n: int) -> None:
    winners, losers = comparisons(n, 10 * n, seed=4)
    fit = ranking.bradley_terry(n, winners, losers)
    rng = np.random.default_rng(0)
    per_call, _ = timed(lambda: ranking.next_pair(fit.strength, fit.stderr, fit.comparisons, rng=rng), 200)
    print(f"next_pair       {n:,} ideas: {per_call * 1e6:8.0f} µs per pair")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    quick = parser.parse_args(argv).quick
    scale = 10 if quick else 1
    bench_bradley_terry(300 if not quick else 100, 30_000 // scale)
    bench_wilson(1_000_000 // scale)
    bench_elo(300, 1_000_000 // scale)
    bench_next_pair(10_000 // scale)
    bench_clusters(10_000 // scale, 100_000 // scale)


if __name__ == "__main__":
    main()
