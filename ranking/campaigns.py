"""Campaign results: the order of a contest's entries, approval counts, and funding in rank order.

Pure rules on arrays, shared by every ballot kind: the ballot decides what `support` is (Wilson lower bound,
approvals, ballots or Bradley-Terry strength); these functions decide the order and who wins or is funded.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ranking import _validate as v


def campaign_order(support: ArrayLike, seniority: ArrayLike) -> np.ndarray:
    """Entry positions, best first: higher support first; a tie goes to the earlier submission (lower
    `seniority`, e.g. the position in submission order), then to the lower position, so the order is total
    and recomputing it always gives the same ranks."""
    s = v.finite("support", support)
    born = v.finite("seniority", seniority, like=s)
    positions = np.arange(s.size)
    return np.lexsort((positions, born, -s)).astype(np.int64)


def approvals(n_items: int, choices: ArrayLike) -> np.ndarray:
    """How many ballots name each entry: `choices` holds one entry position per (ballot, entry) pair."""
    n = v.n_items(n_items)
    picked = v.ids("choices", choices, n)
    return np.bincount(picked, minlength=n).astype(float)


def fund(costs: ArrayLike, order: ArrayLike, budget: float) -> np.ndarray:
    """Which entries the budget funds, walking `order` (best first): an entry is funded when its cost fits
    in what is left, and skipped otherwise while the walk goes on, so a cheaper entry further down may still
    be funded (CONSUL's rule). NaN cost: not costed, never funded."""
    cost = np.asarray(costs, dtype=float)
    if cost.ndim != 1:
        raise ValueError(f"costs must be one-dimensional, got shape {cost.shape}")
    if np.any(np.isinf(cost)) or np.any(cost[~np.isnan(cost)] < 0):
        raise ValueError("costs must be non-negative and finite (NaN: not costed)")
    walk = v.ids("order", order, cost.size)
    if np.unique(walk).size != walk.size:
        raise ValueError("order must not repeat an entry")
    left = v.non_negative_scalar("budget", budget)
    funded = np.zeros(cost.size, dtype=bool)
    for i in walk:  # one step per entry: a campaign has tens of entries, and each step depends on the last
        if not np.isnan(cost[i]) and cost[i] <= left:
            funded[i] = True
            left -= cost[i]
    return funded


def top(order: ArrayLike, eligible: ArrayLike, count: int) -> np.ndarray:
    """The first `count` entries of `order` among the `eligible` ones (entries with any support)."""
    mask = np.asarray(eligible, dtype=bool)
    if mask.ndim != 1:
        raise ValueError(f"eligible must be one-dimensional, got shape {mask.shape}")
    walk = v.ids("order", order, mask.size)
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    chosen = np.zeros(mask.size, dtype=bool)
    chosen[walk[mask[walk]][: int(count)]] = True
    return chosen
