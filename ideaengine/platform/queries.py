"""Shared query helpers: keyset paging that behaves the same on SQLite and PostgreSQL, and LIKE patterns.

A list is read by its order's key, not by an offset: a page starts strictly after (or before) the
key of the row a cursor came from, so rows inserted or removed elsewhere never shift it. Pages of
many parents (the comments of a page of ideas) are read in one query with ROW_NUMBER per parent.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.types import TypeDecorator

from ideaengine.platform import ids

T = TypeVar("T")

MAX_PAGE_SIZE = 100
"`first` or `last` above this is refused (the contract's connection rule)."
DEFAULT_PAGE_SIZE = 20
INT_MIN = -(2**31)
"The least 32-bit integer: with ids.PK_MAX, the range of an integer key in a cursor."

Column = ColumnElement[Any] | InstrumentedAttribute[Any]
Key = tuple[Any, ...]
"A row's position in its list: the values of its order's columns."


@dataclass(frozen=True)
class SortKey:
    """One column of a list's order. It must never be NULL (coalesce a nullable column to a neutral
    value), so NULL placement, which differs between SQLite and PostgreSQL, never matters."""

    column: Column
    descending: bool = False

    def order(self, reverse: bool = False) -> ColumnElement[Any]:
        """Its ORDER BY term; `reverse` reads the list from the other end (a backward page)."""
        return self.column.desc() if self.descending != reverse else self.column.asc()


@dataclass(frozen=True)
class Window:
    """Which part of an ordered list to read: rows strictly after `after` and strictly before `before`,
    the first `size` of them, or the last `size` when `backward`."""

    size: int = DEFAULT_PAGE_SIZE
    backward: bool = False
    after: Key | None = None
    before: Key | None = None
    counted: bool = True
    "Whether the list's total is wanted: counting a long list costs a scan of it, so a page that does not show\n"
    "its total (`totalCount`) is read without (`Page.total` stays 0)."
    cursors: bool = True
    "Whether each row's cursor is wanted, or only the first's and last's (a page's `pageInfo`)."


@dataclass
class Page(Generic[T]):
    rows: list[T] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    "Each row's key, for its cursor."
    more: bool = False
    "Rows exist beyond the window's far end (after the last row; before the first when backward)."
    total: int = 0
    "Rows in the whole list, whatever the window (when the window is `counted`)."


def beyond(order: Sequence[SortKey], key: Sequence[Any], later: bool) -> ColumnElement[bool]:
    """Rows strictly later (or earlier) than `key` in `order`: (a > x) or (a = x and b > y) or ..."""
    ties: list[ColumnElement[bool]] = []
    branches: list[ColumnElement[bool]] = []
    for sort, value in zip(order, key, strict=True):
        greater = later != sort.descending
        branches.append(and_(*ties, sort.column > value if greater else sort.column < value))
        ties.append(sort.column == value)
    return or_(*branches)


async def pages(
    session: AsyncSession,
    stmt: Select[Any],
    parent: Column,
    parents: Sequence[Hashable],
    order: Sequence[SortKey],
    window: Window,
) -> dict[Any, Page[Any]]:
    """One window of the list `stmt` (one entity, filtered) for each parent, and each list's total.

    Two statements whatever the number of parents: the totals, grouped by parent, and the rows (a plain
    ORDER BY ... LIMIT for one parent, which lets the database stop early; ROW_NUMBER over each parent
    for several)."""
    out: dict[Any, Page[Any]] = {p: Page() for p in parents}
    if not parents:
        return out
    scoped = stmt.where(parent == parents[0]) if len(parents) == 1 else stmt.where(parent.in_(list(parents)))
    if window.counted:
        counted = scoped.with_only_columns(parent, func.count(), maintain_column_froms=True).group_by(parent)
        for p, total in await session.execute(counted):
            out[p].total = int(total)
    bounded = scoped
    if window.after is not None:
        bounded = bounded.where(beyond(order, window.after, later=True))
    if window.before is not None:
        bounded = bounded.where(beyond(order, window.before, later=False))
    ordering = [s.order(window.backward) for s in order]
    keys = [s.column.label(f"sort_key_{n}") for n, s in enumerate(order)]
    n_keys = len(keys)
    entity = stmt.column_descriptions[0]["entity"]
    if len(parents) == 1:
        # The window is chosen on narrow rows (the key and the sort keys), then only its rows are read whole:
        # a long list's sort carried every column of every row (a 10,000-idea board's TOP page: 24 ms of the
        # database's time; 7 ms so). Two statements, as a subquery joined back cost more Python than a round
        # trip on a short list.
        mapper = sa_inspect(entity)
        identity = mapper.primary_key[0]
        attribute = mapper.get_property_by_column(identity).key
        narrow = bounded.with_only_columns(identity, parent, *keys, maintain_column_froms=True)
        chosen = (await session.execute(narrow.order_by(*ordering).limit(window.size + 1))).all()
        wanted = [row[0] for row in chosen]
        whole = await session.execute(select(entity).where(identity.in_(wanted))) if wanted else None
        by_id = {getattr(row, attribute): row for row in whole.scalars()} if whole is not None else {}
        found = out[parents[0]]
        for row in chosen:
            found.rows.append(by_id[row[0]])
            found.keys.append(tuple(row[2 : 2 + n_keys]))
        return _finished(out, window)
    row_no = func.row_number().over(partition_by=parent, order_by=ordering).label("row_no")
    sub = bounded.add_columns(parent.label("parent_key"), *keys, row_no).subquery()
    key_columns = [sub.c[f"sort_key_{n}"] for n in range(n_keys)]
    query = (
        select(aliased(entity, sub), sub.c.parent_key, *key_columns)
        .where(sub.c.row_no <= window.size + 1)
        .order_by(sub.c.parent_key, sub.c.row_no)
    )
    for row in await session.execute(query):
        found = out[row[1]]
        found.rows.append(row[0])
        found.keys.append(tuple(row[2 : 2 + n_keys]))
    return _finished(out, window)


def _finished(out: dict[Any, Page[Any]], window: Window) -> dict[Any, Page[Any]]:
    for found in out.values():
        finish(found, window)
    return out


def finish(found: Page[Any], window: Window) -> None:
    """A page cut to its window (one row more was read, to tell whether there are more), in list order."""
    found.more = len(found.rows) > window.size
    del found.rows[window.size :], found.keys[window.size :]
    if window.backward:
        found.rows.reverse()
        found.keys.reverse()


@functools.lru_cache(maxsize=1024)
def _binding(scope: str) -> str:
    """A short digest of what a cursor's list is (which list, parent, sort and filters)."""
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def encode_cursor(scope: str, key: Key) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    return ids.encode_text(json.dumps([_binding(scope), *values], separators=(",", ":")))


def decode_cursor(cursor: str, scope: str, order: Sequence[SortKey]) -> Key | None:
    """The key behind a cursor of this very list (same scope), or None for anything else."""
    raw = ids.decode_text(cursor)
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(data, list) or len(data) != len(order) + 1 or data[0] != _binding(scope):
        return None
    key = [_value(_kind(sort.column), v) for sort, v in zip(order, data[1:], strict=True)]
    return None if any(v is None for v in key) else tuple(key)


def _kind(column: Column) -> type:
    """The Python type of a key column (a TypeDecorator's is its implementation's)."""
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    return sql_type.python_type


def _value(kind: type, value: object) -> object:
    if kind is datetime:
        try:
            at = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
        return at if at is not None and at.tzinfo is not None else None
    if isinstance(value, bool):
        return None
    if kind is float and isinstance(value, int | float):
        return float(value)
    if kind is int and isinstance(value, int):
        # Key columns are 32-bit: a larger number was never issued, and SQLite (past 64 bits) and PostgreSQL
        # (past 32) refuse to compare with it.
        return value if INT_MIN <= value <= ids.PK_MAX else None
    return None


def like_pattern(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, with LIKE's wildcards escaped (use escape='\\\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def lock_in_order(
    session: AsyncSession, id_column: InstrumentedAttribute[int], *where: ColumnElement[bool]
) -> None:
    """Row-lock what a set-based UPDATE is about to change, in ascending id order, before it runs: one UPDATE
    locks rows in whatever order its scan meets them, and a merge locking two of them in id order could then
    wait on it while it waits on the merge (DECISIONS: every write locks rows in ascending id order). FOR NO
    KEY UPDATE, as `ideas.lock_many`; SQLite has one writer and ignores it."""
    await session.execute(select(id_column).where(*where).order_by(id_column).with_for_update(key_share=True))
