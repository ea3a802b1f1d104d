"""Anonymous answers come from the response cache until the data they were read from changes, never after."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ideaengine.app import CACHE_HEADER
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, drain, idea_id, pk, vote

TALLY = "query($id: ID!) { idea(id: $id) { title votes { up down } } }"


@pytest.fixture
async def target(client: httpx.AsyncClient, ws: Workspace, services: Any) -> str:
    """An idea, with the jobs its submission queued (a score refresh, the duplicate index) done: their commits
    change the data version, and a test that expects a hit must not race them."""
    api = Api(client)
    board = await create_board(api, ws.api_key)
    submitted = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await drain(services)
    return submitted


async def repeated(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> list[tuple[Any, bool]]:
    """Ask twice, up to three times over: on PostgreSQL the data version is the cluster's snapshot, which a
    commit in another database of the same cluster (another test's set-up) also moves."""
    for _ in range(3):
        answers = [await ask(client, query, variables) for _ in range(2)]
        if answers[1][1]:
            break
    return answers


async def ask(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], auth: str | None = None
) -> tuple[dict[str, Any], bool]:
    """The decoded answer, and whether it came from the cache."""
    headers = {"authorization": f"Bearer {auth}"} if auth else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json(), response.headers.get(CACHE_HEADER) == "hit"


async def test_a_repeated_anonymous_query_is_answered_from_the_cache(client: httpx.AsyncClient, target: str) -> None:
    first, first_hit = await ask(client, TALLY, {"id": target})
    assert not first_hit
    (_, _), (again, hit) = await repeated(client, TALLY, {"id": target})
    assert hit
    assert again == first == {"data": {"idea": {"title": "Oat milk in every store", "votes": {"up": 0, "down": 0}}}}


async def test_a_vote_shows_in_the_next_anonymous_answer(client: httpx.AsyncClient, ws: Workspace, target: str) -> None:
    api = Api(client)
    for n, value in enumerate(["UP", "UP", "DOWN"], start=1):
        await ask(client, TALLY, {"id": target})
        await vote(api, ws.token(f"voter{n}"), target, value)
        answer, _ = await ask(client, TALLY, {"id": target})
        assert answer["data"]["idea"]["votes"] == {"up": min(n, 2), "down": n // 3}


async def test_a_write_by_another_process_shows_in_the_next_anonymous_answer(
    client: httpx.AsyncClient, settings: Any, target: str
) -> None:
    """A worker, another server or the CLI writes through an engine of its own: no event reaches this server."""
    from sqlalchemy import update

    from ideaengine.platform.db import Database
    from ideaengine.platform.models import Idea

    assert (await repeated(client, TALLY, {"id": target}))[1][1]
    elsewhere = Database(settings, pooled=False)
    try:
        async with elsewhere.write() as session:
            await session.execute(update(Idea).where(Idea.id == pk(target)).values(title="Renamed"))
    finally:
        await elsewhere.dispose()
    answer, hit = await ask(client, TALLY, {"id": target})
    assert (answer["data"]["idea"]["title"], hit) == ("Renamed", False)


async def test_signed_in_callers_are_never_answered_from_the_cache(
    client: httpx.AsyncClient, ws: Workspace, target: str
) -> None:
    viewer = "{ viewer { user { name } } }"
    (anonymous, _), (_, hit) = await repeated(client, viewer, {})
    assert anonymous == {"data": {"viewer": {"user": None}}} and hit
    answer, hit = await ask(client, viewer, {}, auth=ws.token("bob"))
    assert (answer, hit) == ({"data": {"viewer": {"user": {"name": "Bob"}}}}, False)


async def test_mutations_and_errors_are_never_kept(client: httpx.AsyncClient, target: str) -> None:
    refused = "mutation($i: VoteInput!) { vote(input: $i) { userErrors { code } } }"
    for _ in range(2):
        answer, hit = await ask(client, refused, {"i": {"ideaId": target, "value": "UP"}})
        assert answer["data"]["vote"]["userErrors"] == [{"code": "UNAUTHENTICATED"}]
        assert not hit
    too_long = '{ board(workspace: "acme", slug: "ideas") { ideas(first: 1000) { totalCount } } }'
    for _ in range(2):
        answer, hit = await ask(client, too_long, {})
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and not hit


async def test_the_media_type_asked_for_is_part_of_the_key(client: httpx.AsyncClient, target: str) -> None:
    body = {"query": TALLY, "variables": {"id": target}}
    accepts = ("application/json", "application/graphql-response+json")
    for _ in range(3):  # see `repeated`: another database's commit may move PostgreSQL's snapshot in between
        kinds = []
        for accept in (*accepts, *accepts):
            response = await client.post("/graphql", json=body, headers={"accept": accept})
            kinds.append((response.headers["content-type"].split(";")[0], response.headers.get(CACHE_HEADER)))
        if kinds[2:] == [(accepts[0], "hit"), (accepts[1], "hit")]:
            break
    assert [kind for kind, _ in kinds] == [*accepts, *accepts]
    assert [hit for _, hit in kinds[2:]] == ["hit", "hit"]


async def test_callers_asking_at_once_share_an_answer_no_older_than_their_arrival(
    services: Any, settings: Any, ws: Workspace
) -> None:
    """Many requests at once share one question for the data version (PostgreSQL asks the server; SQLite reads
    shared memory); whoever arrives after a commit gets a version the commit moved, whatever was in flight."""
    import asyncio

    from sqlalchemy import text

    from ideaengine.platform.db import Database

    db = services.db
    before = set(await asyncio.gather(*(db.data_version() for _ in range(20))))
    elsewhere = Database(settings, pooled=False)
    try:
        in_flight = [asyncio.ensure_future(db.data_version()) for _ in range(10)]  # asked before the commit
        async with elsewhere.write() as session:
            await session.execute(text("UPDATE workspaces SET name = name || '!'"))  # a row written
        after = await asyncio.gather(*(db.data_version() for _ in range(20)))
        await asyncio.gather(*in_flight)
    finally:
        await elsewhere.dispose()
    assert not before & set(after)
