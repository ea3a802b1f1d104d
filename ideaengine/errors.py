"""The one error type the domain raises for expected failures, and its codes."""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ErrorCode(enum.Enum):
    """Why an operation was refused; the API exposes it as `UserErrorCode`."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    RATE_LIMITED = "RATE_LIMITED"
    BOARD_ARCHIVED = "BOARD_ARCHIVED"
    "The board is archived: readable, but its ideas take no new writes."
    WRONG_PHASE = "WRONG_PHASE"
    "The campaign's phase does not take this (entries outside SUBMISSION, ballots outside VOTING, ...)."
    NOT_IN_CAMPAIGN = "NOT_IN_CAMPAIGN"
    NOT_A_FINALIST = "NOT_A_FINALIST"
    TOO_MANY_CHOICES = "TOO_MANY_CHOICES"
    OVER_BUDGET = "OVER_BUDGET"


class DomainError(Exception):
    """An expected failure a client can cause: a code, a message, and the input field at fault."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field: str | Sequence[str] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        "With RATE_LIMITED: whole seconds until the caller may try again."
        if field is None:
            self.field: list[str] = []
        elif isinstance(field, str):
            self.field = [field]
        else:
            self.field = list(field)

    def __repr__(self) -> str:
        return f"DomainError({self.code.name}, {self.message!r}, field={self.field!r})"


def invalid(message: str, field: str | Sequence[str] | None = None) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field)


def not_found(message: str, field: str | Sequence[str] | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, message, field)
