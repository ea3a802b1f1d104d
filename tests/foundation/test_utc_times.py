"""Stored times: naive UTC in the database, timezone-aware UTC in the program (DECISIONS.md 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ideaengine.platform.models import read_utc, stored_utc

OFFSETS = st.integers(min_value=-23 * 60 + 1, max_value=23 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(), OFFSETS)
@example(datetime(2000, 1, 1, fold=1), UTC)  # already UTC, with a fold: what the suite once found
def test_a_time_is_stored_as_the_naive_utc_of_its_instant(wall: datetime, zone: timezone) -> None:
    aware = wall.replace(tzinfo=zone)
    try:
        expected = aware.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # an instant before year 1 or after 9999 in UTC has no datetime
        with pytest.raises(OverflowError):
            stored_utc(aware)
        return
    stored = stored_utc(aware)
    assert stored == expected and stored.tzinfo is None
    assert (stored.year, stored.microsecond) == (expected.year, expected.microsecond)
    # A naive UTC time is never ambiguous, so it never carries a fold. (The old conversion passed fold=1 through
    # when the time was already in UTC, since astimezone then returns it as it is; equality ignores fold.)
    assert stored.fold == 0


@given(st.datetimes())
def test_a_stored_time_reads_back_as_that_wall_time_in_utc(stored: datetime) -> None:
    read = read_utc(stored)
    assert read.tzinfo is UTC and read.replace(tzinfo=None) == stored and read == stored.replace(tzinfo=UTC)
    assert stored_utc(read) == stored


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        stored_utc(datetime(2026, 12, 7, 12, 0))
