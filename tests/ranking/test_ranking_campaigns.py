"""Campaign results: the order (ties to the earlier submission), approval counts, funding in rank order."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ranking


@pytest.mark.parametrize(
    ("desc", "support", "seniority", "expected"),
    [
        ("higher support first", [1.0, 3.0, 2.0], [0, 1, 2], [1, 2, 0]),
        ("a tie goes to the earlier submission", [2.0, 2.0, 5.0], [1, 0, 2], [2, 1, 0]),
        ("a full tie goes to the lower position", [1.0, 1.0], [0, 0], [0, 1]),
        ("no entries", [], [], []),
    ],
)
def test_campaign_order(desc: str, support: list[float], seniority: list[int], expected: list[int]) -> None:
    assert ranking.campaign_order(support, seniority).tolist() == expected, desc


def test_approvals_count_the_ballots_naming_each_entry() -> None:
    assert ranking.approvals(4, [0, 2, 2, 3, 2]).tolist() == [1.0, 0.0, 3.0, 1.0]
    assert ranking.approvals(2, []).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("desc", "costs", "order", "budget", "expected"),
    [
        ("funded in order while it lasts", [40, 30, 20], [0, 1, 2], 100, [True, True, True]),
        (
            "one that no longer fits is skipped, a cheaper one further down still funded",
            [60, 50, 30, 20],
            [0, 1, 2, 3],
            100,
            [True, False, True, False],
        ),
        ("an exact fit is funded", [50, 50], [1, 0], 100, [True, True]),
        ("an entry without a cost is never funded", [float("nan"), 10], [0, 1], 100, [False, True]),
        ("entries left out of the order are not funded", [10, 10, 10], [2], 100, [False, False, True]),
        ("nothing to spend", [0, 1], [0, 1], 0, [True, False]),
    ],
)
def test_fund_follows_consuls_rule(
    desc: str, costs: list[float], order: list[int], budget: float, expected: list[bool]
) -> None:
    assert ranking.fund(costs, order, budget).tolist() == expected, desc


def test_top_takes_the_best_eligible_entries() -> None:
    assert ranking.top([2, 0, 1, 3], [False, True, True, True], 2).tolist() == [False, True, True, False]
    assert ranking.top([0, 1], [False, False], 1).tolist() == [False, False]


def test_ballot_support_is_each_kinds_measure() -> None:
    support, eligible = ranking.ballot_support("VOTES", 3, [0, 0, 1, 2], [1, -1, -1, 1])
    assert support.tolist() == ranking.wilson_lower_bound([1, 0, 1], [1, 1, 0]).tolist()
    assert eligible.tolist() == [True, False, True]
    for kind in ("APPROVAL", "BUDGET"):
        support, eligible = ranking.ballot_support(kind, 3, [2, 0, 2])
        assert (support.tolist(), eligible.tolist()) == ([1.0, 0.0, 2.0], [True, False, True])
    support, eligible = ranking.ballot_support("PAIRWISE", 3, [1, 1, 0], [0, 2, 2])
    assert support.tolist() == ranking.bradley_terry(3, [1, 1, 0], [0, 2, 2]).strength.tolist()
    assert eligible.tolist() == [True, True, False]


def test_outcome_orders_and_picks_the_winners_of_each_kind() -> None:
    order, won = ranking.outcome("APPROVAL", [2.0, 3.0, 2.0, 0.0], [True, True, True, False], 2)
    assert (order.tolist(), won.tolist()) == ([1, 0, 2, 3], [True, True, False, False])
    order, won = ranking.outcome("BUDGET", [3.0, 2.0, 1.0], [True, True, True], 1, [60.0, 50.0, 30.0], 100.0)
    assert (order.tolist(), won.tolist()) == ([0, 1, 2], [True, False, True])


@pytest.mark.parametrize(
    ("mode", "counted", "apart"),
    [
        ("COUNT", [True, True, True], [False, False, False]),
        ("SEPARATE", [True, False, False], [False, True, True]),
        ("IGNORE", [True, False, False], [False, False, False]),
    ],
)
def test_fresh_split_leaves_out_accounts_first_seen_once_voting_opened(
    mode: str, counted: list[bool], apart: list[bool]
) -> None:
    split = ranking.fresh_split([5.0, 10.0, 11.0], 10.0, mode)  # first seen at 10: fresh (at or after)
    assert (split[0].tolist(), split[1].tolist()) == (counted, apart)
    never = ranking.fresh_split([5.0, 10.0], None, mode)  # voting never opened: no one is fresh
    assert (never[0].tolist(), never[1].tolist()) == ([True, True], [False, False])


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: ranking.campaign_order([1.0, np.nan], [0, 1]), "support"),
        (lambda: ranking.campaign_order([1.0, 2.0], [0]), "seniority"),
        (lambda: ranking.approvals(2, [0, 2]), "choices"),
        (lambda: ranking.approvals(-1, []), "n_items"),
        (lambda: ranking.fund([10, -1], [0, 1], 5), "costs"),
        (lambda: ranking.fund([10, np.inf], [0, 1], 5), "costs"),
        (lambda: ranking.fund([10, 1], [0, 0], 5), "order"),
        (lambda: ranking.fund([10, 1], [0, 1], -5), "budget"),
        (lambda: ranking.fund([10, 1], [0, 1], np.inf), "budget"),
        (lambda: ranking.top([0, 1], [True, True], -1), "count"),
        (lambda: ranking.ballot_support("RANKED", 2, []), "kind"),
        (lambda: ranking.ballot_support("VOTES", 2, [0, 1], [1, 0]), "second"),
        (lambda: ranking.ballot_support("VOTES", 2, [0, 1], [1]), "second"),
        (lambda: ranking.ballot_support("PAIRWISE", 2, [0], [2]), "second"),
        (lambda: ranking.outcome("RANKED", [1.0], [True], 1), "kind"),
        (lambda: ranking.outcome("BUDGET", [1.0, 2.0], [True, True], 1, [5.0]), "costs"),
        (lambda: ranking.fresh_split([1.0], 0.0, "SOMETIMES"), "mode"),
        (lambda: ranking.fresh_split([np.nan], 0.0, "IGNORE"), "first_seen"),
    ],
)
def test_bad_input_names_the_argument(call: Any, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()
