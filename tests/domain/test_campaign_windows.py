"""Which phase a campaign's dates put it in, and which dates are in order: pure rules, no storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ideaengine.campaigns import Windows, check_windows, phase_at
from ideaengine.errors import DomainError
from ideaengine.platform.models import CampaignPhase as P

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
FULL = Windows(T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY)


@pytest.mark.parametrize(
    ("windows", "at", "expected"),
    [
        (FULL, T0 - DAY, P.SCHEDULED),
        (FULL, T0, P.SUBMISSION),
        (FULL, T0 + DAY, P.SHORTLIST),
        (FULL, T0 + 2.5 * DAY, P.VOTING),
        (FULL, T0 + 3 * DAY, P.CLOSED),
        (Windows(), T0 + 99 * DAY, P.SCHEDULED),
        (Windows(voting_ends_at=T0), T0, P.CLOSED),
        (Windows(submission_starts_at=T0, voting_starts_at=T0 + DAY), T0 + DAY, P.VOTING),
    ],
)
def test_phase_at_is_the_phase_of_the_latest_date_passed(windows: Windows, at: datetime, expected: P) -> None:
    assert phase_at(windows, at) == expected


@pytest.mark.parametrize(
    ("windows", "field"),
    [
        (Windows(T0, T0 - DAY), "submissionEndsAt"),
        (Windows(T0, None, T0 - DAY), "votingStartsAt"),
        (Windows(voting_starts_at=T0, voting_ends_at=T0), "votingEndsAt"),
        (Windows(submission_starts_at=T0, submission_ends_at=T0), "submissionEndsAt"),
        (Windows(voting_ends_at=datetime(2027, 1, 1)), "votingEndsAt"),
        (Windows(submission_starts_at=datetime.fromisoformat("0001-01-01T00:00:00+01:00")), "submissionStartsAt"),
    ],
)
def test_dates_out_of_order_name_the_later_one(windows: Windows, field: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_windows(windows)
    assert refused.value.field == [field]


def test_dates_in_order_pass() -> None:
    check_windows(FULL)
    check_windows(Windows(submission_ends_at=T0, voting_starts_at=T0))
