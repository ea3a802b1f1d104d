"""Wilson, trending and Elo: against references, golden cases and invariants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

import ranking


def textbook_elo(n: int, winners: list[int], losers: list[int], k: float = 32.0) -> list[float]:
    ratings = [1500.0] * n
    for w, l in zip(winners, losers, strict=True):  # noqa: E741
        e = 1 / (1 + 10 ** ((ratings[l] - ratings[w]) / 400))
        ratings[w] += k * (1 - e)
        ratings[l] -= k * (1 - e)
    return ratings


# -- Wilson ---------------------------------------------------------------------------------------


def test_wilson_equals_statsmodels_wilson_interval_lower_bound() -> None:
    rng = np.random.default_rng(4)
    up = rng.integers(0, 2000, 5000)
    down = rng.integers(0, 2000, 5000)
    up[:50], down[:50] = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    n = up + down
    voted = n > 0
    expected = np.zeros(up.size)
    expected[voted] = proportion_confint(up[voted], n[voted], alpha=0.05, method="wilson")[0]
    np.testing.assert_allclose(ranking.wilson_lower_bound(up, down), np.maximum(expected, 0), atol=1e-9)


@pytest.mark.parametrize(
    ("desc", "up", "down", "expected"),
    [
        ("no votes at all scores zero", 0, 0, 0.0),
        ("a single up vote", 1, 0, 0.2065493143772374),
        ("only down votes score zero, not a negative rounding error", 0, 7, 0.0),
        ("a 50/50 split over 100 votes", 50, 50, 0.4038315303659956),
        ("many votes, mostly up", 900, 100, 0.8798480368046516),
    ],
)
def test_wilson_golden_cases(desc: str, up: int, down: int, expected: float) -> None:
    assert ranking.wilson_lower_bound([up], [down])[0] == pytest.approx(expected, abs=1e-12), desc


def test_wilson_is_clipped_at_zero_never_negative() -> None:
    down = np.arange(0, 100_000, 7)
    assert np.all(ranking.wilson_lower_bound(np.zeros_like(down), down) == 0.0)


def test_wilson_orders_few_perfect_votes_below_many_good_ones() -> None:
    few, many = ranking.wilson_lower_bound([2, 95], [0, 5])
    assert few < many


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_wilson_lies_between_zero_and_the_observed_share(up: int, down: int) -> None:
    bound = ranking.wilson_lower_bound([up], [down])[0]
    share = up / (up + down) if up + down else 0.0
    assert 0.0 <= bound <= share + 1e-12


@given(st.integers(0, 5_000), st.integers(0, 5_000))
def test_wilson_rises_with_one_more_up_vote(up: int, down: int) -> None:
    before, after = ranking.wilson_lower_bound([up, up + 1], [down, down])
    assert after >= before


def test_wilson_z_changes_the_confidence_level() -> None:
    z90 = 1.6448536269514722
    expected = proportion_confint(30, 40, alpha=0.10, method="wilson")[0]
    assert ranking.wilson_lower_bound([30], [10], z=z90)[0] == pytest.approx(expected, abs=1e-12)


def test_wilson_of_empty_input_is_empty() -> None:
    assert ranking.wilson_lower_bound([], []).shape == (0,)


@pytest.mark.parametrize(
    ("up", "down", "z", "argument"),
    [
        ([1, -1], [0, 0], ranking.Z95, "up"),
        ([1, 2], [0], ranking.Z95, "down"),
        ([1.5], [0], ranking.Z95, "up"),
        ([1], [float("nan")], ranking.Z95, "down"),
        ([float("inf")], [1], ranking.Z95, "up"),
        ([1], [1], 0.0, "z"),
    ],
)
def test_wilson_rejects_bad_input_naming_the_argument(up: list[Any], down: list[Any], z: float, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        ranking.wilson_lower_bound(up, down, z=z)


# -- Trending -------------------------------------------------------------------------------------


def test_trending_sums_votes_halving_every_half_life() -> None:
    scores = ranking.decayed_votes(
        idea_index=[0, 0, 1, 1, 2],
        values=[1, 1, 1, -1, -1],
        ages_hours=[0, 72, 144, 0, 36],
        n_items=4,
    )
    np.testing.assert_allclose(scores, [1.5, 0.25 - 1, -(2**-0.5), 0.0], atol=1e-15)


def test_trending_half_life_is_a_parameter() -> None:
    assert ranking.decayed_votes([0], [1], [24], 1, half_life_hours=24)[0] == pytest.approx(0.5)


def test_trending_of_no_votes_is_zero_for_every_idea() -> None:
    np.testing.assert_array_equal(ranking.decayed_votes([], [], [], 3), np.zeros(3))
    assert ranking.decayed_votes([], [], [], 0).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"idea_index": [3], "values": [1], "ages_hours": [0], "n_items": 3}, "idea_index"),
        ({"idea_index": [0], "values": [1, 1], "ages_hours": [0], "n_items": 3}, "values"),
        ({"idea_index": [0], "values": [1], "ages_hours": [-1], "n_items": 3}, "ages_hours"),
        ({"idea_index": [0], "values": [float("nan")], "ages_hours": [0], "n_items": 3}, "values"),
        ({"idea_index": [0], "values": [1], "ages_hours": [0], "n_items": -1}, "n_items"),
        ({"idea_index": [0], "values": [1], "ages_hours": [0], "n_items": 1, "half_life_hours": 0}, "half_life"),
    ],
)
def test_trending_rejects_bad_input_naming_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        ranking.decayed_votes(**kwargs)


# -- Elo ------------------------------------------------------------------------------------------


def test_elo_equals_a_textbook_replay() -> None:
    rng = np.random.default_rng(7)
    winners = rng.integers(0, 40, 5000)
    losers = (winners + rng.integers(1, 40, 5000)) % 40
    expected = textbook_elo(40, winners.tolist(), losers.tolist())
    np.testing.assert_allclose(ranking.elo_ratings(40, winners, losers), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("desc", "winners", "losers", "expected"),
    [
        ("one win between equals moves both by k/2", [0], [1], [1516.0, 1484.0]),
        ("nobody compared stays at 1500", [], [], [1500.0, 1500.0]),
        (
            "a cycle of three ideas, replayed in order",
            [0, 1, 2],
            [1, 2, 0],
            textbook_elo(3, [0, 1, 2], [1, 2, 0]),
        ),
    ],
)
def test_elo_golden_cases(desc: str, winners: list[int], losers: list[int], expected: list[float]) -> None:
    np.testing.assert_allclose(ranking.elo_ratings(len(expected), winners, losers), expected, atol=1e-12)


def test_elo_depends_on_the_order_of_comparisons() -> None:
    forward = ranking.elo_ratings(3, [0, 1], [1, 2])
    backward = ranking.elo_ratings(3, [1, 0], [2, 1])
    assert not np.allclose(forward, backward)


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(1, 9)), max_size=200))
def test_elo_is_zero_sum(pairs: list[tuple[int, int]]) -> None:
    winners = [w for w, _ in pairs]
    losers = [(w + d) % 10 for w, d in pairs]
    ratings = ranking.elo_ratings(10, winners, losers)
    assert ratings.sum() == pytest.approx(10 * 1500.0, abs=1e-6)


def test_elo_uses_k_and_initial() -> None:
    np.testing.assert_allclose(ranking.elo_ratings(2, [0], [1], k=10, initial=1000), [1005.0, 995.0])


@pytest.mark.parametrize(
    ("winners", "losers", "argument"),
    [
        ([0, 5], [1, 2], "winners"),
        ([0, 1], [1, -1], "losers"),
        ([0, 1], [1], "losers"),
        ([0], [0], "losers"),
        ([0.5], [1], "winners"),
    ],
)
def test_elo_rejects_bad_input_naming_the_argument(winners: list[Any], losers: list[Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        ranking.elo_ratings(3, winners, losers)
