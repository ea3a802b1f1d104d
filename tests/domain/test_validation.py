"""Input rules shared by every entry point: what they refuse and the words they use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ideaengine import validation
from ideaengine.errors import DomainError


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("Oat \ud800 milk", "A title contains characters that are not valid Unicode.", id="lone_surrogate"),
        pytest.param("Oat\x00milk", "A title contains control characters.", id="nul"),
        pytest.param("\u200b\u200b\u200b", "A title must contain visible characters.", id="zero_width_spaces"),
        pytest.param("\u2066abc\u2069", "A title contains text-direction control characters.", id="bidi_isolate"),
    ],
)
def test_titles_refused_with_their_reason(value: str, message: str) -> None:
    with pytest.raises(DomainError) as refused:
        validation.title(value)
    assert (refused.value.message, refused.value.field) == (message, ["title"])


def test_right_to_left_text_with_its_marks_is_kept() -> None:
    assert validation.title("\u05e2\u05d5\u05d3 \u200fחלב שיבולת") == "\u05e2\u05d5\u05d3 \u200fחלב שיבולת"


class Untouchable(Sequence[str]):
    """100,000 tags that fail the test if any one of them is looked at."""

    def __len__(self) -> int:
        return 100_000

    def __getitem__(self, index: Any) -> Any:
        raise AssertionError("a tag was examined before the count was checked")


def test_too_many_tags_are_refused_before_any_per_tag_work() -> None:
    """Deduplicating first made 30,000 tags a 29-second quadratic freeze before the count was checked."""
    with pytest.raises(DomainError) as refused:
        validation.tags(Untouchable())
    assert (refused.value.message, refused.value.field) == ("An idea has at most 10 tags.", ["tags"])
