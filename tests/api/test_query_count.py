"""A page of ideas with authors, tallies, scores, viewer votes and follows costs a constant number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id, vote

PAGE = """{ board(workspace: "acme", slug: "ideas") { ideas(first: 100) { totalCount edges { node {
    id title tags author { name externalId } votes { up down } viewerVote viewerFollows viewerCanEdit
    followerCount status statusHistory { to } board { slug }
    score { wilsonLowerBound rank stale } } } } } }"""


def engines(services: Any) -> list[Engine]:
    """Where statements run: the engine, and on PostgreSQL the read engine with its own pool."""
    engine, reads = services.db.engine.sync_engine, services.db.read_engine.sync_engine
    return [engine] if reads.pool is engine.pool else [engine, reads]


@pytest.fixture
def statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(statement)

    for engine in engines(services):
        event.listen(engine, "before_cursor_execute", record)
    yield seen
    for engine in engines(services):
        event.remove(engine, "before_cursor_execute", record)


async def count_for_page(api: Api, auth: str | None, statements: list[str]) -> int:
    statements.clear()
    body = await api(PAGE, auth=auth)
    assert body["data"]["board"]["ideas"]["edges"]
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


async def test_page_of_ideas_costs_the_same_queries_for_3_or_60_ideas(
    api: Api, ws: Workspace, statements: list[str]
) -> None:
    board = await create_board(api, ws.api_key)
    authors = [ws.token(f"author{n}") for n in range(6)]
    viewer = ws.token("viewer")
    for n in range(3):
        await vote(api, viewer, await idea_id(api, authors[n], board, f"Idea number {n}", tags=["x"]), "UP")
    small = await count_for_page(api, viewer, statements)
    for n in range(3, 60):
        target = await idea_id(api, authors[n % 6], board, f"Idea number {n}", tags=["x", f"t{n}"])
        if n % 2:
            await vote(api, viewer, target, "DOWN")
    large = await count_for_page(api, viewer, statements)
    assert large == small, (small, large)
    assert large <= 15, large


async def test_a_known_users_read_takes_no_write_lock(
    api: Api, ws: Workspace, statements: list[str], database_url: str
) -> None:
    """Identity is read in a read session; only a first (or changed) token provisions in a write transaction."""
    alice = ws.token("alice")
    await api("{ viewer { role } }", auth=alice)  # provisions alice
    statements.clear()
    body = await api("{ viewer { role user { name } } }", auth=alice)
    assert body["data"]["viewer"] == {"role": "MEMBER", "user": {"name": "Alice"}}
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE"))]
    assert writes == []
    statements.clear()
    await api("{ viewer { role } }", auth=ws.token("alice", name="Alice Liddell"))  # a changed name is written
    assert any(s.lstrip().upper().startswith("UPDATE USERS") for s in statements)


async def test_a_page_of_ideas_reads_through_one_pooled_connection_without_begin(
    api: Api, ws: Workspace, services: Any, statements: list[str]
) -> None:
    """One checkout per request, not one per DataLoader batch; reads run in autocommit (no BEGIN/ROLLBACK)."""
    board = await create_board(api, ws.api_key)
    for n in range(3):
        await idea_id(api, ws.token(f"author{n}"), board, f"Idea number {n}", tags=["x"])
    pool = services.db.read_engine.sync_engine.pool
    checkouts: list[object] = []

    def checkout(*args: Any) -> None:
        checkouts.append(args)

    event.listen(pool, "checkout", checkout)
    statements.clear()
    try:
        body = await api(PAGE)  # anonymous: no identity lookup before the page's reads
    finally:
        event.remove(pool, "checkout", checkout)
    assert len(body["data"]["board"]["ideas"]["edges"]) == 3
    assert len(checkouts) == 1
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # board, count, page, then one batch each: scores, tags, authors, status history, boards
    assert len(selects) == 8
    assert [s for s in statements if s.strip().upper() in ("BEGIN", "ROLLBACK")] == []
