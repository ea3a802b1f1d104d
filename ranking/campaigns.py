"""Campaign results: the order of a contest's entries, approval counts, and funding in rank order.

Pure rules on arrays, shared by every ballot kind: the ballot decides what `support` is (Wilson lower bound,
approvals, ballots or Bradley-Terry strength); these functions decide the order and who wins or is funded,
and which ballots count at all (`fresh_split`: a brigade of accounts created during the vote). The engine's
results and the contest simulation (bench/contest.py) call the same functions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ranking import _validate as v
from ranking.pairwise import bradley_terry
from ranking.scores import wilson_lower_bound

BALLOT_KINDS = ("VOTES", "APPROVAL", "BUDGET", "PAIRWISE")
FRESH_MODES = ("COUNT", "SEPARATE", "IGNORE")
"What results do with fresh accounts' ballots: count them, leave them out and report them apart, or leave them out."


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


def ballot_support(
    kind: str, n_items: int, first: ArrayLike, second: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(support, eligible) of each entry from one ballot kind's ballots, one ballot per position of `first`.
    VOTES: `first` the entry voted on, `second` the value (+1 up, -1 down); Wilson lower bound, eligible with
    an up vote. APPROVAL, BUDGET: `first` the entry named (one per ballot and entry); the count of ballots
    naming it, eligible when named. PAIRWISE: `first` the winner, `second` the loser of each comparison;
    Bradley-Terry strength, eligible when it won one."""
    n = v.n_items(n_items)
    picked = v.ids("first", first, n)
    if kind in ("APPROVAL", "BUDGET"):
        named = approvals(n, picked)
        return named, named > 0
    if kind == "VOTES":
        values = v.finite("second", [] if second is None else second, like=picked.astype(float))
        if np.any((values != 1) & (values != -1)):
            raise ValueError("second: a vote's value is +1 (up) or -1 (down)")
        up = np.bincount(picked[values > 0], minlength=n)
        down = np.bincount(picked[values < 0], minlength=n)
        return wilson_lower_bound(up, down), up > 0
    if kind == "PAIRWISE":
        losers = v.ids("second", [] if second is None else second, n, like=picked)
        return bradley_terry(n, picked, losers).strength, np.bincount(picked, minlength=n) > 0
    raise ValueError(f"kind must be one of {', '.join(BALLOT_KINDS)}, got {kind!r}")


def outcome(
    kind: str,
    support: ArrayLike,
    eligible: ArrayLike,
    winner_count: int,
    costs: ArrayLike | None = None,
    budget: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(order, won) for entries given in submission order (a tie goes to the earlier): BUDGET funds the
    eligible ones in that order while `budget` lasts (`fund`, NaN cost: never funded); every other kind
    takes the `winner_count` best eligible ones (`top`)."""
    if kind not in BALLOT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(BALLOT_KINDS)}, got {kind!r}")
    s = v.finite("support", support)
    order = campaign_order(s, np.arange(s.size))
    mask = np.asarray(eligible, dtype=bool)
    v.same_length("eligible", mask, s)
    if kind == "BUDGET":
        cost = np.full(s.size, np.nan) if costs is None else np.asarray(costs, dtype=float)
        v.same_length("costs", cost, s)
        return order, fund(cost, order[mask[order]], budget)
    return order, top(order, mask, winner_count)


def fresh_split(first_seen: ArrayLike, opened: float | None, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(counted, apart): which ballots count in the results and which are reported apart. A ballot is fresh
    when its account was first seen (seconds, any epoch) at or after `opened`, when voting opened (None: it
    never did, so none is). COUNT: every ballot counts, none apart; SEPARATE: fresh ones are left out and
    reported apart; IGNORE: fresh ones are left out."""
    seen = v.finite("first_seen", first_seen)
    if mode not in FRESH_MODES:
        raise ValueError(f"mode must be one of {', '.join(FRESH_MODES)}, got {mode!r}")
    fresh = np.zeros(seen.size, dtype=bool) if opened is None else seen >= v.finite_scalar("opened", opened)
    if mode == "COUNT":
        return np.ones(seen.size, dtype=bool), np.zeros(seen.size, dtype=bool)
    return ~fresh, fresh if mode == "SEPARATE" else np.zeros(seen.size, dtype=bool)
