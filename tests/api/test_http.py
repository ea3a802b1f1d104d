"""The HTTP surface: GraphQL over POST and GET, GraphiQL, health, CORS, limits and error masking."""

from __future__ import annotations

import json
import uuid
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.routing import Route

from ideaengine.platform.services import Services
from schema import QuietSchema
from schema.caches import CACHEABLE_QUERY_CHARS, CACHED_DOCUMENTS, Documents
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board
from tests.conftest import in_process


async def test_get_runs_queries_but_not_mutations(client: httpx.AsyncClient) -> None:
    ok = await client.get("/graphql", params={"query": "{ viewer { role } }"})
    assert ok.status_code == 200 and ok.json() == {"data": {"viewer": {"role": "ANONYMOUS"}}}
    refused = await client.get(
        "/graphql",
        params={"query": 'mutation { followIdea(input: {ideaId: "x", follow: true}) { userErrors { code } } }'},
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "mutations are not allowed when using GET"


async def test_browsers_get_graphiql(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"not json", "application/json", id="malformed_json"),
        pytest.param(b'{"variables": {}}', "application/json", id="no_query"),
        pytest.param(b"<xml/>", "application/xml", id="unsupported_media_type"),
    ],
)
async def test_requests_that_are_not_graphql_get_400_with_a_json_error(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post("/graphql", content=content, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["message"]


async def test_syntax_errors_are_reported_not_masked(api: Api) -> None:
    body = await api("{ viewer { role ", expect_errors=True)
    assert "Syntax Error" in body["errors"][0]["message"]


async def test_depth_limit_answers_with_its_message(api: Api) -> None:
    inner = "totalCount"
    for _ in range(5):
        inner = f"ideas {{ edges {{ node {{ board {{ {inner} }} }} }} }}"
    nested = f"{{ viewer {{ following {{ edges {{ node {{ board {{ {inner} }} }} }} }} }} }}"
    body = await api(nested, expect_errors=True)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert body.get("data") is None


async def test_alias_limit_answers_with_its_message(api: Api) -> None:
    aliases = " ".join(f"a{n}: viewer {{ role }}" for n in range(31))
    body = await api(f"{{ {aliases} }}", expect_errors=True)
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_unexpected_errors_are_masked(api: Api, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    from ideaengine import boards

    async def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("SELECT secret FROM somewhere: connection string postgres://x:y@z")

    monkeypatch.setattr(boards, "list_visible", explode)
    body = await api('{ boards(workspace: "acme") { totalCount } }', expect_errors=True)
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "SELECT" not in str(body)


def test_our_error_mask_masks_as_strawberrys_own() -> None:
    """MaskUnexpectedErrors only reads a result's errors more cheaply: what it masks, and leaves, is the same."""
    from graphql import ExecutionResult as GraphQLExecutionResult
    from graphql import GraphQLError
    from strawberry.extensions import MaskErrors
    from strawberry.types import ExecutionResult

    from schema.errors import MaskUnexpectedErrors, should_mask_error

    def errors() -> list[GraphQLError]:
        unexpected = GraphQLError("boom", path=["a"], original_error=RuntimeError("SELECT secret"))
        coded = GraphQLError("no", path=["b"], extensions={"code": "NOT_FOUND"})
        wrapped = GraphQLError("bad", original_error=GraphQLError("Variable '$n' got invalid value"))
        return [unexpected, coded, wrapped]

    class NoErrors:
        data = None

    def results() -> list[object]:
        return [
            GraphQLExecutionResult(data=None, errors=errors()),
            ExecutionResult(data={"a": None}, errors=errors()),
            ExecutionResult(data={"a": 1}, errors=None),
            GraphQLExecutionResult(data={"a": 1}, errors=[]),
            NoErrors(),
        ]

    for ours, theirs in zip(results(), results(), strict=True):
        MaskUnexpectedErrors()._process_result(ours)
        MaskErrors(should_mask_error=should_mask_error)._process_result(theirs)
        shown = [(e.message, e.path, e.extensions) for e in getattr(ours, "errors", None) or []]
        assert shown == [(e.message, e.path, e.extensions) for e in getattr(theirs, "errors", None) or []]
        assert type(getattr(ours, "errors", None)) is type(getattr(theirs, "errors", None))
    masked = results()[0]
    MaskUnexpectedErrors()._process_result(masked)
    assert [e.message for e in getattr(masked, "errors", [])] == ["Unexpected error.", "no", "bad"]


async def test_healthz_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_boards_lists_only_what_the_viewer_may_read(api: Api, ws: Workspace) -> None:
    await create_board(api, ws.api_key, slug="open")
    await create_board(api, ws.api_key, slug="inside", visibility="PRIVATE")
    query = '{ boards(workspace: "acme") { totalCount edges { node { slug visibility } } } }'
    public = (await api(query))["data"]["boards"]
    assert public["totalCount"] == 1 and [e["node"]["slug"] for e in public["edges"]] == ["open"]
    member = (await api(query, auth=ws.token("alice")))["data"]["boards"]
    assert [e["node"]["slug"] for e in member["edges"]] == ["open", "inside"]


async def test_create_board_with_a_taken_slug_is_a_conflict(api: Api, ws: Workspace) -> None:
    await create_board(api, ws.api_key, slug="ideas")
    body = await api(
        """mutation { createBoard(input: {slug: "ideas", name: "Again"}) {
        board { id } userErrors { code field message } } }""",
        auth=ws.api_key,
    )
    assert body["data"]["createBoard"] == {
        "board": None,
        "userErrors": [
            {"code": "CONFLICT", "field": ["input", "slug"], "message": "A board with the slug 'ideas' already exists."}
        ],
    }


async def test_create_board_with_a_bad_slug_is_invalid(api: Api, ws: Workspace) -> None:
    body = await api(
        """mutation { createBoard(input: {slug: "No Spaces!", name: "x"}) {
        board { id } userErrors { code field } } }""",
        auth=ws.api_key,
    )
    assert body["data"]["createBoard"] == {
        "board": None,
        "userErrors": [{"code": "INVALID", "field": ["input", "slug"]}],
    }


async def test_cors_preflight_allows_configured_origins_only(services: Services) -> None:
    import httpx

    from ideaengine.app import create_app
    from ideaengine.platform.settings import load_settings

    # Configured with a trailing slash, as people paste it: the browser's Origin header has none.
    settings = load_settings(database_url=services.settings.database_url, cors_origins="https://app.example.com/")
    app = create_app(settings, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        headers = {
            "origin": "https://app.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        }
        allowed = await client.options("/graphql", headers=headers)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        denied = await client.options("/graphql", headers=headers | {"origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in denied.headers


async def test_token_limit_answers_with_its_message(api: Api) -> None:
    fields = " ".join("__typename" for _ in range(2100))
    body = await api(f"{{ {fields} }}", expect_errors=True)
    assert body["errors"][0]["message"] == "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."


async def test_healthz_reports_queue_depth_and_the_stalest_score(
    client: httpx.AsyncClient, api: Api, ws: Workspace, services: Services
) -> None:
    from tests.api.ops import idea_id

    board = await create_board(api, ws.api_key)
    queue, services.work.queue = services.work.queue, None  # the refresh of this submission is lost
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    services.work.queue = queue
    stale = (await client.get("/healthz")).json()
    assert stale["queueDepth"] == 0
    assert stale["stalestScoreAgeSeconds"] > 0
    from ideaengine import sweep

    await sweep.sweep(services.db, services.queue)
    await in_process(services).drain()
    assert (await client.get("/healthz")).json()["stalestScoreAgeSeconds"] == 0.0


async def test_a_repeated_document_is_validated_once(api: Api, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing and validation dominate the request path (PERFORMANCE.md): both must hit their caches.

    Signed in, because an anonymous repeat is answered from the response cache without parsing at all."""
    from graphql.language.parser import parse
    from strawberry.schema.schema import validate_document

    import schema.caches

    calls: list[str] = []

    def counted(name: str, function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(schema.caches, "parse", counted("parse", parse))
    monkeypatch.setattr(schema.caches, "validate_document", counted("validate", validate_document))
    alias = "a" + uuid.uuid4().hex  # a document no other test sends
    query = "{ viewer { role unreadNotificationCount } " + alias + ": __typename }"
    alice = ws.token("alice")
    await api(query, auth=alice)
    assert calls == ["parse", "validate"]
    for _ in range(3):
        await api(query, auth=alice)
    assert calls == ["parse", "validate"]


@pytest.mark.parametrize(
    ("document", "variables", "error"),
    [
        pytest.param("{ viewer { role ", None, "Syntax Error", id="does_not_parse"),
        pytest.param("{ nosuchfield }", None, "Cannot query field 'nosuchfield'", id="does_not_validate"),
        pytest.param("query($id: ID!) { idea(id: $id) { title } }", {"id": []}, "Variable '$id'", id="bad_variables"),
    ],
)
async def test_a_request_error_is_400_without_data_for_clients_that_ask_for_graphql_response_json(
    client: httpx.AsyncClient, document: str, variables: dict[str, Any] | None, error: str
) -> None:
    body = {"query": document, "variables": variables}
    modern = await client.post("/graphql", json=body, headers={"accept": "application/graphql-response+json"})
    assert modern.status_code == 400
    assert modern.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert "data" not in modern.json() and error in modern.json()["errors"][0]["message"]
    legacy = await client.post("/graphql", json=body, headers={"accept": "application/json"})
    assert legacy.status_code == 200 and legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None and error in legacy.json()["errors"][0]["message"]
    anything = await client.post("/graphql", json=body, headers={"accept": "*/*"})  # fetch()'s default
    assert (anything.status_code, anything.headers["content-type"]) == (200, "application/json")


async def test_an_execution_error_stays_200_with_its_data_under_graphql_response_json(
    client: httpx.AsyncClient,
) -> None:
    """Only a request error (nothing ran) is a 400: an argument problem is reported with the data it nulled."""
    modern = await client.post(
        "/graphql",
        json={"query": '{ board(workspace: "acme", slug: "ideas") { ideas(first: 101) { totalCount } } }'},
        headers={"accept": "application/graphql-response+json, application/json;q=0.9"},
    )
    assert modern.status_code == 200
    assert modern.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert "data" in modern.json()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b'"str"', "must be JSON objects", id="a_bare_string"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "not valid JSON", id="nested_100000_deep"),
        pytest.param(
            b'{"query": "{ __typename }", "variables": "x"}', "`variables` must be an object", id="string_variables"
        ),
        pytest.param(b'{"query": "\\ud800"}', "not valid JSON", id="lone_surrogate_escape"),
        pytest.param(
            json.dumps({"query": "{ __typename }", "variables": {"i": {"tags": ["t"] * 30_000}}}).encode(),
            "A list in the request holds 30000 items; at most 1000.",
            id="thirty_thousand_tags",  # refused before GraphQL coerces every item (it held the loop 0.25 s)
        ),
    ],
)
async def test_malformed_bodies_are_400_naming_the_problem(
    client: httpx.AsyncClient, content: bytes, fragment: str
) -> None:
    response = await client.post("/graphql", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert fragment in response.json()["errors"][0]["message"]


async def test_a_body_over_the_limit_is_413_before_it_is_read(services: Services) -> None:
    from ideaengine.app import create_app

    app = create_app(services.settings, services)
    limit = services.settings.max_request_bytes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        padded = {"query": "{ __typename }" + " " * limit}
        response = await client.post("/graphql", json=padded)
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": limit}

        async def chunks() -> Any:  # no Content-Length: cut off as the bytes arrive
            yield b'{"query": "{ __typename }'
            for _ in range(limit // 65536 + 2):
                yield b" " * 65536
            yield b'"}'

        streamed = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        ok = await client.post("/graphql", json={"query": "{ __typename }"})
        assert ok.json() == {"data": {"__typename": "Query"}}


def documents(api: Api) -> Documents:
    """The parse and validation caches of the app behind `api`."""
    transport = api.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, Starlette)
    view: Any = next(route.endpoint for route in app.routes if isinstance(route, Route) and route.path == "/graphql")
    assert isinstance(view.schema, QuietSchema)
    return view.schema.documents


async def test_a_long_document_is_parsed_but_never_cached(api: Api) -> None:
    """The parse cache keeps 1,000 documents: padded ones must not make that 1,000 megabytes."""
    kept = documents(api)
    before = len(kept)
    padded = "{ __typename }" + " " * CACHEABLE_QUERY_CHARS
    assert await api(padded) == {"data": {"__typename": "Query"}}
    assert len(kept) == before and padded not in kept


async def test_long_documents_are_validated_but_never_kept_while_short_ones_are(api: Api) -> None:
    """The validation cache keys on the parsed document, whose locations hold its whole text: 150 padded 1 MB
    `{__typename}` once grew a server by 180 MB for good. Long documents are validated each time, uncached;
    short ones are still kept, and a kept one is validated once."""
    kept = documents(api)
    before = len(kept)
    for n in range(5):
        padded = "{ __typename }" + " " * (CACHEABLE_QUERY_CHARS + n)
        assert await api(padded) == {"data": {"__typename": "Query"}}
    assert len(kept) == before
    invalid = "{ nope }" + " " * CACHEABLE_QUERY_CHARS  # still validated: the error is the schema's
    body = await api(invalid, expect_errors=True)
    assert body["errors"][0]["message"].startswith("Cannot query field 'nope' on type 'Query'.")
    assert len(kept) == before

    alias = "a" + uuid.uuid4().hex
    short = "{ " + alias + ": __typename }"  # a document no other test sends
    assert await api(short) == {"data": {alias: "Query"}}
    assert short in kept and len(kept) == min(before + 1, CACHED_DOCUMENTS)
    invalid_short = "{ " + alias + ": nope }"
    for _ in range(2):  # the second answer comes from the cache, with the same error
        body = await api(invalid_short, expect_errors=True)
        assert body["errors"][0]["message"].startswith("Cannot query field 'nope' on type 'Query'.")
    assert invalid_short in kept


async def test_the_document_caches_stay_within_their_size() -> None:
    """The least recently used document goes first, and with it its validation."""
    from graphql import build_schema as build_graphql_schema

    cache = Documents(maxsize=3)
    schema = build_graphql_schema("type Query { a: Int }")
    trees = [cache.parse("{ a }" + " " * n, {}) for n in range(3)]
    assert cache.parse("{ a }", {}) is trees[0]  # kept, and now the most recently used
    assert cache.validate(schema, trees[1], ()) == []
    cache.parse("{ a }" + " " * 3, {})  # a fourth: the least recently used (n=1) goes
    assert len(cache) == 3 and "{ a } " not in cache and "{ a }" in cache
    assert cache.validate(schema, trees[1], ()) is None  # no longer kept: the caller validates it
    with pytest.raises(GraphQLError):
        cache.parse("{ a", {})
    assert len(cache) == 3


@pytest.mark.parametrize(
    ("document", "variables", "message"),
    [
        pytest.param(
            'query($s: IdeaSort) { board(workspace: "acme", slug: "ideas") { ideas(sort: $s) { totalCount } } }',
            {"s": "NOPE"},
            "Variable '$s' has invalid value: Value 'NOPE' does not exist in 'IdeaSort' enum.",
            id="unknown_enum_value_as_a_variable",
        ),
        pytest.param(
            'subscription { boardActivity(boardId: "QmFyZDox") { __typename } }',
            None,
            "Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, not over HTTP.",
            id="a_subscription_over_http",
        ),
    ],
)
async def test_ordinary_mistakes_name_themselves_instead_of_unexpected_error(
    api: Api, document: str, variables: dict[str, Any] | None, message: str
) -> None:
    body = await api(document, variables, expect_errors=True)
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith(message), body


async def test_control_characters_in_a_search_find_nothing_instead_of_failing(api: Api, ws: Workspace) -> None:
    """PostgreSQL refuses a NUL in any string it is sent: a search must never send one."""
    from tests.api.ops import create_board, idea_id

    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    body = await api(
        'query($q: String) { board(workspace: "acme", slug: "ideas") { ideas(search: $q) { totalCount } } }',
        {"q": "oat\u0000 milk"},
    )
    assert body["data"]["board"]["ideas"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param('{ idea(id: "SWRlYTrCsg") { id } }', {"idea": None}, id="unicode_digit_in_an_id"),  # Idea:²
        pytest.param('{ idea(id: "SWRlYTo0Mjk0OTY3Mjk2") { id } }', {"idea": None}, id="id_above_2_to_the_31"),
        pytest.param(
            '{ board(workspace: "ac\\u0000me", slug: "ideas") { id } }', {"board": None}, id="nul_in_a_workspace"
        ),
        pytest.param(  # found by tests/api/test_hostile_input.py
            '{ boards(workspace: "ac\\u0000me") { totalCount edges { cursor } } }',
            {"boards": {"totalCount": 0, "edges": []}},
            id="nul_in_a_workspace_of_boards",
        ),
    ],
)
async def test_odd_ids_and_names_find_nothing_instead_of_failing(
    api: Api, document: str, expected: dict[str, Any]
) -> None:
    """Each answered "Unexpected error." (a Unicode digit crashed int(); PostgreSQL refuses 2**32 for an int4
    column and a NUL in any string)."""
    assert await api(document) == {"data": expected}


async def test_a_failed_field_does_not_cancel_a_load_another_field_shares(api: Api, ws: Workspace) -> None:
    """Found by tests/api/test_hostile_input.py: graphql-core cancels the siblings of a failed non-null field, and
    cancelling one that waited on a DataLoader's shared future cancelled it under `b` too: the CancelledError
    escaped the request (HTTP 500 on a live server)."""
    from tests.api.ops import idea_id

    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    body = await api(
        """query($id: ID!) { a: idea(id: $id) { author { name } comments(first: 101) { totalCount } }
        b: idea(id: $id) { author { name } } }""",
        {"id": target},
        expect_errors=True,
    )
    assert body["data"] == {"a": None, "b": {"author": {"name": "Alice"}}}
    assert [e["path"] for e in body["errors"]] == [["a", "comments"]]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_read_cancelled_mid_statement_leaves_the_request_a_working_connection(services: Services) -> None:
    """graphql-core cancels the siblings of a failed non-null field, possibly in the middle of a statement on the
    request's shared read connection; later reads of the same request used to fail on the invalidated connection
    ("Can't reconnect until invalid transaction is rolled back")."""
    import asyncio

    from sqlalchemy import text

    from schema import SharedReads

    reads = SharedReads(services.db)
    slow = (
        "SELECT pg_sleep(5)"
        if services.db.engine.dialect.name == "postgresql"
        else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000000) SELECT count(*) FROM n"
    )

    async def stalled() -> None:
        async with reads.session() as session:
            await session.execute(text(slow))

    task = asyncio.get_running_loop().create_task(stalled())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with reads.session() as session:
        assert (await session.execute(text("SELECT 1"))).scalar() == 1
    await reads.close()


@pytest.mark.parametrize("own_session", [False, True])
async def test_a_read_cancelled_again_while_it_hands_its_connection_back_still_hands_it_back(
    services: Services, own_session: bool
) -> None:
    """graphql-core may cancel a sibling's task more than once. A read cancelled while it holds its session closes
    the session on the way out; a second cancel arriving during that close used to interrupt it, and SQLAlchemy's
    pool threw the connection away (on SQLite: invalidated, then terminated by a task of its own in the background,
    where an aiosqlite "Connection deleted before being closed" could fail an unrelated test). The close now runs to
    its end, whichever read it was: the request's shared one, or a session of the read's own (a sibling finishing
    after the operation)."""
    import asyncio
    import gc
    import warnings

    from sqlalchemy import event, text

    from schema import SharedReads

    pool = services.db.read_engine.sync_engine.pool
    dropped: list[str] = []
    event.listen(pool, "invalidate", lambda _c, _r, exc: dropped.append(f"invalidated: {exc!r}"))
    event.listen(pool, "close", lambda _c, _r: dropped.append("closed"))
    before = asyncio.all_tasks()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for turns in range(10):
            reads = SharedReads(services.db)
            if own_session:
                await reads.close()  # a read after the operation ended: a session of its own
            holding = asyncio.Event()

            async def reading() -> None:
                async with reads.session() as session:  # noqa: B023 (awaited within this iteration)
                    await session.execute(text("SELECT 1"))
                    holding.set()  # noqa: B023
                    await asyncio.Event().wait()  # a sibling's resolver, waiting on something else

            task = asyncio.get_running_loop().create_task(reading())
            await holding.wait()
            task.cancel()
            for _ in range(turns):  # the second cancel lands at a different step of the close each round
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await reads.close()
            assert pool.checkedout() == 0, turns  # type: ignore[attr-defined]
        gc.collect()
        assert asyncio.all_tasks() - before <= {asyncio.current_task()}  # nothing left closing in the background
    assert [str(w.message) for w in caught] == []
    assert dropped == []  # every connection went back to the pool, none was thrown away


_VOTE = "mutation($i: VoteInput!) { vote(input: $i) { idea { id } userErrors { code field } } }"
_TWO = 'query one { viewer { role } } query two { boards(workspace: "acme") { slug } }'


@pytest.mark.parametrize(
    ("body", "headers", "short"),
    [
        pytest.param({"query": "{ viewer { role } }"}, {}, True, id="a_query"),
        pytest.param({"query": "{ viewer { role } }", "variables": None, "extensions": None}, {}, True, id="nulls"),
        pytest.param({"query": "{ viewer { role } }", "extensions": {"x": 1}}, {}, True, id="extensions"),
        pytest.param({"query": _TWO, "operationName": "two"}, {}, True, id="operation_name"),
        pytest.param({"query": _TWO}, {}, True, id="no_operation_name"),
        pytest.param({"query": _TWO, "operationName": "three"}, {}, True, id="unknown_operation_name"),
        pytest.param({"query": "mutation { __typename }"}, {}, True, id="a_mutation"),
        pytest.param({"query": _VOTE, "variables": {"i": {"ideaId": "nope", "value": "UP"}}}, {}, True, id="refused"),
        pytest.param({"query": _VOTE, "variables": {"i": {"value": "UP"}}}, {}, True, id="bad_variables"),
        pytest.param({"query": "subscription { __typename }"}, {}, True, id="subscription_over_http"),
        pytest.param({"query": "{ nope }"}, {}, True, id="invalid"),
        pytest.param({"query": "{ viewer { role "}, {}, True, id="syntax_error"),
        pytest.param({"query": "{ nope }"}, {"accept": "application/graphql-response+json"}, True, id="request_error"),
        pytest.param({"query": "{ viewer { role } }"}, {"content-type": "application/json; charset=utf-8"}, True),
        pytest.param({"query": "{ viewer { role } }"}, {"content-type": "Application/JSON"}, False, id="odd_case"),
        pytest.param({"query": "{ viewer { role } }"}, {"content-type": "text/plain"}, False, id="not_json"),
        pytest.param({"variables": {}}, {}, False, id="no_query"),
        pytest.param({"query": None}, {}, False, id="null_query"),
        pytest.param({"query": 7}, {}, False, id="a_number_for_a_query"),
        pytest.param({"query": "{ viewer { role } }", "variables": []}, {}, False, id="a_list_of_variables"),
        pytest.param({"query": "{ viewer { role } }", "extensions": "x"}, {}, False, id="string_extensions"),
        pytest.param([{"query": "{ viewer { role } }"}], {}, False, id="a_batch"),
    ],
)
async def test_the_usual_request_taken_the_short_way_answers_as_strawberrys_run(
    client: httpx.AsyncClient,
    ws: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    body: Any,
    headers: dict[str, str],
    short: bool,
) -> None:
    """`GraphQLApp.run` serves an HTTP POST of one JSON operation without strawberry's questions: its answer
    (status, media type, body) is the one strawberry's own `run` gives, and whatever strawberry would read
    otherwise, or refuse, is left to strawberry."""
    from strawberry.http.async_base_view import AsyncBaseHTTPView

    from ideaengine.app import GraphQLApp

    read_by_strawberry = 0
    parse = AsyncBaseHTTPView.parse_http_body

    async def counted(self: Any, request: Any) -> Any:
        nonlocal read_by_strawberry
        read_by_strawberry += 1
        return await parse(self, request)

    monkeypatch.setattr(AsyncBaseHTTPView, "parse_http_body", counted)
    sent = {"authorization": f"Bearer {ws.api_key}", "content-type": "application/json", **headers}

    async def answer() -> tuple[int, str, Any]:
        response = await client.post("/graphql", content=json.dumps(body).encode(), headers=sent)
        return response.status_code, response.headers["content-type"], response.json()

    ours = await answer()
    assert read_by_strawberry == (0 if short else 1)
    monkeypatch.setattr(GraphQLApp, "_plain_operation", lambda self, request: _none())
    assert await answer() == ours


async def _none() -> None:
    return None


@pytest.mark.parametrize("sender", ["anonymous", "api_key", "unsubscribe"])
async def test_a_client_that_leaves_before_its_body_is_read_is_no_server_error(
    services: Services, ws: Workspace, caplog: pytest.LogCaptureFixture, sender: str
) -> None:
    """A caller that disconnects halfway through sending its request (a browser tab closed, a load tester
    stopping) gets nothing, and the server logs no error: there is no one to answer and nothing ran. It was an
    'Exception in ASGI application' with a traceback, and a 500 sent to no one. Anonymous GraphQL requests read
    the body for the response cache's key, a caller's when its operation is read; a mail client's one-click
    unsubscribe is another route that reads its body (`BodyLimit` ends them all)."""
    import logging
    from urllib.parse import urlsplit

    from ideaengine import mail
    from ideaengine.app import create_app

    app = create_app(services.settings, services)
    path, query, body, media_type = "/graphql", b"", b'{"query": "{ viewer', b"application/json"
    if sender == "unsubscribe":
        link = urlsplit(mail.unsubscribe_url(services.settings, services.box, 1))
        path, query = link.path, link.query.encode()
        body, media_type = b"List-Unsubscribe=One-", b"application/x-www-form-urlencoded"
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"test"), (b"content-type", media_type), (b"content-length", b"200")]
    if sender == "api_key":
        headers.append((b"authorization", f"Bearer {ws.api_key}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    with caplog.at_level(logging.DEBUG):
        await app(scope, receive, send)
    assert sent == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
