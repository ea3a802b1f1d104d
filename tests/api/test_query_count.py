"""A page of ideas with authors, tallies, scores, viewer votes and follows costs a constant number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id, vote

PAGE = """{ board(workspace: "acme", slug: "ideas") { ideas(first: 100) { totalCount edges { node {
    id title tags author { name externalId } votes { up down } viewerVote viewerFollows viewerCanEdit
    followerCount status statusHistory { to } board { slug }
    score { wilsonLowerBound rank stale } } } } } }"""


@pytest.fixture
def statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(statement)

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def count_for_page(api: Api, auth: str, statements: list[str]) -> int:
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
