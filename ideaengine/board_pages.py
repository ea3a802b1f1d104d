"""A board's page of ideas, with their figures, in one prepared statement (on PostgreSQL, on its driver).

The page every visitor of a board reads is the engine's most common read, and on a busy board the response
cache keeps it only by running its reads again (every vote changes the data version: `platform.replay`): one
statement to run again, whose rows serve the page when they changed. Through the ORM it was four statements and
most of its CPU: SQLAlchemy's execution and loading cost 5 ms of the page's 12.8 (profiled on a 10,000-idea
board), where the driver runs the same reads in 0.5. So the page of one board without filters (what a board
shows first) is one statement built once per shape: its window chosen on narrow rows, as `queries.pages` does,
then those rows read whole with their score rows and the board's refresh, each figure as `scores.Stored` has
it. The rules are the same expressions `ideas.list_boards` uses (visibility, default statuses, sort keys,
cursors): only how it runs differs. On SQLite the same statement runs through the session (Core: one
statement where the ORM's loading took three, 95 to 141 uncached pages a second). Anything else (filters,
several boards) goes through `ideas.list_boards`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, ideas, scores, visibility
from ideaengine.ideas import IdeaFilter, IdeaSort
from ideaengine.identity import Actor
from ideaengine.platform import driver
from ideaengine.platform.models import SCORED, Board, BoardScore, Idea, IdeaScore
from ideaengine.platform.queries import Page, SortKey, Window, beyond, finish

_UNFILTERED = IdeaFilter()


@dataclass
class IdeaPage(Page[Idea]):
    """A page of ideas that brings its ideas' figures along, for the page's `score` fields to find loaded."""

    scores: dict[int, scores.Stored] = field(default_factory=dict)


async def list_boards(
    session: AsyncSession, actor: Actor, board_ids: Sequence[int], sort: IdeaSort, f: IdeaFilter, window: Window
) -> dict[int, Page[Idea]]:
    """`ideas.list_boards`, in one prepared statement for one board's unfiltered list (`driver.Prepared.read`)."""
    if len(board_ids) != 1 or f != _UNFILTERED:
        return await ideas.list_boards(session, actor, board_ids, sort, f, window)
    board_id = board_ids[0]
    shape = _statements(sort, window.after is not None, window.before is not None, window.backward)
    params: dict[str, Any] = {
        "board": board_id,
        "size": window.size + 1,
        "reader_workspace": boards.reader_params(actor).get("reader_workspace"),
        **visibility.params(actor),
    }
    for name, key in (("after", window.after), ("before", window.before)):
        for n, value in enumerate(key or ()):
            params[f"{name}_{n}"] = value
    page = IdeaPage()
    if window.counted:
        page.total = int((await shape.count.read(session, params))[0][0])
    widths = _WIDTHS
    refresh: BoardScore | None = None
    for row in await shape.page.read(session, params):
        idea = driver.detached(Idea, row[: widths[0]])
        at = widths[0]
        score = None if row[at] is None else driver.detached(IdeaScore, row[at : at + widths[1]])
        at += widths[1]
        if refresh is None and row[at] is not None:  # the board's: the same on every row
            refresh = driver.detached(BoardScore, row[at : at + widths[2]])
        at += widths[2]
        page.rows.append(idea)
        page.scores[idea.id] = scores.Stored(score, refresh, bool(row[at]))
        page.keys.append(tuple(row[at + 1 :]))
    finish(page, window)
    return {board_id: page}


_WIDTHS = tuple(len(driver.loaded_columns(entity)) for entity in (Idea, IdeaScore, BoardScore))


@dataclass(frozen=True)
class _Statements:
    page: driver.Prepared
    count: driver.Prepared


@functools.cache
def _statements(sort: IdeaSort, after: bool, before: bool, backward: bool) -> _Statements:
    """The page's statements for one shape of window, built and compiled once. The reader's workspace and
    moderation rights are parameters (None matches nothing), so one statement serves every reader."""
    order = ideas.sort_keys(sort)
    listed = _listed()
    if sort in ideas.SCORED_SORTS:
        listed = ideas.with_score_rows(listed)
    bounded = listed
    if after:
        bounded = bounded.where(beyond(order, _key("after", order), later=True))
    if before:
        bounded = bounded.where(beyond(order, _key("before", order), later=False))
    ordering = [s.order(backward) for s in order]
    keys = [s.column.label(f"sort_key_{n}") for n, s in enumerate(order)]
    chosen = (
        bounded.with_only_columns(Idea.id.label("chosen_id"), *keys, maintain_column_froms=True)
        .order_by(*ordering)
        .limit(bindparam("size"))
        .subquery("chosen")
    )
    chosen_keys = [chosen.c[f"sort_key_{n}"] for n in range(len(order))]
    page = (
        select(
            *driver.loaded_columns(Idea),
            *driver.loaded_columns(IdeaScore),
            *driver.loaded_columns(BoardScore),
            scores.behind(bindparam("board")),  # one board: once a statement, not once a row
            *chosen_keys,
        )
        .select_from(chosen)
        .join(Idea, Idea.id == chosen.c.chosen_id)
        .outerjoin(IdeaScore, and_(IdeaScore.idea_id == Idea.id, SCORED))
        .outerjoin(BoardScore, BoardScore.board_id == Idea.board_id)
        .order_by(*(SortKey(key, s.descending).order(backward) for s, key in zip(order, chosen_keys, strict=True)))
    )
    count = listed.with_only_columns(func.count(), maintain_column_froms=True)
    return _Statements(driver.Prepared(page), driver.Prepared(count))


def _listed() -> Select[Any]:
    """One board's ideas that a reader (its rights as parameters) sees without a status filter."""
    return (
        select(Idea)
        .join(Board, Board.id == Idea.board_id)
        .where(
            Idea.board_id == bindparam("board"),
            boards.visible_to_reader(bound=True),
            visibility.ideas_bound(),
            ideas.listed_by_default(),
        )
    )


def _key(name: str, order: Sequence[SortKey]) -> tuple[Any, ...]:
    return tuple(bindparam(f"{name}_{n}", type_=s.column.type) for n, s in enumerate(order))
