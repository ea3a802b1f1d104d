"""`ideaengine export-user` and `ideaengine export` (issue 13, item 9), run as commands on both databases."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from ideaengine import exports
from ideaengine.platform.models import Board
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id, vote
from tests.conftest import TEST_SECRET_KEY
from tests.foundation.test_cli import run


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"IDEAENGINE_DATABASE_URL": database_url, "IDEAENGINE_SECRET_KEY": TEST_SECRET_KEY}


async def cli(*args: str, env: dict[str, str]) -> Any:
    """The command, off the event loop (it runs one of its own)."""
    return await asyncio.to_thread(run, *args, env=env)


async def seed(api: Api, ws: Workspace) -> dict[str, str]:
    """Two boards: `ideas` with two ideas (one voted on and commented), `other` with one."""
    board = await create_board(api, ws.api_key)
    other = await create_board(api, ws.api_key, slug="other")
    dark = await idea_id(api, ws.token("alice"), board, "Dark mode", tags=["ui", "night"])
    offline = await idea_id(api, ws.token("alice"), board, "Offline mode")
    await idea_id(api, ws.token("bob"), other, "Widgets")
    await vote(api, ws.token("bob"), dark, "UP")
    await vote(api, ws.token("carol"), dark, "DOWN")
    body = await api(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }",
        {"i": {"ideaId": dark, "body": "Please"}},
        auth=ws.token("bob"),
    )
    assert body["data"]["addComment"]["userErrors"] == []
    return {"board": board, "dark": dark, "offline": offline}


async def test_export_streams_csv_with_tallies_statuses_and_progress(
    api: Api, ws: Workspace, env: dict[str, str]
) -> None:
    ids = await seed(api, ws)

    result = await cli("export", "acme", "--board", "ideas", "--format", "csv", env=env)

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(exports.COLUMNS)
    picked = [
        {k: r[k] for k in ("board", "id", "title", "status", "upVotes", "downVotes", "comments", "tags")} for r in rows
    ]
    assert picked == [
        {
            "board": "ideas",
            "id": ids["dark"],
            "title": "Dark mode",
            "status": "SUBMITTED",
            "upVotes": "1",
            "downVotes": "1",
            "comments": "1",
            "tags": "ui;night",
        },
        {
            "board": "ideas",
            "id": ids["offline"],
            "title": "Offline mode",
            "status": "SUBMITTED",
            "upVotes": "0",
            "downVotes": "0",
            "comments": "0",
            "tags": "",
        },
    ]
    assert all(r["statusLabel"] == "Submitted" and r["createdAt"] for r in rows)
    assert "ideaengine: export: 2/2 ideas" in result.stderr.splitlines()


async def test_export_of_a_workspace_as_jsonl_has_every_board(api: Api, ws: Workspace, env: dict[str, str]) -> None:
    ids = await seed(api, ws)
    hidden = await api(
        "mutation($i: ModerateContentInput!) { moderateContent(input: $i) { userErrors { code } } }",
        {"i": {"subjectId": ids["offline"], "action": "HIDE"}},
        auth=ws.api_key,
    )
    assert hidden["data"]["moderateContent"]["userErrors"] == []
    result = await cli("export", "acme", "--format", "jsonl", env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["board"], r["title"], r["upVotes"], r["moderationState"]) for r in lines] == [
        ("ideas", "Dark mode", 1, "VISIBLE"),
        ("ideas", "Offline mode", 0, "HIDDEN"),  # the brand's own export keeps it, saying it is hidden
        ("other", "Widgets", 0, "VISIBLE"),
    ]
    assert set(lines[0]) == set(exports.COLUMNS)


async def test_ideas_are_read_in_batches_of_bounded_size(api: Api, ws: Workspace, services: Any) -> None:
    """Memory stays about one batch: the rows come in batches of the size asked for, in id order, all of them."""
    board = await create_board(api, ws.api_key)
    for n in range(5):
        await idea_id(api, ws.token("alice"), board, f"Idea number {n}")
    async with services.db.read() as session:
        workspace_id = (await session.execute(select(Board.workspace_id))).scalar_one()
        batches = [batch async for batch in exports.idea_rows(session, workspace_id, batch=2)]
        assert len(session.identity_map) == 0  # nothing read is kept between batches
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [row["title"] for b in batches for row in b] == [f"Idea number {n}" for n in range(5)]


async def test_export_user_prints_everything_stored_about_one_user(
    api: Api, ws: Workspace, env: dict[str, str]
) -> None:
    ids = await seed(api, ws)

    result = await cli("export-user", "acme", "bob", env=env)

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["workspace"] == "acme"
    assert {k: data["user"][k] for k in ("externalId", "name", "email", "role", "ban")} == {
        "externalId": "bob",
        "name": "Bob",
        "email": "bob@example.com",
        "role": "member",
        "ban": None,
    }
    assert [i["title"] for i in data["ideas"]] == ["Widgets"]
    assert [(c["idea"], c["body"]) for c in data["comments"]] == [(ids["dark"], "Please")]
    assert [(v["idea"], v["value"]) for v in data["votes"]] == [(ids["dark"], "UP")]
    # authors follow their ideas, and bob's UP vote followed Dark mode
    assert [f["idea"] for f in data["follows"]] == [i["id"] for i in data["ideas"]] + [ids["dark"]]
    assert data["notificationSettings"] is None  # never changed: the defaults
    assert set(data) == {
        "workspace",
        "user",
        "ideas",
        "comments",
        "votes",
        "comparisons",
        "follows",
        "notifications",
        "statusChanges",
        "apiKeys",
        "notificationSettings",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["export-user", "acme", "nobody"], "No user with the external id 'nobody'", id="unknown_user"),
        pytest.param(["export-user", "nope", "bob"], "No workspace 'nope'", id="unknown_workspace"),
        pytest.param(["export", "acme", "--board", "nope", "--format", "csv"], "no board 'nope'", id="unknown_board"),
        pytest.param(["export", "acme", "--format", "xml"], "invalid choice: 'xml'", id="bad_format"),
        pytest.param(["export", "acme"], "--format", id="no_format"),
    ],
)
async def test_bad_arguments_are_one_line_on_stderr_and_exit_2(
    api: Api, ws: Workspace, env: dict[str, str], args: list[str], message: str
) -> None:
    await seed(api, ws)
    result = await cli(*args, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr
