"""Revision 0010 (threads, reactions, accepted answers, the new notification kinds) goes down and up again on
both databases, keeping every comment."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ideaengine.platform import migrate
from ideaengine.platform.models import Comment, Notification
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id, quiesce

ADD = "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } userErrors { code } } }"


async def _schema(url: str) -> tuple[set[str], list[str]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: (
                    set(inspect(c).get_table_names()),
                    [col["name"] for col in inspect(c).get_columns("comments")],
                )
            )
    finally:
        await engine.dispose()


async def _reply(api: Api, ws: Workspace, idea: str, parent: str, body: str) -> None:
    payload = (await api(ADD, {"i": {"ideaId": idea, "body": body, "parentId": parent}}, auth=ws.token("alice")))[
        "data"
    ]["addComment"]
    assert payload["userErrors"] == []


async def test_revision_0010_drops_threads_and_the_new_kinds_and_brings_them_back_keeping_comments(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    board = await create_board(api, ws.api_key)
    idea = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    top = (await api(ADD, {"i": {"ideaId": idea, "body": "Which stores?"}}, auth=ws.token("bob")))["data"][
        "addComment"
    ]["comment"]["id"]
    await _reply(api, ws, idea, top, "All of them")
    react = "mutation($i: ReactToCommentInput!) { reactToComment(input: $i) { userErrors { code } } }"
    await api(react, {"i": {"commentId": top, "reaction": "HEART", "on": True}}, auth=ws.token("alice"))
    accept = "mutation($i: AcceptAnswerInput!) { acceptAnswer(input: $i) { userErrors { code } } }"
    await api(accept, {"i": {"commentId": top, "accepted": True}}, auth=ws.token("alice"))
    await quiesce(services)

    await asyncio.to_thread(migrate.downgrade, database_url, "0009_bans_labels_erase")
    tables, columns = await _schema(database_url)
    assert "comment_reactions" not in tables
    assert not {"parent_id", "accepted"} & set(columns)
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            bodies = (await conn.execute(text("SELECT body FROM comments ORDER BY id"))).scalars().all()
            kinds = (await conn.execute(text("SELECT kind FROM notifications"))).scalars().all()
    finally:
        await engine.dispose()
    assert (list(bodies), list(kinds)) == (["Which stores?", "All of them"], [])  # REPLY and ANSWER_ACCEPTED gone

    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    tables, columns = await _schema(database_url)
    assert "comment_reactions" in tables and {"parent_id", "accepted"} <= set(columns)
    async with services.db.read() as session:
        rows = (await session.execute(select(Comment).order_by(Comment.id))).scalars().all()
    assert [(c.body, c.parent_id, c.accepted) for c in rows] == [
        ("Which stores?", None, False),
        ("All of them", None, False),
    ]
    await _reply(api, ws, idea, top, "Every one")  # the new kinds are allowed again
    async with services.db.read() as session:
        kinds = (await session.execute(select(Notification.kind))).scalars().all()
    assert [k.value for k in kinds] == ["REPLY"]
