"""A bounded schemathesis run: its GraphQL generator writes queries and mutations from the exported schema
(positive and negative cases), sends them to a live `ideaengine serve` (real HTTP parsing in uvicorn) as
anonymous, member and admin, on both databases, and checks each answer against the schema. On top of its checks:
never a 5xx, "Unexpected error." or a stack trace (tests/api/hostile.py's one check)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from schema import export_sdl
from tests.api.conftest import Workspace
from tests.api.hostile import assert_clean
from tests.conftest import Templates, new_database
from tests.realtime.conftest import Server, create_workspace, server_env

SCHEMA = schemathesis.graphql.from_file(export_sdl())
CASES = st.one_of(SCHEMA.as_strategy(GenerationMode.POSITIVE), SCHEMA.as_strategy(GenerationMode.NEGATIVE))
EXAMPLES = int(os.environ.get("IDEAENGINE_FUZZ_EXAMPLES", "30"))
"Per role and database (about 2 s each); raise it to hunt."


@dataclass
class Live:
    server: Server
    ws: Workspace

    def credential(self, role: str) -> dict[str, str]:
        token = {"anonymous": None, "member": self.ws.token("alice"), "admin": self.ws.api_key}[role]
        return {"Authorization": f"Bearer {token}"} if token else {}


def _ready(server: Server, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"the server exited with {server.proc.returncode}:\n{server.output()[-4000:]}")
        try:
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server did not start:\n{server.output()[-4000:]}")


def _seed(server: Server, ws: Workspace) -> None:
    """A board with an idea and a comment, so that ids the generator guesses (Board:1, Idea:1) find something."""

    def post(query: str, variables: dict[str, Any], auth: str) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        answer = httpx.post(server.url + "/graphql", json=body, headers={"Authorization": f"Bearer {auth}"})
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        return answer.json()["data"]  # type: ignore[no-any-return]

    board = post(
        "mutation($i: CreateBoardInput!) { createBoard(input: $i) { board { id } } }",
        {"i": {"slug": "ideas", "name": "Ideas"}},
        ws.api_key,
    )["createBoard"]["board"]["id"]
    idea = post(
        "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { idea { id } } }",
        {"i": {"boardId": board, "title": "Oat milk in every store"}},
        ws.token("alice"),
    )["submitIdea"]["idea"]["id"]
    post(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } } }",
        {"i": {"ideaId": idea, "body": "Yes please"}},
        ws.token("bob"),
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """One server per database for the module: its start costs more than a hundred requests."""
    tmp_path: Path = tmp_path_factory.mktemp("schemathesis")
    url, drop = new_database(templates, request.param, tmp_path)
    env = server_env(url)
    ws = create_workspace(env, "acme")
    server = Server(env, tmp_path, f"schemathesis-{request.param}")
    try:
        _ready(server)
        _seed(server, ws)
        yield Live(server, ws)
    finally:
        server.stop()
        drop()


@pytest.mark.parametrize("role", ["anonymous", "member", "admin"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(case=CASES)
def test_schemathesis_finds_no_server_error(live: Live, role: str, case: Any) -> None:
    response = case.call(base_url=live.server.url + "/graphql", headers=live.credential(role), timeout=30)
    assert_clean(response, {"operation": case.operation.label, "query": case.body, "role": role})
    case.validate_response(response, checks=[response_schema_conformance])
