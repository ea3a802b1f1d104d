"""Relay plumbing: opaque global IDs, the Node interface, PageInfo and offset cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import strawberry

from ideaengine.errors import DomainError, ErrorCode
from ideaengine.platform.queries import MAX_PAGE_SIZE
from schema.errors import bad_input

C = TypeVar("C")
R = TypeVar("R")

NODE_TYPES = ("Board", "Idea", "User", "Comment", "Notification")


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    @strawberry.field(description="Opaque global id; pass it to `node(id:)`.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # every node type resolves its own


@strawberry.type(description="Where a page sits in its connection.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def encode_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("="))


def parse_id(value: str) -> tuple[str, int] | None:
    """(type, pk) of a global id, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if type_name not in NODE_TYPES or not pk.isdigit() or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode_id(value: str, type_name: str, field: str | Sequence[str]) -> int:
    """The primary key behind a global id of `type_name`; a wrong or malformed id is INVALID."""
    parsed = parse_id(value)
    if parsed is None or parsed[0] != type_name:
        raise DomainError(ErrorCode.INVALID, f"Not a valid {type_name} id.", field)
    return parsed[1]


def query_id(value: str, type_name: str, argument: str) -> int:
    """decode_id for a query argument: a top-level BAD_USER_INPUT error instead of a userError."""
    try:
        return decode_id(value, type_name, argument)
    except DomainError as exc:
        raise bad_input(exc.message, [argument]) from None


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def page(first: int | None, after: str | None) -> Page:
    """Validate `first`/`after` (DECISIONS.md 6): a bad value is a top-level BAD_USER_INPUT error."""
    limit = 20 if first is None else first
    if limit < 0 or limit > MAX_PAGE_SIZE:
        raise bad_input(f"`first` must be between 0 and {MAX_PAGE_SIZE}.", ["first"])
    offset = 0 if after is None else decode_cursor(after) + 1
    return Page(offset, limit)


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    prefix, _, position = raw.partition(":")
    if prefix != "cursor" or not position.isdigit() or len(position) > 9:
        raise bad_input("`after` is not a cursor from this connection.", ["after"])
    return int(position)


def page_info(p: Page, count: int, total: int) -> PageInfo:
    return PageInfo(
        has_next_page=p.offset + count < total,
        has_previous_page=p.offset > 0,
        start_cursor=encode_cursor(p.offset) if count else None,
        end_cursor=encode_cursor(p.offset + count - 1) if count else None,
    )


def connection(
    cls: Callable[..., C], edge: Callable[..., Any], node: Callable[[R], Any], rows: Sequence[R], p: Page, total: int
) -> C:
    """A connection of one page: each row wrapped as a node, its cursor its position in the whole list."""
    edges = [edge(node=node(row), cursor=encode_cursor(p.offset + i)) for i, row in enumerate(rows)]
    return cls(edges=edges, page_info=page_info(p, len(rows), total), total_count=total)
