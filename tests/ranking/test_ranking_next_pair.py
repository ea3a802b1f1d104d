"""next_pair: fair exposure for new ideas, informative pairs, and a better ranking for the same budget."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import kendalltau

import ranking


def test_never_pairs_an_idea_with_itself_nor_shows_an_excluded_one() -> None:
    rng = np.random.default_rng(0)
    strength = rng.normal(size=10)
    stderr = rng.uniform(0.2, 2, 10)
    counts = rng.integers(0, 5, 10)
    for _ in range(500):
        a, b = ranking.next_pair(strength, stderr, counts, rng=rng, exclude=[0, 3, 7])
        assert a != b
        assert {a, b}.isdisjoint({0, 3, 7})
        assert isinstance(a, int) and isinstance(b, int)


def test_only_two_eligible_ideas_are_paired_together() -> None:
    a, b = ranking.next_pair([0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [5, 0, 9], rng=1, exclude={1})
    assert {a, b} == {0, 2}


def test_two_voters_with_different_generators_see_different_streams() -> None:
    def stream(seed: int) -> list[tuple[int, int]]:
        rng = np.random.default_rng(seed)
        return [ranking.next_pair(np.zeros(30), np.ones(30), np.zeros(30), rng=rng) for _ in range(20)]

    assert stream(1) != stream(2)
    assert stream(1) == stream(1)


def test_a_new_idea_is_shown_in_every_matchup_until_it_catches_up() -> None:
    rng = np.random.default_rng(3)
    counts = np.append(rng.integers(15, 26, 40), 0)
    strength, stderr = rng.normal(size=41), np.full(41, 0.4)
    stderr[40] = 7.0
    shown = 0
    while counts[40] < counts[:40].min():
        a, b = ranking.next_pair(strength, stderr, counts, rng=rng)
        assert 40 in (a, b)
        counts[[a, b]] += 1
        shown += 1
    assert shown == 15


def test_a_new_idea_reaches_the_median_comparison_count_within_a_bounded_number_of_matchups() -> None:
    rng = np.random.default_rng(4)
    veterans = 40
    counts = np.append(rng.integers(15, 26, veterans), 0)
    median = int(np.median(counts[:veterans]))
    strength, stderr = rng.normal(size=veterans + 1), np.full(veterans + 1, 0.4)
    matchups = 0
    while counts[veterans] < np.median(counts):
        a, b = ranking.next_pair(strength, stderr, counts, rng=rng)
        counts[[a, b]] += 1
        matchups += 1
    # uniformly random pairs would need about median * (n / 2) = 400 matchups
    assert matchups <= 2 * median


def test_prefers_a_close_uncertain_opponent_over_a_settled_mismatch() -> None:
    rng = np.random.default_rng(5)
    strength = np.array([0.0, 0.1, 5.0, -5.0])
    stderr = np.array([1.0, 1.0, 0.2, 0.2])
    counts = np.array([3, 4, 4, 4])
    opponents = [set(ranking.next_pair(strength, stderr, counts, rng=rng)) - {0} for _ in range(200)]
    assert sum(o == {1} for o in opponents) > 190


def _simulated_tau(seed: int, adaptive: bool, n: int = 40, budget: int = 400) -> float:
    """Kendall tau between the fitted Bradley-Terry order and the latent qualities after `budget` votes."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 3, n)
    winners: list[int] = []
    losers: list[int] = []
    counts = np.zeros(n)
    fit = ranking.bradley_terry(n, [], [])
    for step in range(budget):
        if adaptive:
            if step % 10 == 0:
                fit = ranking.bradley_terry(n, winners, losers)
            a, b = ranking.next_pair(fit.strength, fit.stderr, counts, rng=rng)
        else:
            a, b = (int(x) for x in rng.choice(n, 2, replace=False))
        a_wins = rng.random() < 1 / (1 + np.exp(quality[b] - quality[a]))
        winners.append(a if a_wins else b)
        losers.append(b if a_wins else a)
        counts[[a, b]] += 1
    return float(kendalltau(ranking.bradley_terry(n, winners, losers).strength, quality).statistic)


def test_next_pair_recovers_the_true_order_better_than_random_pairs_for_the_same_budget() -> None:
    seeds = range(16)
    adaptive = np.array([_simulated_tau(s, adaptive=True) for s in seeds])
    uniform = np.array([_simulated_tau(s, adaptive=False) for s in seeds])
    assert adaptive.mean() > uniform.mean() + 0.015
    assert (adaptive > uniform).sum() >= 10


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"strength": [0, 1], "stderr": [1], "comparisons": [0, 0]}, "stderr"),
        ({"strength": [0, 1], "stderr": [1, 1], "comparisons": [0, -1]}, "comparisons"),
        ({"strength": [0, float("nan")], "stderr": [1, 1], "comparisons": [0, 0]}, "strength"),
        ({"strength": [0, 1], "stderr": [1, -1], "comparisons": [0, 0]}, "stderr"),
        ({"strength": [0, 1, 2], "stderr": [1, 1, 1], "comparisons": [0, 0, 0], "exclude": [3]}, "exclude"),
        ({"strength": [0, 1, 2], "stderr": [1, 1, 1], "comparisons": [0, 0, 0], "exclude": [0, 1]}, "exclude"),
        ({"strength": [0], "stderr": [1], "comparisons": [0]}, "exclude"),
        ({"strength": [], "stderr": [], "comparisons": []}, "exclude"),
    ],
)
def test_next_pair_rejects_bad_input_naming_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        ranking.next_pair(**kwargs)
