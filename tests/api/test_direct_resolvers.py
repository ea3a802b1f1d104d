"""Plain fields called directly and inputs converted by plan (schema/direct.py) answer as strawberry's own calls."""

from __future__ import annotations

import contextlib
import gc
import inspect
import re
import tomllib
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLField, GraphQLObjectType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryObjectDefinition

from ideaengine.app import GraphQLApp, create_app
from ideaengine.platform.models import IdeaStatus
from schema import build_schema
from schema.boards import StatusLabelInput, UpdateBoardInput
from schema.direct import call_directly, convert_inputs_directly
from schema.enums import Vote
from schema.ideas import SubmitIdeaInput
from schema.votes import VoteInput
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, drain, idea_id, vote

WIDE = """query($board: ID!) {
  viewer { role user { id name externalId } }
  board(workspace: "acme", slug: "ideas") {
    id slug name description visibility archived requiresApproval
    ideas(first: 20, sort: TOP) { totalCount edges { cursor node {
      id title body status tags createdAt updatedAt moderationState cost followerCount
      votes { up down } viewerVote viewerFollows viewerCanEdit
      author { id name externalId } board { slug }
      score { wilsonLowerBound rank stale }
      statusHistory { from to note actor { name } }
      comments(first: 5) { totalCount edges { node { id body official author { name } } } }
    } } }
  }
  node(id: $board) { id ... on Board { slug } }
}"""
"Most of what a board's page and its viewer read: plain fields (called directly) and the rest."


def _schema_of(app: Any) -> Any:
    graphql = next(route.app for route in app.routes if isinstance(getattr(route, "app", None), GraphQLApp))
    return graphql.schema


@contextlib.contextmanager
def strawberrys_own_calls(
    schema: Any, fields: list[GraphQLField], inputs: list[StrawberryObjectDefinition]
) -> Iterator[None]:
    """`schema` as strawberry builds it: every field through strawberry's chain, every input by its conversion,
    every leaf completed by graphql-core's own steps (schema/leaves.py)."""
    direct = [(field, field.resolve) for field in fields]
    context_class = schema.execution_context_class
    schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    plans = [(definition, definition.from_input) for definition in inputs]
    for field, _ in direct:
        field.resolve = schema.schema_converter.from_resolver(field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF])
    for definition, _ in plans:
        definition.from_input = None
    try:
        yield
    finally:
        schema.execution_context_class = context_class
        for field, resolve in direct:
            field.resolve = resolve
        for definition, plan in plans:
            definition.from_input = plan


@pytest.fixture
async def app_api(services: Any) -> AsyncIterator[tuple[Any, Api]]:
    app = create_app(services.settings, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield _schema_of(app), Api(client)


async def test_a_page_answers_the_same_as_through_strawberrys_own_calls(
    app_api: tuple[Any, Api], ws: Workspace, services: Any
) -> None:
    schema, api = app_api
    board = await create_board(api, ws.api_key)
    viewer, moderator = ws.token("viewer"), ws.token("mod", role="moderator")
    ideas = [await idea_id(api, ws.token(f"a{n}"), board, f"Idea number {n}", tags=["x", f"t{n}"]) for n in range(4)]
    await vote(api, viewer, ideas[0], "UP")
    await vote(api, viewer, ideas[1], "DOWN")
    assert (await change_status(api, moderator, ideas[2], "UNDER_REVIEW", note="Looking"))["userErrors"] == []
    await api(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }",
        {"i": {"ideaId": ideas[0], "body": "Yes please"}},
        auth=viewer,
    )
    await drain(services)  # the scores settle before the two reads
    fields, inputs = call_directly(schema), convert_inputs_directly(schema)
    direct = await api(WIDE, {"board": board}, auth=viewer)
    with strawberrys_own_calls(schema, fields, inputs):
        own = await api(WIDE, {"board": board}, auth=viewer)
    assert direct == own
    assert len(direct["data"]["board"]["ideas"]["edges"]) == 4


def _field(schema: Any, type_name: str, field_name: str) -> GraphQLField:
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    field: GraphQLField = graphql_type.fields[field_name]
    return field


def test_only_plain_fields_are_called_directly() -> None:
    """A field strawberry's chain could change keeps it: arguments, extensions (`DomainErrors`), subscriptions."""
    schema = build_schema()
    direct = {id(field) for field in call_directly(schema)}
    for plain in (("Idea", "title"), ("Idea", "votes"), ("Idea", "score"), ("Idea", "author"), ("Board", "slug")):
        assert id(_field(schema, *plain)) in direct, plain
    for kept in (("Board", "ideas"), ("Idea", "comments"), ("Mutation", "vote"), ("Query", "board")):
        assert id(_field(schema, *kept)) not in direct, kept
    subscriptions = schema._schema.subscription_type
    assert subscriptions is not None
    assert not any(id(field) in direct for field in subscriptions.fields.values())


def test_an_async_field_dropped_unawaited_warns_only_as_the_suite_expects() -> None:
    """graphql-core cancels the siblings of a failed non-null field, and drops one not yet started unawaited. Python
    then warns of the coroutine by name, at whatever moment the collector frees it: during a later test, which that
    warning fails unless pyproject's filters name it. A direct async field must drop only its wrapper, the name the
    filters know, and never have started its resolver."""
    config = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    ignored = [
        re.compile(entry.split(":")[1])
        for entry in config["tool"]["pytest"]["ini_options"]["filterwarnings"]
        if entry.startswith("ignore:") and entry.endswith(":RuntimeWarning")
    ]
    schema = build_schema()
    fields = [
        field
        for field in call_directly(schema)
        if inspect.iscoroutinefunction(
            field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].base_resolver.wrapped_func
        )
    ]
    assert len(fields) >= 2  # BoardNode.tags, StatusChangeType.actor
    for field in fields:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert field.resolve is not None
            dropped = field.resolve(object(), None)  # a source the resolver would fail on, had it started
            del dropped
            gc.collect(0)  # what it left is young: a full collection took seconds in a worker late in the suite
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1, messages
        assert any(pattern.match(messages[0]) for pattern in ignored), messages[0]


@pytest.mark.parametrize(
    ("input_type", "value"),
    [
        (VoteInput, {"ideaId": "SWRlYTox", "value": Vote.UP}),
        (VoteInput, {"ideaId": "SWRlYTox", "value": None}),
        (VoteInput, {"ideaId": "SWRlYTox"}),
        (SubmitIdeaInput, {"boardId": "Qm9hcmQ6MQ", "title": "Dark mode", "tags": ["ui", "night"]}),
        (SubmitIdeaInput, {"boardId": "Qm9hcmQ6MQ", "title": "Dark mode", "tags": None}),
        (
            UpdateBoardInput,
            {"boardId": "Qm9hcmQ6MQ", "statusLabels": [{"status": IdeaStatus.PLANNED, "label": "On the roadmap"}]},
        ),
        (UpdateBoardInput, {"boardId": "Qm9hcmQ6MQ", "name": "Roadmap"}),
    ],
)
def test_a_planned_input_converts_as_strawberry_does(input_type: type, value: dict[str, Any]) -> None:
    schema = build_schema()
    planned = convert_inputs_directly(schema)
    definition = input_type.__strawberry_definition__  # type: ignore[attr-defined]
    assert definition in planned
    registry, config = schema.schema_converter.scalar_registry, schema.config
    converted = convert_argument(value, input_type, registry, config)
    with strawberrys_own_calls(schema, [], planned):
        expected = convert_argument(value, input_type, registry, config)
    assert type(converted) is input_type
    assert converted == expected
    for given in value.values():  # lists are copies: graphql-core gives every request the same default
        if isinstance(given, list):
            assert all(item is not given for item in vars(converted).values())
    if "statusLabels" in value:
        assert isinstance(getattr(converted, "status_labels")[0], StatusLabelInput)  # noqa: B009
