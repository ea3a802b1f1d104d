"""Closing the database (`Database.dispose`, a server shutting down) with a read still holding a connection: the
connection goes back to a pool that closes it, never left to the garbage collector (which would close it without
a word to the server and warn of an unclosed connection)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

from sqlalchemy import text


async def test_a_read_under_way_at_dispose_hands_its_connection_back_to_be_closed(services: Any) -> None:
    db = services.db
    session = db.reader()
    await session.execute(text("SELECT 1"))  # holds a connection of the read pool
    closing = asyncio.create_task(db.dispose())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waits for the read to end
    await session.close()
    await asyncio.wait_for(closing, 5)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in seen if issubclass(w.category, ResourceWarning)] == []
    assert db.read_engine.sync_engine.pool.checkedout() == 0
