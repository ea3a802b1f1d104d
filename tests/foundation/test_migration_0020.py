"""Revision 0020 puts a board index's payload last in its row on SQLite, where every lookup reads the columns
before it (SQLite walks a large value's overflow pages to reach a column after it); PostgreSQL keeps its order.
Both ways the stored index is kept, and "did you mean" answers from it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ideaengine.platform import migrate
from tests.api.conftest import Api, Workspace
from tests.api.ops import board_of_reports_and_theme, quiesce, similar_titles


async def _stored(url: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The board_indexes columns in table order, and each row's small columns with its payload's size."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda c: [col["name"] for col in inspect(c).get_columns("board_indexes")])
            small = "board_id, text_seq, max_idea_id, format_version, built_at"
            rows = await conn.execute(text(f"SELECT {small}, length(payload) FROM board_indexes"))
            return columns, [tuple(r) for r in rows]
    finally:
        await engine.dispose()


async def test_revision_0020_puts_the_payload_last_on_sqlite_and_keeps_the_index(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    # At 0020 itself: the revisions after it forget stored indexes, which this one keeps.
    await asyncio.to_thread(migrate.downgrade, database_url, "0020_index_payload_last")
    board = await board_of_reports_and_theme(api, ws, services)
    await quiesce(services)
    columns, rows = await _stored(database_url)
    assert len(rows) == 1 and rows[0][-1] > 0
    sqlite = database_url.startswith("sqlite")
    if sqlite:
        assert columns[-1] == "payload"

    await asyncio.to_thread(migrate.downgrade, database_url, "0019_integer_embeddings")
    old_columns, old_rows = await _stored(database_url)
    assert old_rows == rows
    assert old_columns[-2:] == ["payload", "built_at"] if sqlite else old_columns == columns

    await asyncio.to_thread(migrate.upgrade, database_url, "0020_index_payload_last")
    assert await _stored(database_url) == (columns, rows)
    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    assert (await similar_titles(api, board))[:1] == ["Export reports to CSV"]
