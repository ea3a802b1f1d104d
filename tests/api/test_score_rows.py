"""Every idea has its score row from the moment it is inserted (migration 0018's trigger, whoever inserts it),
so the scored sorts list every idea, and on PostgreSQL a big board's TOP page reads its index and stops early
instead of sorting the whole board (issue 18: the page within 3x of `{__typename}` under a stream of votes)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text

from ideaengine.platform.models import Idea, IdeaStatus, ModerationState, utcnow
from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import board_ideas, create_board, idea_id

SCORE_ROW = "SELECT computed_seq, computed_at, wilson_lower_bound, elo FROM idea_scores WHERE idea_id = :id"


async def test_an_idea_inserted_by_any_path_has_its_score_row_and_every_scored_sort_lists_it(
    api: Api, ws: Workspace, services: Services
) -> None:
    await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), (await board_ideas_board(api)), "Submitted through the API")
    async with services.db.write() as session:
        board_id = (await session.execute(text("SELECT id FROM boards"))).scalar_one()
        author_id = (await session.execute(text("SELECT min(id) FROM users"))).scalar_one()
        now = utcnow()
        inserted = Idea(  # as an import or a bulk load would: not through ideas.submit_idea
            board_id=board_id,
            author_id=author_id,
            title="Inserted directly",
            body="",
            search_text="inserted directly",
            status=IdeaStatus.SUBMITTED,
            moderation_state=ModerationState.VISIBLE,
            created_at=now,
            updated_at=now,
            follower_count=0,
        )
        session.add(inserted)
        await session.flush()
        ids = (await session.execute(text("SELECT id FROM ideas ORDER BY id"))).scalars().all()
        rows = [(await session.execute(text(SCORE_ROW), {"id": i})).one_or_none() for i in ids]
    assert len(ids) == 2 and None not in rows, rows  # the API's idea may have been refreshed since
    inserted_row = rows[1]
    assert inserted_row is not None and tuple(inserted_row) == (
        -1,
        None,
        0.0,
        1500.0,
    )  # no figures yet, and the neutral ones
    for sort in ("TOP", "TRENDING", "PAIRWISE", "ELO"):
        listed = await board_ideas(api, None, f"first: 10, sort: {sort}")
        titles = {e["node"]["title"] for e in listed["edges"]}
        assert titles == {"Submitted through the API", "Inserted directly"}, sort
        assert listed["totalCount"] == 2, sort


async def board_ideas_board(api: Api) -> str:
    found = await api('{ board(workspace: "acme", slug: "ideas") { id } }')
    return str(found["data"]["board"]["id"])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_big_boards_top_page_reads_the_top_index_and_stops_early(
    api: Api, ws: Workspace, services: Services
) -> None:
    await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), await board_ideas_board(api), "The first idea")
    async with services.db.write() as session:
        await session.execute(
            text(
                "INSERT INTO ideas (board_id, author_id, title, body, search_text, status, up_count, down_count, "
                "follower_count, moderation_state, trending, created_at, updated_at, finalist) "
                "SELECT i.board_id, i.author_id, 'Idea ' || n, '', 'idea ' || n, 'SUBMITTED', 0, 0, 0, 'VISIBLE', "
                "0, i.created_at + n * interval '1 second', i.created_at, false "
                "FROM ideas i, generate_series(1, 5000) n"
            )
        )
        await session.execute(
            text("UPDATE idea_scores SET wilson_lower_bound = (idea_id % 97) / 100.0, computed_seq = 0")
        )
    async with services.db.write() as session:
        await session.execute(text("ANALYZE ideas"))
        await session.execute(text("ANALYZE idea_scores"))
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "LIMIT" in statement and "idea_scores" in statement:
            seen.append((statement, parameters))

    engine = services.db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = await board_ideas(api, None, "first: 20, sort: TOP", "title score { wilsonLowerBound }")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    figures = [e["node"]["score"]["wilsonLowerBound"] for e in page["edges"]]
    assert len(figures) == 20 and figures == sorted(figures, reverse=True) and figures[0] == 0.96
    [(statement, parameters)] = seen
    async with services.db.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        plan = "\n".join(r[0] for r in await driver.fetch("EXPLAIN " + statement, *parameters))
    assert "ix_idea_scores_top" in plan, plan
    assert " Sort " not in plan and "Sort Key" not in plan, plan  # the index's order: no sort of the board
