"""Property-based: arbitrary Unicode, huge numbers and odd shapes in every argument, input field, header and body
the API reads, as anonymous, member and admin, on both databases. Whatever is sent, the answer is a well-formed
GraphQL response or a clean 4xx with a JSON body: never a 5xx, "Unexpected error." or a stack trace.

The operations come from walking the schema's introspection, so a new field or argument is covered without
touching this file. Examples are bounded (IDEAENGINE_FUZZ_EXAMPLES; about 15 s in all per database); a failure
prints the request. Found this way, each with its own regression test: a CancelledError escaping a request and a
read connection left invalid by a cancelled field (test_http), cursors with out-of-range keys (test_paging), a NUL
in `boards(workspace:)` on PostgreSQL (test_http)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from graphql import introspection_from_schema
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jwt.utils import base64url_encode

from schema import build_schema
from tests.api.conftest import Api, Workspace
from tests.api.hostile import (
    HOSTILE_CHARACTERS,
    REAL_CURSORS,
    Operation,
    assert_clean,
    characters,
    client_schema,
    harvest_cursors,
    json_values,
    operations,
    texts,
)
from tests.api.ops import change_status, create_board, idea_id, vote

OPERATIONS = operations(client_schema(introspection_from_schema(build_schema()._schema)))
QUERIES = [op for op in OPERATIONS if op.document.startswith("query")]
ROLES = ("anonymous", "member", "admin")
URL_MAX = 60_000
"Longer than this, httpx refuses the URL itself (and servers answer 414): long variables go by POST."

EXAMPLES = int(os.environ.get("IDEAENGINE_FUZZ_EXAMPLES", "60"))
"Per test and database: a few seconds each on SQLite and on PostgreSQL. Raise it to hunt (a few thousand)."
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: a failure prints its request as drawn
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
async def seeded(api: Api, ws: Workspace) -> Workspace:
    """Rows for the drawn ids to find (Board:1-2, Idea:1-3, a comment, a vote), so input gets past NOT_FOUND."""
    board = await create_board(api, ws.api_key)
    await create_board(api, ws.api_key, slug="inside", visibility="PRIVATE")
    first = await idea_id(api, ws.token("alice"), board, "Oat milk in every store", tags=["drinks"])
    await idea_id(api, ws.token("bob"), board, "Longer opening hours")
    await idea_id(api, ws.token("alice"), board, "Free parking on Sundays")
    await api(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }",
        {"i": {"ideaId": first, "body": "Yes please"}},
        auth=ws.token("bob"),
    )
    await vote(api, ws.token("bob"), first, "UP")
    await change_status(api, ws.api_key, first, "UNDER_REVIEW", "Looking into it")  # alice is notified
    harvested: list[str] = []
    for op in QUERIES:
        for auth in (ws.api_key, ws.token("alice")):
            answer = await api(op.document, op.plausible_variables(), auth=auth, expect_errors=True)
            # Each document passes validation and the depth, alias, token and cost limits (or it fuzzes nothing).
            assert all("path" in e for e in answer.get("errors", ())), (op.name, answer["errors"])
            harvested += harvest_cursors(answer.get("data"))
    assert len(set(harvested)) >= 5, harvested
    REAL_CURSORS[:] = sorted(set(harvested))
    return ws


def credential(ws: Workspace, role: str) -> str | None:
    return {"anonymous": None, "member": ws.token("alice"), "admin": ws.api_key}[role]


def encoded(body: object) -> bytes:
    """JSON as a careless client writes it: lone surrogates become `\\ud800` escapes, which the server refuses."""
    return json.dumps(body).encode()


async def send(
    client: httpx.AsyncClient, op: Operation, variables: dict[str, Any], auth: str | None, get: bool
) -> dict[str, Any]:
    """As a client would: by GET for a query when asked (and the URL is not too long), else POST."""
    headers = {"authorization": f"Bearer {auth}"} if auth else {}
    query = urlencode({"query": op.document, "variables": json.dumps(variables)}, errors="surrogatepass")
    if get and len(query) < URL_MAX:
        response = await client.get(f"/graphql?{query}", headers=headers | {"accept": "application/json"})
    else:
        body = encoded({"query": op.document, "variables": variables})
        response = await client.post("/graphql", content=body, headers=headers | {"content-type": "application/json"})
    return assert_clean(response, {"operation": op.name, "variables": variables, "get": get})


@pytest.mark.parametrize("role", ROLES)
@FUZZ
@given(data=st.data())
async def test_any_argument_of_any_field_gets_a_graphql_answer(
    client: httpx.AsyncClient, seeded: Workspace, role: str, data: st.DataObject
) -> None:
    op = data.draw(st.sampled_from(OPERATIONS), label="operation")
    variables = data.draw(op.variables_strategy(), label="variables")
    get = op in QUERIES and data.draw(st.booleans(), label="GET")
    await send(client, op, variables, credential(seeded, role), get)


# --- headers ------------------------------------------------------------------------------------------------------


def header_bytes() -> st.SearchStrategy[bytes]:
    """What a raw HTTP header can carry: any byte but CR and LF (servers cut lines there), UTF-8 of any text
    (lone surrogates passed through), and plausible values with a twist."""
    return st.one_of(
        st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
        texts().map(lambda t: t.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")[:9000]),
        st.sampled_from([b"application/json", b"application/graphql-response+json", b"*/*", b"text/html", b""]),
        st.builds(
            lambda media, q: f"{media};q={q}".encode("utf-8", "surrogatepass"),
            st.sampled_from(["application/graphql-response+json", "application/json", "*/*"]),
            st.text(characters(), max_size=6),
        ),
    )


def claims_of(ws: Workspace) -> st.SearchStrategy[dict[str, Any]]:
    """SSO claims, each either what the host app sends or anything at all (lone surrogates, NUL, 1e30...)."""
    now = int(time.time())
    plausible: dict[str, st.SearchStrategy[Any]] = {
        "iss": st.just(ws.slug),
        "sub": st.sampled_from(["alice", "bob", "carol"]),
        "name": st.just("Alice"),
        "email": st.just("alice@example.com"),
        "exp": st.just(now + 3600),
        "iat": st.just(now),
        "role": st.sampled_from(["member", "moderator"]),
    }
    odd: st.SearchStrategy[Any] = st.one_of(
        json_values(),
        st.text(characters(), max_size=8),
        st.sampled_from([1e30, -1, 0, "1e30", str(now + 60), True, float(2**63)]),
    )
    return st.fixed_dictionaries({}, optional={k: v | odd for k, v in plausible.items()} | {"nbf": odd, "aud": odd})


def signed(header: object, claims: object, key: str) -> str:
    """A JWT signed with HS256 whatever its claims hold (PyJWT's encoder refuses a non-string `iss`)."""
    parts = [base64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    signature = hmac.new(key.encode(), b".".join(parts), hashlib.sha256).digest()
    return b".".join([*parts, base64url_encode(signature)]).decode()


def tokens(ws: Workspace) -> st.SearchStrategy[str]:
    keys = st.sampled_from([ws.sso_secret, "not-the-secret-but-long-enough-32b"])
    headers = (
        st.fixed_dictionaries({"alg": st.sampled_from(["HS256", "none", "RS256"]) | json_values()}) | json_values()
    )
    with_key = st.builds(signed, headers, claims_of(ws), keys)
    unsigned = st.builds(lambda token: token.rpartition(".")[0] + ".", with_key)
    api_keys = st.builds(lambda t: "iek_" + t, st.text(characters(), max_size=50))
    return st.one_of(with_key, unsigned, api_keys, st.sampled_from([ws.api_key, ws.api_key + "x"]))


HEADERS = ("x-request-id", "accept", "content-type", "origin", "x-forwarded-for", "cookie", "user-agent", "referer")


@FUZZ
@given(data=st.data())
async def test_any_header_gets_a_clean_answer(
    client: httpx.AsyncClient, seeded: Workspace, data: st.DataObject
) -> None:
    headers: list[tuple[bytes, bytes]] = list(
        data.draw(st.dictionaries(st.sampled_from(HEADERS).map(str.encode), header_bytes(), max_size=4)).items()
    )
    authorization = data.draw(
        st.none()
        | tokens(seeded).map(lambda t: b"Bearer " + t.encode("utf-8", "surrogatepass"))
        | header_bytes()
        | st.builds(lambda s, t: s + b" " + t, st.sampled_from([b"Bearer", b"bearer", b"Basic", b""]), header_bytes()),
        label="authorization",
    )
    if authorization is not None:
        headers.append((b"authorization", authorization))
    if not any(name == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"application/json"))
    op = data.draw(st.sampled_from(QUERIES), label="operation")
    body = encoded({"query": op.document, "variables": {}})
    response = await client.post("/graphql", content=body, headers=headers)
    assert_clean(response, {"operation": op.name, "headers": headers})


# --- bodies and query strings -------------------------------------------------------------------------------------


def bodies() -> st.SearchStrategy[Any]:
    """Request bodies of every JSON shape, and GraphQL-like ones whose members have the wrong type."""
    documents = st.sampled_from([op.document for op in OPERATIONS] + ["{ __typename }", "{", "subscription { x }"])
    members = st.fixed_dictionaries(
        {},
        optional={
            "query": documents | json_values(),
            "variables": json_values(),
            "operationName": st.sampled_from([op.name.title() for op in OPERATIONS]) | json_values(),
            "extensions": json_values(),
        },
    )
    return members | json_values()


@FUZZ
@given(data=st.data())
async def test_any_body_or_query_string_gets_a_clean_answer(
    client: httpx.AsyncClient, seeded: Workspace, data: st.DataObject
) -> None:
    auth = credential(seeded, data.draw(st.sampled_from(ROLES)))
    headers = {"authorization": f"Bearer {auth}"} if auth else {}
    how = data.draw(st.sampled_from(["json", "raw", "get"]), label="how")
    if how == "get":
        params = data.draw(
            st.dictionaries(st.sampled_from(["query", "variables", "operationName", "extensions"]), texts())
        )
        query = urlencode(params, encoding="utf-8", errors="surrogatepass")[:URL_MAX]
        response = await client.get(f"/graphql?{query}", headers=headers | {"accept": "application/json"})
        sent: object = params
    else:
        sent = data.draw(bodies(), label="body") if how == "json" else data.draw(st.binary(max_size=200), label="raw")
        content = encoded(sent) if how == "json" else sent
        assert isinstance(content, bytes)
        response = await client.post(
            "/graphql", content=content, headers=headers | {"content-type": "application/json"}
        )
    assert_clean(response, sent)


def test_the_walk_covers_every_field_and_argument() -> None:
    """A guard on the generator itself: every root field, and nested arguments such as `ideas(search:)`."""
    names = {op.name for op in OPERATIONS}
    assert {"board", "idea", "node", "submitIdea", "vote", "createWebhook", "markNotificationsRead"} <= names
    board = next(op for op in OPERATIONS if op.name == "board")
    assert {"board_workspace", "board_slug", "board_ideas_search", "board_ideas_after"} <= set(board.variables)
    assert HOSTILE_CHARACTERS.count("\x00") == 1
