"""Query cost: counted before execution, refused over the caller's limit with QUERY_TOO_COMPLEX."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import get_introspection_query, parse

from schema import build_schema
from schema.cost import operation_cost
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board

PAGE = """query Page($n: Int) { board(workspace: "acme", slug: "ideas") {
  ideas(first: $n, sort: TOP) { edges { node { id title votes { up down } } } } } }"""


def heavy(aliases: int) -> str:
    """Each alias: a 100-idea page with 20 similar ideas per idea (6,401)."""
    page = 'board(workspace: "acme", slug: "ideas") { ideas(first: 100) { edges { node {'
    page += " title similar(first: 20) { idea { title } } } } } }"
    return "{ " + " ".join(f"a{i}: {page}" for i in range(aliases)) + " }"


def cost(document: str, variables: dict[str, Any] | None = None, operation: str | None = None) -> int:
    return operation_cost(build_schema()._schema, parse(document), operation, variables)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        # board 1; ideas, edges, node, id, title, votes, up, down: 8 fields resolved once per idea.
        pytest.param({"n": 20}, 1 + 8 * 20, id="twenty_ideas"),
        pytest.param({}, 1 + 8 * 20, id="the_default_page_of_twenty"),
        pytest.param({"n": 5}, 1 + 8 * 5, id="five_ideas"),
        pytest.param({"n": 10**9}, 1 + 8 * 100, id="a_page_too_large_is_refused_by_the_field_so_costs_the_largest"),
    ],
)
def test_a_page_costs_its_fields_times_its_size(variables: dict[str, Any], expected: int) -> None:
    assert cost(PAGE, variables) == expected


def test_fragments_and_nested_pages_multiply() -> None:
    document = """query { ...Top } fragment Top on Query { board(workspace: "a", slug: "b") {
        ideas(first: 10) { edges { node { ... on Idea { similar(first: 3) { similarity } } } } } } }"""
    # board 1; ideas, edges, node 10 each; similar 30, similarity 30.
    assert cost(document) == 1 + 3 * 10 + 2 * 30


def test_only_the_chosen_operation_counts() -> None:
    document = PAGE + " query Other { viewer { role } }"
    assert cost(document, {"n": 20}, "Other") == 2


def test_graphiqls_introspection_is_cheap() -> None:
    assert cost(get_introspection_query()) < 1_000


async def test_thirty_heavy_aliases_are_refused_before_anything_runs(api: Api, ws: Workspace) -> None:
    await create_board(api, ws.api_key)
    body = await api(heavy(30), expect_errors=True)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 192_030, "limit": 10_000}
    assert error["message"] == ("This query costs 192,030, over the limit of 10,000: ask for fewer items per page.")


async def test_one_heavy_page_runs_and_signed_in_callers_have_more_room(api: Api, ws: Workspace) -> None:
    await create_board(api, ws.api_key)
    one = await api(heavy(1))
    assert one["data"]["a0"]["ideas"]["edges"] == []
    three = heavy(3)  # 19,203
    refused = await api(three, expect_errors=True)
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "errors" not in await api(three, auth=ws.token("alice"))
