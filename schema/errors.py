"""One place that maps domain errors to GraphQL: userErrors in payloads, coded top-level errors in queries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension, MaskErrors
from strawberry.types.field import StrawberryField

from ideaengine.errors import DomainError, ErrorCode
from schema.enums import UserErrorCode


@strawberry.type(description="An expected failure of a mutation: nothing was written.")
class UserError:
    field: list[str] = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "title"]; empty when none.'
    )
    message: str = strawberry.field(description="What went wrong, for people.")
    code: UserErrorCode = strawberry.field(description="What went wrong, for programs.")
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="With RATE_LIMITED: seconds until the caller may try again; null otherwise."
    )


def user_errors(exc: DomainError, prefix: Sequence[str] = ("input",)) -> list[UserError]:
    path = [*prefix, *exc.field] if exc.field else []
    return [UserError(field=path, message=exc.message, code=exc.code, retry_after_seconds=exc.retry_after)]


class DomainErrors(FieldExtension):
    """Turns a DomainError raised by a mutation into its payload with `userErrors`; with `rate`, first spends
    one unit of the caller's budget for that kind (per user and per IP) and answers RATE_LIMITED when none is
    left, before the mutation reads or writes anything."""

    def __init__(self, rate: str | None = None) -> None:
        super().__init__()
        self.rate = rate

    def apply(self, field: StrawberryField) -> None:
        self.payload_type = _payload_class(field)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("mutations are async")

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any) -> Any:
        try:
            if self.rate is not None:
                await info.context.spend(self.rate)
            return await next_(source, info, **kwargs)
        except DomainError as exc:
            return self.payload_type(user_errors=user_errors(exc))


def _payload_class(field: StrawberryField) -> type[Any]:
    payload = field.type
    while hasattr(payload, "of_type"):
        payload = payload.of_type
    return payload  # type: ignore[return-value]


def bad_input(message: str, field: Sequence[str]) -> GraphQLError:
    """A top-level error for a query argument at fault (DECISIONS.md 6)."""
    return GraphQLError(
        message, extensions={"code": "BAD_USER_INPUT", "userErrorCode": "INVALID", "field": list(field)}
    )


def query_error(exc: DomainError, argument_prefix: Sequence[str] = ()) -> GraphQLError:
    """A DomainError met while resolving a query, as a coded top-level error."""
    if exc.code in (ErrorCode.FORBIDDEN, ErrorCode.UNAUTHENTICATED):
        return GraphQLError(exc.message, extensions={"code": exc.code.value})
    field = [*argument_prefix, *exc.field]
    return GraphQLError(
        exc.message, extensions={"code": "BAD_USER_INPUT", "userErrorCode": exc.code.value, "field": field}
    )


def should_mask_error(error: GraphQLError) -> bool:
    """Mask only the unexpected: coded errors, and graphql-core's own validation messages, pass."""
    original = error.original_error
    if original is None:
        return False  # validation, depth/alias/token limits, syntax: the client needs these
    if isinstance(original, GraphQLError):
        # Ours carry an expected code; graphql-core's own (a variable that does not coerce) name the input
        # at fault: either way the message is meant for the client.
        return False
    return True


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors with `should_mask_error`, less a cost: strawberry's finds a result's errors with an isinstance
    against a runtime-checkable Protocol, which on Python 3.11 lists the protocol's attributes anew each time
    (90,000 instructions a request, 10% of executing `mutation { __typename }`). Reading the attribute does the
    same: a result with no `errors`, or none, is left alone. Should strawberry rename the method, its own runs
    again: slower, not wrong."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error)

    def _process_result(self, result: object) -> None:
        errors: list[GraphQLError] | None = getattr(result, "errors", None)
        if errors:
            setattr(result, "errors", self._process_errors(errors))  # noqa: B010 (the type is not known here)
