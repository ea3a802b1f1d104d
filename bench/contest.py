"""Fairness of a contest with a deadline: does each ballot kind pick the truly best entry, and what does a
last-minute brigade of fresh accounts do to it, with the campaign's `freshAccounts` switch off and on?

    .venv/bin/python -m bench.contest [--seeds 200] [--entries 12] [--voters 300] [--brigade 60]

One simulated contest per seed; results are computed with the functions the engine's results use
(`ranking.fresh_split`, `ranking.ballot_support`, `ranking.outcome`), so only the voters are simulated.

- Entries: latent quality q ~ N(0, 1), submitted at uniform times over the submission window; costs (BUDGET)
  uniform in 10..50 with a budget of 100. The truly best entry is the one of highest q.
- Exposure bias: entries submitted early gather attention (shares, followers) before voting opens, so an honest
  voter sees `--seen` of the entries drawn with weight 1 + `--exposure` * (head start), head start = 1 - the
  submission time in [0, 1]: the first entry is (1 + exposure) times as likely to be seen as the last.
- Honest voters arrive at uniform times over the voting window; a share (`--newcomers`) are accounts first seen
  then (people the contest brought in), the rest were seen before. Perception is noisy as in bench/quality.py:
  a voter's utility for entry i is q_i + noise, noise ~ N(0, 1) per voter and entry.
  VOTES: each entry seen gets an up vote with probability 1 / (1 + exp(-(q_i + noise))), else a down vote.
  APPROVAL: the seen entries of utility > 0, best first, up to MAX_CHOICES.
  BUDGET: the seen entries of utility > 0, best first, each if its cost still fits the budget.
  PAIRWISE: COMPARISONS pairs each from `ranking.next_pair` on the strengths fitted so far (refitted every REFIT
  comparisons), as `pairwiseMatchup` serves them, so exposure bias does not apply; a over b with probability
  1 / (1 + exp(-(q_a - q_b + noise))).
- The brigade: `--brigade` accounts created in the last BRIGADE_WINDOW of the voting window, all pushing one
  weak entry (the one of median-low quality, rank n * 3/4 by q). VOTES: up on it and down on the RIVALS current
  leaders; APPROVAL and BUDGET: a ballot naming it alone; PAIRWISE: it beats each of the RIVALS strongest.

`freshAccounts: IGNORE` and `SEPARATE` rank the same (SEPARATE also reports the fresh ballots apart), so the
table shows COUNT and IGNORE. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import ranking

KINDS = ranking.BALLOT_KINDS
MODES = ("COUNT", "IGNORE")
EXPOSURE = 2.0
NEWCOMERS = 0.3
"Share of honest voters first seen during the voting window: IGNORE leaves their ballots out too."
MAX_CHOICES = 3
BUDGET = 100.0
COMPARISONS = 3
REFIT = 100
"Comparisons between two fits of the strengths next_pair draws from (the engine refits after a burst)."
BRIGADE_WINDOW = 0.1
RIVALS = 3
OPENED = 0.0
"Voting opens at 0 and closes at 1; accounts seen before have first_seen < 0."


@dataclass
class Ballots:
    """One contest's ballots in `ranking.ballot_support`'s terms, with when each voter was first seen."""

    first: list[int]
    second: list[int]
    seen: list[float]
    brigade: list[bool]

    def add(self, first: int, second: int, seen: float, brigade: bool) -> None:
        self.first.append(first)
        self.second.append(second)
        self.seen.append(seen)
        self.brigade.append(brigade)

    def arrays(self, keep_brigade: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keep = np.ones(len(self.first), dtype=bool) if keep_brigade else ~np.array(self.brigade, dtype=bool)
        as_int = [np.array(self.first, dtype=np.int64)[keep], np.array(self.second, dtype=np.int64)[keep]]
        return as_int[0], as_int[1], np.array(self.seen, dtype=float)[keep]


@dataclass
class Contest:
    quality: np.ndarray
    submitted: np.ndarray
    cost: np.ndarray
    target: int
    ballots: dict[str, Ballots]


def simulate(
    rng: np.random.Generator,
    n: int,
    voters: int,
    brigade: int,
    seen: int,
    exposure: float = EXPOSURE,
    newcomers: float = NEWCOMERS,
) -> Contest:
    """One contest, every ballot kind voted on by the same voters (each kind its own campaign). The brigade
    and next_pair draw from streams of their own, so the honest voters of a seed are the same whatever its size
    (but for the pairs next_pair serves them once the brigade's comparisons are in)."""
    quality = rng.normal(0, 1, n)
    submitted = rng.uniform(0, 1, n)
    order = np.argsort(submitted)  # entries indexed in submission order, as the engine's candidates are
    quality, submitted = quality[order], submitted[order]
    cost = rng.uniform(10, 50, n).round()
    target = int(np.argsort(-quality)[(3 * n) // 4])
    weight = 1 + exposure * (1 - submitted)
    honest_at = rng.uniform(0, 1, voters)
    first_seen = np.where(rng.random(voters) < newcomers, honest_at, -1.0)
    brigade_at = np.random.default_rng(rng.integers(2**63)).uniform(1 - BRIGADE_WINDOW, 1, brigade)
    matchups = np.random.default_rng(rng.integers(2**63))  # next_pair's draws depend on the brigade's ballots
    # Every voter, honest (index < voters) or not, in the order they arrive.
    arrivals = np.argsort(np.concatenate([honest_at, brigade_at]), kind="stable")
    ballots = {kind: Ballots([], [], [], []) for kind in KINDS}
    fit = ranking.bradley_terry(n, [], [])
    compared = np.zeros(n)
    pairs = 0
    rivals: dict[str, list[int]] = {}
    for voter in arrivals.tolist():
        if voter >= voters:
            rivals = rivals or _rivals(ballots, n, target)
            _brigade_ballots(ballots, target, rivals, float(brigade_at[voter - voters]))
            continue
        first = float(first_seen[voter])
        shown = rng.choice(n, size=min(seen, n), replace=False, p=weight / weight.sum())
        utility = quality[shown] + rng.normal(0, 1, shown.size)
        for i, u in zip(shown.tolist(), utility.tolist(), strict=True):
            up = rng.random() < 1 / (1 + np.exp(-u))
            ballots["VOTES"].add(i, 1 if up else -1, first, False)
        liked = shown[np.argsort(-utility)][np.sort(utility)[::-1] > 0]
        for i in liked[:MAX_CHOICES].tolist():
            ballots["APPROVAL"].add(i, 0, first, False)
        left = BUDGET
        for i in liked.tolist():
            if cost[i] <= left:
                left -= cost[i]
                ballots["BUDGET"].add(i, 0, first, False)
        for _ in range(COMPARISONS):
            if pairs % REFIT == 0:
                fit = _fit(ballots["PAIRWISE"], n)
            a, b = ranking.next_pair(fit.strength, fit.stderr, compared, rng=matchups)
            a_wins = rng.random() < 1 / (1 + np.exp(-(quality[a] - quality[b] + rng.normal())))
            ballots["PAIRWISE"].add(a if a_wins else b, b if a_wins else a, first, False)
            compared[[a, b]] += 1
            pairs += 1
    return Contest(quality, submitted, cost, target, ballots)


def _fit(ballots: Ballots, n: int) -> ranking.BradleyTerryResult:
    return ranking.bradley_terry(n, ballots.first, ballots.second)


def _rivals(ballots: dict[str, Ballots], n: int, target: int) -> dict[str, list[int]]:
    """The RIVALS leaders other than the target in VOTES and PAIRWISE, as the results stand when the brigade
    starts (it coordinates on one list)."""
    votes = ballots["VOTES"]
    standing = {
        "VOTES": ranking.ballot_support("VOTES", n, votes.first, votes.second)[0],
        "PAIRWISE": _fit(ballots["PAIRWISE"], n).strength,
    }
    return {
        kind: [i for i in np.argsort(-support, kind="stable").tolist() if i != target][:RIVALS]
        for kind, support in standing.items()
    }


def _brigade_ballots(ballots: dict[str, Ballots], target: int, rivals: dict[str, list[int]], at: float) -> None:
    """One fresh account's ballots: for the target, and against the rivals where the ballot lets it."""
    ballots["VOTES"].add(target, 1, at, True)
    for rival in rivals["VOTES"]:
        ballots["VOTES"].add(rival, -1, at, True)
    ballots["APPROVAL"].add(target, 0, at, True)
    ballots["BUDGET"].add(target, 0, at, True)
    for rival in rivals["PAIRWISE"]:
        ballots["PAIRWISE"].add(target, rival, at, True)


def winner(contest: Contest, kind: str, mode: str, with_brigade: bool) -> int:
    """The entry ranked first by the engine's rules, the fresh-accounts switch set to `mode`."""
    first, second, seen = contest.ballots[kind].arrays(with_brigade)
    counted, _ = ranking.fresh_split(seen, OPENED, mode)
    n = contest.quality.size
    support, eligible = ranking.ballot_support(kind, n, first[counted], second[counted])
    order, _ = ranking.outcome(kind, support, eligible, 1, contest.cost, BUDGET)
    return int(order[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=12)
    parser.add_argument("--voters", type=int, default=300, help="honest voters")
    parser.add_argument("--brigade", type=int, default=60, help="fresh accounts pushing one weak entry")
    parser.add_argument("--seen", type=int, default=5, help="entries an honest voter looks at")
    parser.add_argument("--exposure", type=float, default=EXPOSURE, help="head start's weight in what voters see")
    parser.add_argument("--newcomers", type=float, default=NEWCOMERS, help="share of honest voters first seen then")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = [(kind, mode) for kind in KINDS for mode in MODES]
    best_clean = {r: 0 for r in rows}
    best_brigaded = {r: 0 for r in rows}
    brigade_wins = {r: 0 for r in rows}
    early = {r: 0 for r in rows}
    for s in range(args.seeds):
        rng = np.random.default_rng([args.seed, s])
        contest = simulate(rng, args.entries, args.voters, args.brigade, args.seen, args.exposure, args.newcomers)
        best = int(np.argmax(contest.quality))
        for row in rows:
            clean, brigaded = winner(contest, *row, with_brigade=False), winner(contest, *row, with_brigade=True)
            best_clean[row] += clean == best
            early[row] += contest.submitted[clean] < 0.5
            best_brigaded[row] += brigaded == best
            brigade_wins[row] += brigaded == contest.target
    n = args.seeds
    print(
        f"{n} contests of {args.entries} entries; {args.voters} honest voters ({args.newcomers:.0%} first seen during "
        f"the vote), each seeing {args.seen} entries (exposure weight 1 + {args.exposure:g} x head start) or making "
        f"{COMPARISONS} comparisons; a brigade of {args.brigade} fresh accounts in the last {BRIGADE_WINDOW:.0%} of "
        "the voting window"
    )
    print()
    print(
        "| ballot | freshAccounts | best entry wins, no brigade | winner entered in the first half, no brigade "
        "| best entry wins, with the brigade | brigade's entry wins |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row[0]} | {row[1]} | {best_clean[row] / n:.0%} | {early[row] / n:.0%} "
            f"| {best_brigaded[row] / n:.0%} | {brigade_wins[row] / n:.0%} |"
        )


if __name__ == "__main__":
    main()
