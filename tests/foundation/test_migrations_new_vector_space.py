"""Revisions 0019 (integer embeddings) and 0021 (exact integer products) forget every stored vector, both ways,
on both databases: vectors of the float run must never meet a draft embedded by the integer run, nor vectors a
CPU without VNNI computed on saturating kernels a draft embedded exactly (or the other way round after a
downgrade). The next index build embeds the ideas again, and meanwhile "did you mean" still answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ideaengine.platform import migrate
from tests.api.conftest import Api, Workspace
from tests.api.ops import board_of_reports_and_theme, idea_id, quiesce, similar_titles


async def _stored(url: str) -> tuple[int, int]:
    """(ideas with a vector, board index rows)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            vectors = (await conn.execute(text("SELECT count(*) FROM ideas WHERE embedding IS NOT NULL"))).scalar()
            indexes = (await conn.execute(text("SELECT count(*) FROM board_indexes"))).scalar()
    finally:
        await engine.dispose()
    return int(vectors or 0), int(indexes or 0)


@pytest.mark.usefixtures("semantic")
@pytest.mark.parametrize(
    ("revision", "before"),
    [("0019_integer_embeddings", "0018_score_rows"), ("0021_exact_integer_embeddings", "0020_index_payload_last")],
)
async def test_a_new_vector_space_forgets_stored_vectors_both_ways(
    api: Api, ws: Workspace, services: Any, database_url: str, revision: str, before: str
) -> None:
    board = await board_of_reports_and_theme(api, ws, services)  # the index build embeds both ideas
    await quiesce(services)
    assert await _stored(database_url) == (2, 1)
    assert (await similar_titles(api, board))[:1] == ["Export reports to CSV"]

    await asyncio.to_thread(migrate.downgrade, database_url, before)
    assert await _stored(database_url) == (0, 0)
    await idea_id(api, ws.token("bob"), board, "Add SSO login with Okta")
    await quiesce(services)
    assert await _stored(database_url) == (3, 1)

    await asyncio.to_thread(migrate.upgrade, database_url, revision)
    assert await _stored(database_url) == (0, 0)
    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    assert (await similar_titles(api, board))[:1] == ["Export reports to CSV"]  # matched per request meanwhile
