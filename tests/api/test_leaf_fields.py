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
from schema.leaves import LeafExecutionContext, plan_leaves, plan_small_objects


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


async def _later() -> str:
    return "later"


@strawberry.type
class Size:
    width: int
    height: int | None
    label: str

    @strawberry.field
    def area(self) -> int:
        return self.width * (self.height or 0)

    @strawberry.field
    def broken(self) -> int | None:
        raise ValueError("no size")

    @strawberry.field
    def scaled(self, by: int) -> int:
        return self.width * by

    @strawberry.field
    def soon(self) -> str:
        """A plain resolver whose value is a new awaitable each call."""
        return _later()  # type: ignore[return-value]


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Box(Named):
    """An object of an interface (strawberry gives its type an `is_type_of`) holding small objects."""

    size: Size | None
    required_size: Size


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

    @strawberry.field
    def size(self) -> Size | None:
        """An object made from the thing's own values: completed in place when only its leaves are asked."""
        return _size_of(self)

    @strawberry.field
    def required_size(self) -> Size:
        return _size_of(self)  # type: ignore[return-value]

    @strawberry.field
    def broken_size(self) -> Size | None:
        raise ValueError("no size here")

    @strawberry.field
    def box(self) -> Box | None:
        """Small objects in a small object: completed in place when only their leaves are asked."""
        return Box(name=f"box of {self.name}", size=_size_of(self), required_size=_size_of(self))  # type: ignore[arg-type]

    @strawberry.field
    def sizes(self) -> list[Size]:
        """A list of small objects (an empty one for a thing without a size)."""
        size = _size_of(self)
        return [] if size is None else [size, size]

    @strawberry.field
    def maybe_sizes(self) -> list[Size | None] | None:
        """Nulls among the items, a null list, and a tuple rather than a list."""
        if self.count == 0:
            return None
        return (None, _size_of(self))  # type: ignore[return-value]

    @strawberry.field
    def lazy_sizes(self) -> list[Size]:
        """An iterable that is not a list: graphql-core's own steps."""
        return iter([s for s in (_size_of(self),) if s is not None])  # type: ignore[return-value]

    @strawberry.field
    def broken_sizes(self) -> list[Size] | None:
        raise ValueError("no sizes")

    @strawberry.field
    def not_a_box(self) -> Box | None:
        """A value its type's `is_type_of` refuses."""
        return _size_of(self)  # type: ignore[return-value]


def _size_of(thing: Thing) -> Size | None:
    if thing.count == 0:
        return None
    return Size(width=thing.count, height=None if thing.count == 1 else 2, label=thing.name)


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
        assert plan_small_objects(schema._schema)
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
    "{ things { size { width height label area } } }",
    "{ things { s: size { __typename w: width again: width } } }",
    "{ things { size { width broken } } }",
    "{ things { name requiredSize { width } } }",
    "{ requiredThings { requiredSize { label } } }",
    "{ things { brokenSize { width } } }",
    "{ things { size { width scaled(by: 3) } } }",
    "{ things { size { width soon } } }",
    "{ things { size { ...on Size { height } width @include(if: false) label @skip(if: false) } } }",
    "query($with: Boolean!) { things { size { width @include(if: $with) label } } }",
    "{ things { box { name size { width height label } } } }",
    "{ things { box { __typename n: name s: size { w: width } again: size { label } } } }",
    "{ things { box { requiredSize { width } name } } }",
    "{ things { box { size { width broken } } } }",
    "{ things { box { size { width soon } } } }",
    "{ things { box { size { scaled(by: 2) } } } }",
    "{ things { box { ...on Named { name } ...on Box { size { area } } } } }",
    "{ things { notABox { name } } }",
    "{ requiredThings { box { requiredSize { label } } } }",
    "query($with: Boolean!) { things { box { size { width @include(if: $with) } name @skip(if: $with) } } }",
    "{ things { sizes { width label } } }",
    "{ things { sizes { __typename height } maybeSizes { width } } }",
    "{ things { maybeSizes { width broken } } }",
    "{ things { lazySizes { width } brokenSizes { width } } }",
    "{ things { sizes { width scaled(by: 2) } } }",
    "query($with: Boolean!) { things { sizes @include(if: $with) { width } } }",
    "{ requiredThings { sizes { label } } }",
]


@pytest.mark.parametrize("variables", [{"with": True}, {"with": False}])
@pytest.mark.parametrize("query", QUERIES)
def test_leaves_complete_as_graphql_core_does(query: str, variables: dict[str, Any]) -> None:
    answers: list[tuple[Any, Any]] = []
    for leaves in (False, True):
        result = asyncio.run(_schema(leaves).execute(query, variable_values=variables))
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


@pytest.fixture
def completed_by_graphql_core(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The object types graphql-core's own steps complete, in order."""
    completed: list[str] = []
    own = StrawberryGraphQLCoreExecutionContext.complete_object_value

    def spy(self: Any, return_type: Any, *args: Any) -> Any:
        completed.append(return_type.name)
        return own(self, return_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "complete_object_value", spy)
    return completed


def test_only_what_graphql_core_must_complete_reaches_it(completed_by_graphql_core: list[str]) -> None:
    """Of four things' sizes, two are completed in place and one is null; the one whose width no Int holds is
    completed by graphql-core's own steps, which report it at the width."""
    result = asyncio.run(_schema(leaves=True).execute("{ things { size { width } } }"))
    assert result.data == {"things": [{"size": {"width": 3}}, {"size": {"width": 1}}, {"size": None}, {"size": None}]}
    assert [error.path for error in result.errors or []] == [["things", 2, "size", "width"]]
    assert completed_by_graphql_core.count("Size") == 1


def test_objects_in_objects_reach_graphql_core_only_where_something_is_unusual(
    completed_by_graphql_core: list[str],
) -> None:
    """Four things' boxes: the box of the thing without a size (a required size that is null) and the box whose
    size holds a width no Int holds go through graphql-core's own steps, and only those two."""
    query = "{ things { box { name requiredSize { width } } } }"
    result = asyncio.run(_schema(leaves=True).execute(query))
    assert result.data == {
        "things": [
            {"box": {"name": "box of lamp", "requiredSize": {"width": 3}}},
            {"box": {"name": "box of None", "requiredSize": {"width": 1}}},
            {"box": None},
            {"box": None},
        ]
    }
    assert completed_by_graphql_core.count("Box") == 2


def test_a_list_of_small_objects_reaches_graphql_core_only_where_an_item_is_unusual(
    completed_by_graphql_core: list[str],
) -> None:
    """Three things' two sizes each, and none for the fourth: only the list whose sizes hold a width no Int holds
    goes through graphql-core's own steps (which stop at its first item, report the error there and null the
    thing, whose list is required)."""
    result = asyncio.run(_schema(leaves=True).execute("{ things { sizes { width } } }"))
    assert result.data == {
        "things": [{"sizes": [{"width": 3}] * 2}, {"sizes": [{"width": 1}] * 2}, None, {"sizes": []}]
    }
    assert [error.path for error in result.errors or []] == [["things", 2, "sizes", 0, "width"]]
    assert completed_by_graphql_core.count("Size") == 1


def test_small_objects_planned_are_those_of_plain_resolvers() -> None:
    schema = build_schema()._schema
    mine = {id(field) for field in plan_small_objects(schema)}
    idea = schema.type_map["Idea"].fields  # type: ignore[attr-defined]
    assert id(idea["votes"]) in mine  # a VoteTally of the idea's own counts
    assert id(idea["score"]) not in mine  # reads its loader from info.context
    assert id(idea["author"]) not in mine
