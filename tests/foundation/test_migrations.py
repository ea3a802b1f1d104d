"""The same migrations run on SQLite and PostgreSQL, forwards, backwards and forwards again."""

from __future__ import annotations

import asyncio
import pickle
from datetime import datetime
from typing import Any

from sqlalchemy import column, func, inspect, select, table, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import ranking
from ideaengine import scores, sweep
from ideaengine.duplicates import StoredIndex
from ideaengine.platform import migrate
from ideaengine.platform.models import Base, Board, BoardIndex, Idea
from ideaengine.platform.models import Workspace as WorkspaceRow
from schema import relay
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, idea, idea_id, quiesce
from tests.conftest import in_process

OLD_INDEX_COLUMNS = ["board_id", "text_seq", "max_idea_id", "payload", "built_at"]
"board_indexes before revision 0004, which stored a pickle in `payload`."


def table_names(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_downgrade_upgrade_leaves_every_table(database_url: str) -> None:
    expected = set(Base.metadata.tables) | {"alembic_version"}
    assert table_names(database_url) == expected  # the fixture's database is migrated to head
    migrate.downgrade(database_url, "base")
    assert table_names(database_url) == {"alembic_version"}
    migrate.upgrade(database_url, "head")
    assert table_names(database_url) == expected
    assert asyncio.run(migrate.is_current(database_url))


def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate finds nothing to add: the migration creates exactly what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    async def diff() -> list[object]:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []


async def _index_table(url: str, *statements: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run statements, then read board_indexes' columns and rows, on an engine of its own (no models)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(statement)
            columns = await conn.run_sync(lambda c: [col["name"] for col in inspect(c).get_columns("board_indexes")])
            rows = (await conn.execute(text("SELECT board_id, text_seq FROM board_indexes"))).all()
    finally:
        await engine.dispose()
    return columns, [tuple(r) for r in rows]


async def test_revision_0004_empties_board_indexes_both_ways_and_the_sweep_rebuilds_them(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    """No pickle is loaded after the upgrade, and the code before it never meets the arrays it cannot read."""
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await in_process(services).drain()
    async with services.db.read() as session:
        board_pk = (await session.execute(select(Board.id))).scalar_one()
    columns, rows = await _index_table(database_url)
    head = [*OLD_INDEX_COLUMNS[:3], "format_version", *OLD_INDEX_COLUMNS[3:]]
    if database_url.startswith("sqlite"):
        head = [*OLD_INDEX_COLUMNS[:3], "format_version", "built_at", "payload"]  # revision 0020: the payload last
    assert (columns, rows) == (head, [(board_pk, 1)])
    await quiesce(services)

    await asyncio.to_thread(migrate.downgrade, database_url, "0003_score_seqs")
    assert await _index_table(database_url) == (OLD_INDEX_COLUMNS, [])
    old = table("board_indexes", *(column(name) for name in OLD_INDEX_COLUMNS))
    pickled = old.insert().values(
        board_id=board_pk,
        text_seq=1,
        max_idea_id=1,
        payload=pickle.dumps({"as": "0002 stored it"}),
        built_at=datetime(2026, 11, 30),
    )
    assert await _index_table(database_url, pickled) == (OLD_INDEX_COLUMNS, [(board_pk, 1)])

    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    columns, rows = await _index_table(database_url)
    assert "format_version" in columns and rows == []
    async with services.db.read() as session:
        assert await scores.stale_boards(session) == ([], [board_pk])
    assert await sweep.sweep(services.db, services.queue) == 1
    await in_process(services).drain()
    async with services.db.read() as session:
        row = (await session.execute(select(BoardIndex))).scalar_one()
    assert (row.board_id, row.text_seq, row.format_version) == (board_pk, 1, ranking.INDEX_FORMAT)
    assert [len(StoredIndex.from_bytes(row.payload).idea_ids)] == [1]


async def _columns(url: str, table_name: str) -> list[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: [col["name"] for col in inspect(c).get_columns(table_name)])
    finally:
        await engine.dispose()


async def test_revision_0005_adds_and_drops_the_operations_columns_keeping_every_row(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    """Archived boards and rotated SSO secrets come and go with the revision; boards, workspaces and what they
    hold stay, and after the round trip nothing is archived and no old secret verifies."""
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    archive = "mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { code } } }"
    assert (await api(archive, {"i": {"boardId": board, "archived": True}}, auth=ws.api_key))["data"] == {
        "updateBoard": {"userErrors": []}
    }
    rotate = "mutation { rotateSsoSecret { ssoSecret userErrors { code } } }"
    new_secret = (await api(rotate, auth=ws.api_key))["data"]["rotateSsoSecret"]["ssoSecret"]
    await quiesce(services)

    await asyncio.to_thread(migrate.downgrade, database_url, "0004")
    assert "archived_at" not in await _columns(database_url, "boards")
    assert not {"previous_sso_secret_encrypted", "previous_sso_secret_until"} & set(
        await _columns(database_url, "workspaces")
    )

    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    async with services.db.read() as session:
        row = (await session.execute(select(Board))).scalar_one()
        workspace = (await session.execute(select(WorkspaceRow))).scalar_one()
        assert await session.scalar(select(func.count()).select_from(Idea)) == 1
    assert (row.slug, row.archived_at) == ("ideas", None)
    assert services.box.open(workspace.sso_secret_encrypted) == new_secret
    assert (workspace.previous_sso_secret_encrypted, workspace.previous_sso_secret_until) == (None, None)


HISTORY = "createdAt author { name } statusHistory { from to note at actor { name } }"


async def _histories(url: str) -> dict[int, list[tuple[str | None, str]]]:
    """Each idea's status changes (from, to), oldest first, read without the models."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            ideas = (await conn.execute(text("SELECT id FROM ideas"))).scalars().all()
            rows = await conn.execute(
                text("SELECT idea_id, from_status, to_status FROM status_changes ORDER BY created_at, id")
            )
            out: dict[int, list[tuple[str | None, str]]] = {i: [] for i in ideas}
            for idea_pk, from_status, to_status in rows:
                out[idea_pk].append((from_status, to_status))
            return out
    finally:
        await engine.dispose()


async def test_revision_0006_starts_every_older_history_with_its_first_status_and_takes_it_back(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    """Ideas submitted before the revision get the entry submitting now writes: from null, by the author, at
    creation; downgrading removes exactly those entries."""
    board = await create_board(api, ws.api_key)
    quiet = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    moved = await idea_id(api, ws.token("bob"), board, "Dark mode for the app")
    assert (await change_status(api, ws.api_key, moved, "UNDER_REVIEW", "Looking"))["userErrors"] == []
    submitted = {i: await idea(api, None, i, HISTORY) for i in (quiet, moved)}
    await quiesce(services)

    await asyncio.to_thread(migrate.downgrade, database_url, "0005_operations")
    before = await _histories(database_url)  # read as rows: the models describe head, not revision 0005
    assert before == {
        relay.parse_id(quiet)[1]: [],  # type: ignore[index]
        relay.parse_id(moved)[1]: [("SUBMITTED", "UNDER_REVIEW")],  # type: ignore[index]
    }
    await services.db.dispose()

    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    after = {i: await idea(api, None, i, HISTORY) for i in (quiet, moved)}
    assert after == submitted  # exactly what submitting writes now
    for found, author in ((after[quiet], "Alice"), (after[moved], "Bob")):
        first = found["statusHistory"][0]
        assert first == {
            "from": None,
            "to": "SUBMITTED",
            "note": None,
            "at": found["createdAt"],
            "actor": {"name": author},
        }
    assert [(c["from"], c["to"]) for c in after[moved]["statusHistory"]] == [
        (None, "SUBMITTED"),
        ("SUBMITTED", "UNDER_REVIEW"),
    ]


async def test_revision_0007_adds_and_drops_moderation_keeping_every_idea_and_comment(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    """Moderation states, reports and decisions come and go with the revision; ideas and comments stay, and
    after the round trip everything is VISIBLE and no board requires approval."""
    board = await create_board(api, ws.api_key)
    hidden = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    moderate = """mutation($i: ModerateContentInput!) { moderateContent(input: $i) { userErrors { code } } }"""
    assert (await api(moderate, {"i": {"subjectId": hidden, "action": "HIDE"}}, auth=ws.api_key))["data"] == {
        "moderateContent": {"userErrors": []}
    }
    update = "mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { code } } }"
    await api(update, {"i": {"boardId": board, "requiresApproval": True}}, auth=ws.api_key)
    await in_process(services).drain()  # no refresh job holding locks the DDL waits for
    await services.db.dispose()

    await asyncio.to_thread(migrate.downgrade, database_url, "0006_first_status")
    assert "moderation_state" not in await _columns(database_url, "ideas")
    assert "requires_approval" not in await _columns(database_url, "boards")
    tables = await asyncio.to_thread(table_names, database_url)
    assert not {"moderation_cases", "reports", "moderation_decisions"} & tables

    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    found = await idea(api, None, hidden, "title moderationState board { requiresApproval }")
    assert found == {
        "title": "Oat milk in every store",
        "moderationState": "VISIBLE",
        "board": {"requiresApproval": False},
    }
