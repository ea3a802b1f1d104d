"""Revision 0008 (comment edits and deletes, merge records) goes down and up again on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ideaengine.platform import migrate
from ideaengine.platform.models import Comment, Idea
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id, quiesce


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


async def test_revision_0008_adds_and_drops_its_tables_and_columns_keeping_ideas_and_comments(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    board = await create_board(api, ws.api_key)
    source = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    target = await idea_id(api, ws.token("bob"), board, "Plant milk everywhere")
    added = await api(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } } }",
        {"i": {"ideaId": source, "body": "Yes"}},
        auth=ws.token("carol"),
    )
    edit = "mutation($i: EditCommentInput!) { editComment(input: $i) { userErrors { code } } }"
    comment = added["data"]["addComment"]["comment"]["id"]
    assert (await api(edit, {"i": {"commentId": comment, "body": "Yes!"}}, auth=ws.token("carol")))["data"] == {
        "editComment": {"userErrors": []}
    }
    merge = "mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }"
    assert (await api(merge, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key))["data"] == {
        "mergeIdeas": {"userErrors": []}
    }
    await quiesce(services)

    await asyncio.to_thread(migrate.downgrade, database_url, "0007_moderation")
    tables, columns = await _schema(database_url)
    assert not {"comment_revisions", "idea_merges"} & tables
    assert not {"edited_at", "deleted_at"} & set(columns)

    await asyncio.to_thread(migrate.upgrade, database_url, "head")
    tables, columns = await _schema(database_url)
    assert {"comment_revisions", "idea_merges"} <= tables and {"edited_at", "deleted_at"} <= set(columns)
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Idea)) == 2
        row = (await session.execute(select(Comment))).scalar_one()
    assert (row.body, row.edited_at, row.deleted_at) == ("Yes!", None, None)
    unmerge = "mutation($i: UnmergeIdeaInput!) { unmergeIdea(input: $i) { userErrors { field code } } }"
    refused = await api(unmerge, {"i": {"ideaId": source}}, auth=ws.api_key)  # its record went with the downgrade
    assert refused["data"] == {"unmergeIdea": {"userErrors": [{"field": ["input", "ideaId"], "code": "INVALID"}]}}
