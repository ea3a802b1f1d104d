"""A board's own words for the seven statuses, shown to people (notifications, webhooks); rules stay the enum."""

from __future__ import annotations

from collections.abc import Sequence

from ideaengine import validation
from ideaengine.errors import invalid
from ideaengine.platform.models import Board, IdeaStatus

LABEL_MAX = 40
"Long enough for 'Shipped in the spring release', short enough for a badge."
DEFAULTS: dict[IdeaStatus, str] = {s: s.value.replace("_", " ").capitalize() for s in IdeaStatus}
"The enum's names in plain English: 'Submitted', 'Under review', ..."


def label(board: Board, status: IdeaStatus) -> str:
    """The board's label for the status, or the default."""
    return (board.status_labels or {}).get(status.value) or DEFAULTS[status]


def phrase(board: Board, status: IdeaStatus) -> str:
    """The label inside a sentence ('is now under review.'): a board's own label as written, a default in lower case."""
    custom = (board.status_labels or {}).get(status.value)
    return custom or DEFAULTS[status].lower()


def all_labels(board: Board) -> list[tuple[IdeaStatus, str]]:
    """Every status with its label, in the lifecycle's order."""
    return [(status, label(board, status)) for status in IdeaStatus]


def parse(pairs: Sequence[tuple[IdeaStatus, str]], field: str = "statusLabels") -> dict[str, str]:
    """Labels to store: each status at most once, each label 1-40 visible characters. A status left out (or
    given its default) reads as its default, so an empty list resets every label."""
    out: dict[str, str] = {}
    for i, (status, text) in enumerate(pairs):
        if status.value in out:
            raise invalid(f"{DEFAULTS[status]} is labelled twice.", [field, str(i), "status"])
        out[status.value] = validation.text(
            text, [field, str(i), "label"], min_len=1, max_len=LABEL_MAX, label="A label"
        )
    return {status: text for status, text in out.items() if text != DEFAULTS[IdeaStatus(status)]}
