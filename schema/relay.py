"""Relay plumbing: opaque global ids, the Node interface, and keyset connections in both directions.

Connections are strawberry's generic `relay.Connection`/`Edge`/`PageInfo`, subclassed to keep the
contract's `totalCount` and type names; global ids keep their own format (not strawberry's GlobalID).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry
from graphql import VariableNode
from strawberry import relay as strawberry_relay
from strawberry.dataloader import DataLoader
from strawberry.types.nodes import SelectedField, Selection

from ideaengine.errors import DomainError, ErrorCode
from ideaengine.platform import ids
from ideaengine.platform.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, SortKey, Window, decode_cursor
from ideaengine.platform.queries import encode_cursor as _encode_cursor
from schema.context import Info
from schema.errors import bad_input, query_error

NodeT = TypeVar("NodeT")
R = TypeVar("R")
K = TypeVar("K")
C = TypeVar("C", bound="Connection[Any]")

NODE_TYPES = ("Board", "Idea", "User", "Comment", "Notification", "Campaign")
"Types `node(id:)` resolves; other global ids (Webhook) are valid ids but not nodes."

Last = Annotated[
    int | None,
    strawberry.argument(description="Page backwards: the last n items (before `before`), in place of `first`."),
]
Before = Annotated[str | None, strawberry.argument(description="A cursor of this list: items before it.")]

PageInfo = strawberry_relay.PageInfo
Edge = strawberry_relay.Edge


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    @strawberry.field(description="Opaque global id; pass it to `node(id:)`.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # every node type resolves its own


if TYPE_CHECKING:
    # strawberry's Connection binds its node type to strawberry's own Node (with GlobalID ids), which ours
    # deliberately is not (ids keep their format); the checker sees the same fields without that bound.
    class Connection(Generic[NodeT]):
        edges: list[Edge[Any]]
        page_info: PageInfo
        total_count: int

        def __init__(self, *, edges: list[Edge[Any]], page_info: PageInfo, total_count: int) -> None: ...

else:

    @strawberry.type(description="A page of a list, with where it sits and the list's size.")
    class Connection(strawberry_relay.Connection[NodeT]):
        total_count: int = strawberry.field(description="Items in the whole list, whatever the page.")


def encode_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(ids.global_id(type_name, pk))


def parse_id(value: str) -> tuple[str, int] | None:
    """(type, pk) of a node's global id, or None when it is not one of ours."""
    parsed = ids.parse_global_id(value)
    return parsed if parsed is not None and parsed[0] in NODE_TYPES else None


def decode_id(value: str, type_name: str, field: str | Sequence[str]) -> int:
    """The primary key behind a global id of `type_name`; a wrong or malformed id is INVALID."""
    parsed = ids.parse_global_id(value)
    if parsed is None or parsed[0] != type_name:
        raise DomainError(ErrorCode.INVALID, f"Not a valid {type_name} id.", field)
    return parsed[1]


def query_id(value: str, type_name: str, argument: str) -> int:
    """decode_id for a query argument: a top-level BAD_USER_INPUT error instead of a userError."""
    try:
        return decode_id(value, type_name, argument)
    except DomainError as exc:
        raise bad_input(exc.message, [argument]) from None


def window(
    info: Info,
    scope: str,
    order: Sequence[SortKey],
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Window:
    """Validate a connection's `first`/`after`/`last`/`before` (DECISIONS.md 6) into the window to read.

    `scope` names the list (its parent, sort and filters): a cursor from any other list is refused.
    `last` pages backwards and replaces `first`'s default; giving both explicitly is refused."""
    if last is not None:
        if first is not None and _given(info, "first"):
            raise bad_input("Pass `first` or `last`, not both.", ["last"])
        size, argument = last, "last"
    else:
        size, argument = (DEFAULT_PAGE_SIZE if first is None else first), "first"
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise bad_input(f"`{argument}` must be between 0 and {MAX_PAGE_SIZE}.", [argument])
    return Window(
        size=size,
        backward=last is not None,
        after=_key(after, "after", scope, order),
        before=_key(before, "before", scope, order),
        counted=any(field.name == "totalCount" for c in info.selected_fields for field in _fields(c.selections)),
        cursors=any(
            field.name == "edges" and any(edge.name == "cursor" for edge in _fields(field.selections))
            for c in info.selected_fields
            for field in _fields(c.selections)
        ),
    )


def _key(cursor: str | None, argument: str, scope: str, order: Sequence[SortKey]) -> tuple[Any, ...] | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor, scope, order)
    if key is None:
        raise bad_input(
            f"`{argument}` is not a cursor of this list (a cursor is only valid for the list, sort and "
            "filters it came from).",
            [argument],
        )
    return key


def _given(info: Info, argument: str) -> bool:
    """Whether the query itself set `argument`, rather than the schema's default."""
    for node in info._raw_info.field_nodes:
        for arg in node.arguments or ():
            if arg.name.value == argument:
                if isinstance(arg.value, VariableNode):
                    return arg.value.name.value in info.variable_values
                return True
    return False


async def load_page(loader: DataLoader[K, Page[R]], key: K) -> Page[R]:
    """A nested list's page from its per-parent loader; a DomainError (a bad filter) is a top-level error."""
    try:
        return await loader.load(key)
    except DomainError as exc:
        raise query_error(exc) from None


def connection(cls: type[C], scope: str, window: Window, page: Page[R], node: Callable[[R], Any]) -> C:
    """A connection of one window: each row wrapped as a node, its cursor its key in the list. A query that
    asks no edge's cursor gets only the first's and last's encoded, for `pageInfo` (the others are never sent;
    encoding them was a twentieth of a top-20 page's CPU)."""
    keys = page.keys
    if window.cursors or len(keys) < 3:
        cursors = [_encode_cursor(scope, key) for key in keys]
    else:
        cursors = [_encode_cursor(scope, keys[0]), *[""] * (len(keys) - 2), _encode_cursor(scope, keys[-1])]
    edges = [Edge(node=node(row), cursor=cursor) for row, cursor in zip(page.rows, cursors, strict=True)]
    info = PageInfo(
        has_next_page=window.before is not None if window.backward else page.more,
        has_previous_page=page.more if window.backward else window.after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
    return cls(edges=edges, page_info=info, total_count=page.total)


def scope(*parts: object) -> str:
    """What a list is (its field, parent, sort and filters), to bind its cursors to it."""
    return json.dumps(parts, default=str, separators=(",", ":"))


def node_fields(info: Info) -> set[str]:
    """The fields a connection's query asks of its nodes (`edges { node { ... } }`, fragments included), for
    a list to load what its items will need in one go."""
    found: set[str] = set()
    for connection in info.selected_fields:
        for edges in _fields(connection.selections):
            if edges.name == "edges":
                for node in _fields(edges.selections):
                    if node.name == "node":
                        found.update(field.name for field in _fields(node.selections))
    return found


def _fields(selections: Sequence[Selection]) -> Iterator[SelectedField]:
    """Fields of a selection set, looking through fragments and inline fragments."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)
