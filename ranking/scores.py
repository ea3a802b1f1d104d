"""Vote-based scores: Wilson lower bound (TOP), trending (decayed votes) and Elo (ELO)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ranking import _validate as v

Z95 = 1.959963984540054
"""Two-sided 95% normal quantile: the z of every 95% interval here."""

TRENDING_HALF_LIFE_HOURS = 72.0
"""A vote's weight in `trending` halves every 72 hours."""

ELO_K = 32.0
"""Elo step size: the most one comparison can move a rating."""

ELO_INITIAL = 1500.0
"""Every Elo rating starts here."""


def wilson_lower_bound(up: ArrayLike, down: ArrayLike, z: float = Z95) -> np.ndarray:
    """Lower bound of the Wilson score interval for p = up / n, n = up + down; 0 where n = 0.

    (p + z²/2n - z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n): exactly 0 without up votes (where rounding
    would give ±1e-17), never below 0.
    """
    up_arr = v.counts("up", up)
    down_arr = v.counts("down", down, like=up_arr)
    z = v.positive("z", z)
    zz = z * z
    inv_n = up_arr + down_arr
    np.maximum(inv_n, 1.0, out=inv_n)  # n = 0 only without up votes, which score 0 below
    np.divide(1.0, inv_n, out=inv_n)
    p = up_arr * inv_n
    spread = 1 - p
    spread *= p
    spread += inv_n * (zz / 4)
    spread *= inv_n
    np.sqrt(spread, out=spread)
    spread *= z
    bound = inv_n * (zz / 2)
    bound += p
    bound -= spread
    inv_n *= zz
    inv_n += 1
    bound /= inv_n
    np.maximum(bound, 0.0, out=bound)
    bound[up_arr == 0] = 0.0
    return np.asarray(bound)


def decayed_votes(
    idea_index: ArrayLike,
    values: ArrayLike,
    ages_hours: ArrayLike,
    n_items: int,
    half_life_hours: float = TRENDING_HALF_LIFE_HOURS,
) -> np.ndarray:
    """Trending score per idea: the sum over its votes of value · 2^(-age / half_life).

    `values` are +1 (up) and -1 (down); `ages_hours` are each vote's age when the score is computed.
    """
    n = v.n_items(n_items)
    idx = v.ids("idea_index", idea_index, n)
    vals = v.finite("values", values, like=idx.astype(float))
    ages = v.non_negative("ages_hours", ages_hours, like=idx.astype(float))
    h = v.positive("half_life_hours", half_life_hours)
    weights = vals * np.exp2(-ages / h)
    return np.bincount(idx, weights=weights, minlength=n).astype(float)


def elo_ratings(
    n_items: int,
    winners: ArrayLike,
    losers: ArrayLike,
    k: float = ELO_K,
    initial: float = ELO_INITIAL,
) -> np.ndarray:
    """Elo ratings after replaying the comparisons in the order given.

    For winner w and loser l: e = 1 / (1 + 10^((R_l - R_w) / 400)); R_w += k(1 - e); R_l -= k(1 - e).
    Sequential by definition, so this is the one Python loop over comparisons in `ranking`.
    """
    n = v.n_items(n_items)
    w = v.ids("winners", winners, n)
    lo = v.ids("losers", losers, n, like=w)
    if np.any(w == lo):
        raise ValueError("losers: an idea cannot be compared with itself (winners[i] == losers[i])")
    k = v.non_negative_scalar("k", k)
    initial = v.finite_scalar("initial", initial)
    ratings = [initial] * n
    for a, b in zip(w.tolist(), lo.tolist(), strict=True):
        ra = ratings[a]
        rb = ratings[b]
        step = k * (1 - 1 / (1 + 10 ** ((rb - ra) / 400)))
        ratings[a] = ra + step
        ratings[b] = rb - step
    return np.array(ratings, dtype=float)
