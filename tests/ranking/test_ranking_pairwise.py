"""Bradley-Terry: equal to choix's MAP estimate, exact intervals, invariants, bad input."""

from __future__ import annotations

import random
from typing import Any

import choix
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ranking
from ranking import pairwise


def simulate(n: int, m: int, seed: int, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, spread, n)
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    a_wins = rng.random(m) < 1 / (1 + np.exp(quality[b] - quality[a]))
    return np.where(a_wins, a, b), np.where(a_wins, b, a)


def choix_fit(n: int, winners: np.ndarray, losers: np.ndarray) -> np.ndarray:
    data = list(zip(winners.tolist(), losers.tolist(), strict=True))
    fitted: np.ndarray = choix.opt_pairwise(n, data, alpha=ranking.BT_ALPHA)
    return fitted


def exact_stderr(n: int, winners: np.ndarray, losers: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """sqrt(diag(H⁻¹)) with choix's own (dense, loop-built) Hessian of the same objective."""
    data = list(zip(winners.tolist(), losers.tolist(), strict=True))
    hessian = choix.opt.PairwiseFcts(data, ranking.BT_ALPHA).hessian(theta)
    return np.sqrt(np.diag(np.linalg.inv(hessian)))


@pytest.mark.parametrize(
    ("desc", "n", "m", "seed"),
    [
        ("a small connected board", 12, 200, 1),
        ("a sparse board, most ideas compared a few times", 60, 150, 2),
        ("a busy board", 80, 4000, 3),
    ],
)
def test_bradley_terry_equals_choix_map_estimate(desc: str, n: int, m: int, seed: int) -> None:
    winners, losers = simulate(n, m, seed)
    result = ranking.bradley_terry(n, winners, losers)
    compared = result.comparisons > 0
    expected = choix_fit(n, winners, losers)
    np.testing.assert_allclose(result.strength, expected, atol=1e-4, err_msg=desc)
    np.testing.assert_allclose(result.strength[~compared], 0.0)
    np.testing.assert_allclose(result.stderr, exact_stderr(n, winners, losers, result.strength), rtol=1e-8)


def test_bradley_terry_on_a_disconnected_board_equals_choix() -> None:
    # two separate groups {0,1,2} and {3,4}, and ideas 5 and 6 never compared
    winners = np.array([0, 0, 1, 2, 3, 3, 4])
    losers = np.array([1, 2, 2, 0, 4, 4, 3])
    result = ranking.bradley_terry(7, winners, losers)
    np.testing.assert_allclose(result.strength, choix_fit(7, winners, losers), atol=1e-4)
    np.testing.assert_allclose(result.stderr, exact_stderr(7, winners, losers, result.strength), rtol=1e-8)
    assert result.strength[5] == result.strength[6] == 0.0
    assert result.strength[:3].sum() == pytest.approx(0.0, abs=1e-9)
    assert result.strength[3:5].sum() == pytest.approx(0.0, abs=1e-9)


def test_never_compared_ideas_sit_at_zero_with_the_widest_interval() -> None:
    winners, losers = simulate(30, 400, 5)
    result = ranking.bradley_terry(32, winners, losers)
    widest = 1 / np.sqrt(2 * ranking.BT_ALPHA)
    np.testing.assert_allclose(result.stderr[30:], widest)
    assert np.all(result.stderr[:30] < widest)
    np.testing.assert_allclose(result.high - result.low, 2 * ranking.Z95 * result.stderr)
    np.testing.assert_allclose(result.low[30:], -ranking.Z95 * widest)
    np.testing.assert_array_equal(result.comparisons[30:], [0, 0])


@pytest.mark.parametrize(
    ("desc", "winners", "losers", "check"),
    [
        ("a cycle of three ideas is a three-way tie", [0, 1, 2], [1, 2, 0], "tie"),
        ("one idea that always wins is first but finite", [0, 0, 0, 0], [1, 2, 1, 2], "first"),
        ("a single comparison splits the pair symmetrically", [1], [0], "symmetric"),
    ],
)
def test_bradley_terry_golden_cases(desc: str, winners: list[int], losers: list[int], check: str) -> None:
    result = ranking.bradley_terry(3, winners, losers)
    expected = choix_fit(3, np.array(winners), np.array(losers))
    np.testing.assert_allclose(result.strength, expected, atol=1e-4, err_msg=desc)
    if check == "tie":
        np.testing.assert_allclose(result.strength, 0.0, atol=1e-12)
    elif check == "first":
        assert np.argmax(result.strength) == 0 and np.all(np.isfinite(result.strength))
    else:
        assert result.strength[1] == pytest.approx(-result.strength[0]) and result.strength[1] > 0


def test_stderr_above_the_exact_limit_approximates_the_exact_inverse(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [(200, 600, 11), (300, 3000, 12), (300, 20000, 13)]
    exact = {case: ranking.bradley_terry(case[0], *simulate(*case)).stderr for case in cases}
    monkeypatch.setattr(pairwise, "EXACT_STDERR_MAX_ITEMS", 50)
    for case in cases:
        approx = ranking.bradley_terry(case[0], *simulate(*case))
        assert not approx.exact_stderr
        relative = np.abs(approx.stderr / exact[case] - 1)
        assert np.median(relative) < 0.05, case
        assert relative.max() < 0.20, case


def test_large_boards_are_fitted_without_a_dense_matrix() -> None:
    n = 20_000
    winners, losers = simulate(n, 100_000, 21)
    result = ranking.bradley_terry(n, winners, losers)
    assert not result.exact_stderr
    gradient = pairwise._gradient(result.strength, pairwise._aggregate(n, winners, losers), ranking.BT_ALPHA, n)
    assert np.max(np.abs(gradient)) < 1e-6
    assert np.all(np.isfinite(result.stderr)) and np.all(result.stderr > 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(1, 7)), min_size=1, max_size=60), st.randoms())
def test_bradley_terry_ignores_the_order_of_comparisons(pairs: list[tuple[int, int]], rnd: random.Random) -> None:
    winners = np.array([w for w, _ in pairs])
    losers = np.array([(w + d) % 8 for w, d in pairs])
    order = list(range(len(pairs)))
    rnd.shuffle(order)
    first = ranking.bradley_terry(8, winners, losers)
    second = ranking.bradley_terry(8, winners[order], losers[order])
    np.testing.assert_allclose(first.strength, second.strength, atol=1e-9)
    np.testing.assert_allclose(first.stderr, second.stderr, rtol=1e-9)


def test_bradley_terry_of_no_comparisons() -> None:
    result = ranking.bradley_terry(3, [], [])
    np.testing.assert_array_equal(result.strength, np.zeros(3))
    empty = ranking.bradley_terry(0, [], [])
    assert empty.strength.shape == empty.stderr.shape == empty.low.shape == empty.high.shape == (0,)


@pytest.mark.parametrize(
    ("n_items", "winners", "losers", "alpha", "argument"),
    [
        (3, [0, 3], [1, 2], 0.01, "winners"),
        (3, [0, 1], [1, -1], 0.01, "losers"),
        (3, [0, 1], [2], 0.01, "losers"),
        (3, [1], [1], 0.01, "losers"),
        (3, [float("nan")], [1], 0.01, "winners"),
        (3, [0], [1], 0.0, "alpha"),
        (-1, [], [], 0.01, "n_items"),
    ],
)
def test_bradley_terry_rejects_bad_input_naming_the_argument(
    n_items: int, winners: list[Any], losers: list[Any], alpha: float, argument: str
) -> None:
    with pytest.raises(ValueError, match=argument):
        ranking.bradley_terry(n_items, winners, losers, alpha=alpha)
