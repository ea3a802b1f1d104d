"""Ranking quality against a known truth: which ranking recovers the ideas' latent quality best?

    .venv/bin/python -m bench.quality [--boards 20] [--ideas 200] [--votes 4000] [--comparisons 4000]

Each simulated board has ideas with a latent quality q ~ N(0, 1) arriving at uniform times; voters arrive
at uniform times after them and see only the ideas posted so far. A voter shown idea i votes up with
probability 1 / (1 + exp(-(q_i + noise))), noise ~ N(0, 1) per voter (taste); a voter shown a pair prefers
a over b with probability 1 / (1 + exp(-(q_a - q_b + noise))). Up/down voters pick an idea uniformly among
those posted; pairwise voters get their pair from `ranking.next_pair` on the strengths fitted so far
(refitted every 50 comparisons), as the service does. Every ranking is then scored against q.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau

import ranking

METHODS = ("TOP (Wilson)", "MOST_VOTES (up votes)", "mean rating", "ELO", "PAIRWISE (Bradley-Terry)")


@dataclass
class Board:
    quality: np.ndarray
    up: np.ndarray
    down: np.ndarray
    winners: list[int]
    losers: list[int]


def simulate(rng: np.random.Generator, n: int, votes: int, comparisons: int) -> Board:
    quality = rng.normal(0, 1, n)
    posted = np.sort(rng.uniform(0, 1, n))
    order = rng.permutation(n)
    quality = quality[order]  # ideas indexed by posting order; quality independent of it
    up, down = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for when in rng.uniform(0, 1, votes):
        available = int(np.searchsorted(posted, when))
        if available == 0:
            continue
        idea = int(rng.integers(available))
        if rng.random() < 1 / (1 + np.exp(-(quality[idea] + rng.normal()))):
            up[idea] += 1
        else:
            down[idea] += 1
    winners: list[int] = []
    losers: list[int] = []
    fit = ranking.bradley_terry(n, [], [])
    counts = np.zeros(n)
    for step, when in enumerate(np.sort(rng.uniform(0, 1, comparisons))):
        available = int(np.searchsorted(posted, when))
        if available < 2:
            continue
        if step % 50 == 0:
            fit = ranking.bradley_terry(n, winners, losers)
        a, b = ranking.next_pair(fit.strength[:available], fit.stderr[:available], counts[:available], rng=rng)
        a_wins = rng.random() < 1 / (1 + np.exp(-(quality[a] - quality[b] + rng.normal())))
        winners.append(a if a_wins else b)
        losers.append(b if a_wins else a)
        counts[[a, b]] += 1
    return Board(quality, up, down, winners, losers)


def scores(board: Board) -> dict[str, np.ndarray]:
    n = board.quality.size
    total = board.up + board.down
    return {
        METHODS[0]: ranking.wilson_lower_bound(board.up, board.down),
        METHODS[1]: board.up.astype(float),
        METHODS[2]: np.where(total > 0, board.up / np.maximum(total, 1), 0.0),
        METHODS[3]: ranking.elo_ratings(n, board.winners, board.losers),
        METHODS[4]: ranking.bradley_terry(n, board.winners, board.losers).strength,
    }


def top_precision(score: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """Share of the true top k among the k best by score (ties broken against the method)."""
    true_top = set(np.argsort(-truth)[:k].tolist())
    jitter = np.random.default_rng(0).random(score.size) * 1e-9
    return len(true_top & set(np.argsort(-(score + jitter))[:k].tolist())) / k


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boards", type=int, default=20)
    parser.add_argument("--ideas", type=int, default=200)
    parser.add_argument("--votes", type=int, default=4000)
    parser.add_argument("--comparisons", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    taus: dict[str, list[float]] = {m: [] for m in METHODS}
    tops: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(args.boards):
        board = simulate(rng, args.ideas, args.votes, args.comparisons)
        for method, score in scores(board).items():
            taus[method].append(float(kendalltau(score, board.quality).statistic))
            tops[method].append(top_precision(score, board.quality))
    print(
        f"{args.boards} boards x {args.ideas} ideas, {args.votes} up/down votes and "
        f"{args.comparisons} pairwise comparisons each (mean ± sd over boards)"
    )
    print()
    print("| ranking | Kendall tau vs truth | top-10 precision |")
    print("|---|---|---|")
    for method in METHODS:
        t, p = np.array(taus[method]), np.array(tops[method])
        print(f"| {method} | {t.mean():.3f} ± {t.std():.3f} | {p.mean():.2f} ± {p.std():.2f} |")


if __name__ == "__main__":
    main()
