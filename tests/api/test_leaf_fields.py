"""Leaf fields completed in place (schema/leaves.py) answer exactly as graphql-core's own steps: values, nulls,
errors, their messages and paths, and null propagating to the nearest nullable parent."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import build_schema
from schema.direct import call_directly
from schema.leaves import LeafExecutionContext, plan_leaves


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


async def _later() -> str:
    return "later"


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    count: int
    colour: Colour
    maybe_colour: Colour | None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("boom")

    @strawberry.field
    def broken_required(self) -> str:
        raise ValueError("boom, required")

    @strawberry.field
    def as_value(self) -> str | None:
        return ValueError("an error returned, not raised")  # type: ignore[return-value]

    @strawberry.field
    def echo(self, text: str) -> str:
        return text


def _things() -> list[Thing]:
    normal = Thing(name="lamp", nickname=None, count=3, colour=Colour.RED, maybe_colour=None)
    null_required = Thing(name=None, nickname="n", count=1, colour=Colour.BLUE, maybe_colour=Colour.RED)  # type: ignore[arg-type]
    too_big = Thing(name="big", nickname="b", count=2**40, colour=Colour.RED, maybe_colour=None)
    not_a_colour = Thing(name="odd", nickname=None, count=0, colour="green", maybe_colour="green")  # type: ignore[arg-type]
    return [normal, null_required, too_big, not_a_colour]


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        return list(_things())

    @strawberry.field
    def required_things(self) -> list[Thing]:
        return _things()[:2]

    @strawberry.field
    def awaited(self) -> Thing:
        """A plain field whose value is an awaitable: made only when the query asks for it (else never awaited)."""
        return Thing(name="soon", nickname=_later(), count=5, colour=Colour.BLUE, maybe_colour=None)  # type: ignore[arg-type]


def _schema(leaves: bool) -> strawberry.Schema:
    context = LeafExecutionContext if leaves else StrawberryGraphQLCoreExecutionContext
    schema = strawberry.Schema(query=Query, execution_context_class=context)
    if leaves:
        call_directly(schema)
        assert plan_leaves(schema._schema)
    return schema


QUERIES = [
    "{ things { name nickname count colour maybeColour shout } }",
    "{ things { __typename name alias: shout again: name } }",
    "{ things { broken } }",
    "{ things { name brokenRequired } }",
    "{ things { asValue } }",
    '{ things { echo(text: "hi") name } }',
    "{ requiredThings { name count } }",
    "{ things { name ...on Thing { count colour } } }",
    "{ awaited { name nickname } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_leaves_complete_as_graphql_core_does(query: str) -> None:
    answers: list[tuple[Any, Any]] = []
    for leaves in (False, True):
        result = asyncio.run(_schema(leaves).execute(query))
        answers.append((result.data, [error.formatted for error in result.errors or []]))
    assert answers[0] == answers[1]


def _planned(schema: strawberry.Schema) -> set[tuple[str, str]]:
    planned = {id(field) for field in plan_leaves(schema._schema)}
    return {
        (type_name, name)
        for type_name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType)
        for name, field in graphql_type.fields.items()
        if id(field) in planned
    }


def test_the_plan_takes_only_fields_that_ignore_info() -> None:
    planned = _planned(_schema(leaves=True))
    for plain in ("name", "nickname", "count", "colour", "maybeColour", "shout"):
        assert ("Thing", plain) in planned, plain
    assert ("Thing", "echo") not in planned  # arguments
    marked = _planned(build_schema())
    for leaf in (("Idea", "title"), ("Idea", "status"), ("Idea", "id"), ("IdeaScore", "rank"), ("VoteTally", "up")):
        assert leaf in marked, leaf
    for kept in (("Idea", "viewerVote"), ("Idea", "votes"), ("Board", "ideas"), ("Idea", "tags")):
        assert kept not in marked, kept  # reads info, an object, arguments, a list


def test_a_field_given_back_its_own_resolver_is_executed_as_graphql_core_does() -> None:
    """A resolver replaced after planning (a test restores strawberry's own) is never called without its info."""
    schema = _schema(leaves=True)
    shout = schema._schema.type_map["Thing"].fields["shout"]  # type: ignore[attr-defined]
    planned = shout.resolve
    shout.resolve = lambda source, info: f"{info.field_name}:{source.name}"
    try:
        result = asyncio.run(schema.execute("{ requiredThings { shout } }"))
    finally:
        shout.resolve = planned
    assert result.errors is None
    assert result.data == {"requiredThings": [{"shout": "shout:lamp"}, {"shout": "shout:None"}]}
