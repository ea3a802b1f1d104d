"""Query cost: counted before execution, refused over the caller's limit with QUERY_TOO_COMPLEX."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import get_introspection_query, parse

from schema import build_schema
from schema.cost import Costs, operation_cost, page_variables
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board

PAGE = """query Page($n: Int) { board(workspace: "acme", slug: "ideas") {
  ideas(first: $n, sort: TOP) { edges { node { id title votes { up down } } } } } }"""


def heavy(aliases: int) -> str:
    """Each alias: a 100-idea page with 20 similar ideas per idea (6,401)."""
    page = 'board(workspace: "acme", slug: "ideas") { ideas(first: 100) { edges { node {'
    page += " title similar(first: 20) { idea { title } } } } } }"
    return "{ " + " ".join(f"a{i}: {page}" for i in range(aliases)) + " }"


def sized(aliases: int) -> str:
    """`heavy` with its page sizes in variables: $n ideas, $m similar ideas each."""
    page = 'board(workspace: "acme", slug: "ideas") { ideas(first: $n) { edges { node {'
    page += " title similar(first: $m) { idea { title } } } } } }"
    return "query Sized($n: Int, $m: Int) { " + " ".join(f"a{i}: {page}" for i in range(aliases)) + " }"


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


EITHER_END = """query Ends($a: Int, $b: Int) { board(workspace: "a", slug: "b") {
    ideas(first: $a, last: $b) { edges { node { id } } } } } query Other { viewer { role } }"""


@pytest.mark.parametrize(
    ("document", "operation", "variables"),
    [
        pytest.param(PAGE, None, [{"n": 20}, {}, {"n": 5}, {"n": 10**9}, {"n": 100}, {"n": "5"}, {"n": -3}], id="page"),
        pytest.param(
            EITHER_END,
            "Ends",
            [{"a": 7}, {"a": None, "b": 3}, {"b": 9}, {"a": None, "b": 4}, {"a": 2, "b": 4}, {"a": True}],
            id="first_or_else_last",
        ),
        pytest.param(EITHER_END, "Other", [{}, {"a": 50}], id="the_other_operation"),
        pytest.param(EITHER_END, None, [{}], id="no_operation_chosen"),
        pytest.param(heavy(3), None, [{}, {"n": 1}], id="no_variables"),
    ],
)
def test_a_kept_cost_is_the_cost_counted_afresh(document: str, operation: str | None, variables: list[Any]) -> None:
    """Kept per document, operation and page sizes: a document sent again with other sizes costs what they say."""
    schema, parsed, costs = build_schema()._schema, parse(document), Costs()
    for given in [*variables, *reversed(variables)]:
        assert costs.cost(schema, parsed, operation, given) == operation_cost(schema, parsed, operation, given)


def test_only_variables_that_size_pages_key_a_kept_cost() -> None:
    assert page_variables(parse(EITHER_END)) == ("a", "b")
    fragment = "query Q($x: Int, $y: Int, $t: String) { ...F } fragment F on Query { a(first: $x, tag: $t) {"
    fragment += " ... on B { c(last: $y) } } }"
    assert page_variables(parse(fragment)) == ("x", "y")


def test_kept_costs_are_bounded() -> None:
    schema, costs = build_schema()._schema, Costs(maxsize=2)
    first, second, third = parse(PAGE), parse(PAGE), parse(PAGE)
    for document in (first, second, first, third):  # `second` is the least recently used when `third` comes
        costs.cost(schema, document, None, {"n": 5})
    assert costs.kept() == [first, third]


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


async def test_the_same_document_costs_what_its_variables_ask_each_time(api: Api, ws: Workspace) -> None:
    """The parser cache hands the same parsed document for the same text: its kept cost follows the page sizes."""
    await create_board(api, ws.api_key)
    assert "errors" not in await api(sized(3), {"n": 1, "m": 1})
    refused = await api(sized(3), {"n": 100, "m": 20}, expect_errors=True)
    assert refused["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 19_203, "limit": 10_000}
    assert "errors" not in await api(sized(3), {"n": 100, "m": 20}, auth=ws.token("alice"))
    assert "errors" not in await api(sized(3), {"n": 1, "m": 1})
