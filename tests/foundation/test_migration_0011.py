"""Revision 0011 (notification settings) goes down and up again on both databases: the settings go with it,
and every notification stays (issue 15's kinds, launch credit among them, came with 0010_threads)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ideaengine.platform import migrate
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, idea_id, quiesce, vote

NEW_KINDS = ("REPLY", "MENTION", "ANSWER_ACCEPTED", "SUPPORTED_IDEA_LAUNCHED")


async def _state(url: str) -> tuple[set[str], list[tuple[int, str]]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            rows = (await conn.execute(text("SELECT user_id, kind FROM notifications ORDER BY id"))).all()
    finally:
        await engine.dispose()
    return tables, [(r[0], r[1]) for r in rows]


async def _insert_kind(url: str, user_id: int, idea_id: int, kind: str) -> None:
    """A notification of `kind` written as the database sees it: the CHECK decides, not the ORM's enum."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO notifications (user_id, idea_id, kind, message, read, created_at) "
                    "VALUES (:u, :i, :k, 'm', false, CURRENT_TIMESTAMP)"
                ),
                {"u": user_id, "i": idea_id, "k": kind},
            )
    finally:
        await engine.dispose()


async def test_revision_0011_adds_and_drops_settings_and_the_new_kinds(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await vote(api, ws.token("carol"), target, "UP")
    update = """mutation($i: UpdateNotificationSettingsInput!) { updateNotificationSettings(input: $i) {
        userErrors { code } } }"""
    assert (await api(update, {"i": {"digest": "DAILY"}}, auth=ws.token("carol")))["data"] == {
        "updateNotificationSettings": {"userErrors": []}
    }
    for status in ("UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED"):
        assert (await change_status(api, ws.api_key, target, status))["userErrors"] == []
    await quiesce(services)

    tables, before = await _state(database_url)
    assert "notification_settings" in tables
    assert sorted({kind for _, kind in before}) == ["STATUS_CHANGED", "SUPPORTED_IDEA_LAUNCHED"]
    user_id, idea_pk = before[0][0], 1
    for kind in NEW_KINDS:  # conversations' kinds too: either branch of issue 15 accepts all four
        await _insert_kind(database_url, user_id, idea_pk, kind)

    await asyncio.to_thread(migrate.downgrade, database_url, "0010_threads")
    tables, after = await _state(database_url)
    assert "notification_settings" not in tables
    assert after == before + [(user_id, kind) for kind in NEW_KINDS]

    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    tables, again = await _state(database_url)
    assert "notification_settings" in tables and again == after
    settings = "{ viewer { notificationSettings { digest } } }"
    assert (await api(settings, auth=ws.token("carol")))["data"] == {
        "viewer": {"notificationSettings": {"digest": "INSTANT"}}  # back to the defaults
    }
    await _insert_kind(database_url, user_id, idea_pk, "SUPPORTED_IDEA_LAUNCHED")
