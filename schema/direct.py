"""Plain fields and inputs, resolved without strawberry's per-value machinery (faster, same answers).

Strawberry runs every field that has a resolver through one chain: it makes an `Info`, converts the field's
arguments, folds in the field's extensions, then binds `self` and `info` by inspecting the resolver's parameters,
each time. For a field such as `IdeaNode.title` (`return self.model.title`) that chain is most of the field's
cost, and a signed-in top-20 page resolves some 200 of them; strawberry's own fast path covers only fields
without a resolver. Input arguments are converted the same way: each field's GraphQL name, type and kind
looked up anew for every value. Measured with callgrind on the demo board: 4.5 of a signed-in page's 33 million
instructions went there.

`call_directly` lets graphql-core call a plain resolver itself; `convert_inputs_directly` plans each plain input
type's conversion once, through strawberry's `from_input` hook. Where anything in strawberry's chain could change
the answer, the field or input keeps it.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo
from strawberry.relay.types import GlobalID
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import InputContext, _is_leaf_type, convert_argument
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    StrawberryType,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

from schema.leaves import INFO_FREE

Resolve = Callable[[Any, GraphQLResolveInfo[Any]], Any]


def call_directly(schema: strawberry.Schema) -> list[GraphQLField]:
    """Let graphql-core call each plain resolver of `schema`'s object types itself; returns their fields. A plain
    resolver takes no arguments but `self` and perhaps `info`, and its field has no extensions (permissions and
    `DomainErrors` are extensions), no exception handler, and strawberry's own `get_result` and call: anything
    else keeps strawberry's chain. Subscriptions keep it too (their resolvers are generators)."""
    if schema.schema_converter._exception_handler_specs:
        return []  # a handler may apply to any field: strawberry's chain finds which
    subscription = schema._schema.subscription_type
    changed = []
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type is subscription:
            continue
        for graphql_field in graphql_type.fields.values():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(field, StrawberryField) and (direct := _direct(schema, field)):
                graphql_field.resolve = direct
                changed.append(graphql_field)
    return changed


def _direct(schema: strawberry.Schema, field: StrawberryField) -> Resolve | None:
    resolver = field.base_resolver
    if (
        resolver is None
        or field.extensions
        or field.arguments
        or type(field).get_result is not StrawberryField.get_result
        or type(resolver).__call__ is not StrawberryResolver.__call__
        or resolver.self_parameter is None
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
        or inspect.isasyncgenfunction(resolver.wrapped_func)
        or inspect.isgeneratorfunction(resolver.wrapped_func)
        or not callable(resolver.wrapped_func)
    ):
        return None
    if len(resolver.signature.parameters) != 1 + (resolver.info_parameter is not None):
        return None  # a parameter strawberry binds some other way: keep its chain
    func: Callable[..., Any] = resolver.wrapped_func
    parameter = resolver.info_parameter
    if parameter is not None and parameter.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
        return None  # `info` by keyword only: rare enough to leave to strawberry
    info_class = schema.config.info_class
    call: Resolve = (
        (lambda source, _info: func(source))
        if parameter is None
        else (lambda source, info: func(source, info_class(_raw_info=info, _field=field)))
    )
    if inspect.iscoroutinefunction(func):
        return _awaiting(call)
    if parameter is None:
        setattr(call, INFO_FREE, True)  # schema.leaves may call it without an info
    return call


def _awaiting(call: Resolve) -> Resolve:
    """An async resolver, called only once graphql-core awaits it. graphql-core cancels the siblings of a failed
    non-null field, and one cancelled before it started is dropped unawaited: Python then warns of the dropped
    coroutine by its name, which is this one's for every direct field (the suite's filters name it, as they name
    strawberry's own wrapper), and the resolver itself never ran."""

    async def direct_resolver(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        return await call(source, info)

    return direct_resolver


def convert_inputs_directly(schema: strawberry.Schema) -> list[StrawberryObjectDefinition]:
    """Give each plain input type of `schema` a conversion planned once (`_PlainInput`); returns their definitions.
    A plain input has fields of scalars, enums, lists of them and other inputs, each perhaps optional; anything
    else (`Maybe`, a GlobalID) keeps strawberry's conversion."""
    planned = []
    for concrete in schema.schema_converter.type_map.values():
        definition = concrete.definition
        if not isinstance(definition, StrawberryObjectDefinition) or not definition.is_input:
            continue
        # The definition is the class's own, shared by every schema built in the process: planned once.
        if definition.from_input is None and (plain := _PlainInput.of(definition, schema)) is not None:
            definition.from_input = plain
        if isinstance(definition.from_input, _PlainInput):
            planned.append(definition)
    return planned


def _same(value: Any) -> Any:
    return value


class _PlainInput:
    """An input type's conversion, planned once: per field, its GraphQL name, Python name and value converter."""

    def __init__(self, fields: list[tuple[str, str, Callable[[Any], Any]]], unset: dict[str, None]) -> None:
        self.fields = fields
        self.unset = unset
        "The fields without a default, None until given, as strawberry does (the dataclass requires them)."

    @classmethod
    def of(cls, definition: StrawberryObjectDefinition, schema: strawberry.Schema) -> _PlainInput | None:
        fields = []
        for field in definition.fields:
            convert = _converter(field.resolve_type(type_definition=definition), schema)
            if convert is None:
                return None
            fields.append((schema.config.name_converter.from_field(field), field.python_name, convert))
        unset = {
            field.python_name: None
            for field in definition.fields
            if field.default_value is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        }
        return cls(fields, unset)

    def __call__(self, type_: type, value: Mapping[str, Any], context: InputContext) -> Any:
        kwargs: dict[str, Any] = dict(self.unset)
        for graphql_name, python_name, convert in self.fields:
            if graphql_name in value:
                kwargs[python_name] = convert(value[graphql_name])
        return type_(**kwargs)


def _converter(type_: StrawberryType | type, schema: strawberry.Schema) -> Callable[[Any], Any] | None:
    """What strawberry's `convert_argument` does to a value of `type_`, as one function; None where the type is
    not plain (see `convert_inputs_directly`)."""
    registry, config = schema.schema_converter.scalar_registry, schema.config
    if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
        return None
    if isinstance(type_, LazyType):
        return _converter(type_.resolve_type(), schema)
    if isinstance(type_, StrawberryOptional):
        return _converter(type_.of_type, schema)  # each converter passes None (and UNSET) through
    if isinstance(type_, StrawberryList):
        item = _converter(type_.of_type, schema)
        if item is None:
            return None
        if item is _same:  # copied all the same: graphql-core gives every request the same default list
            return _given(list)
        return _given(lambda value: [item(v) for v in value])
    if _is_leaf_type(type_, registry) or has_enum_definition(type_):
        return _same
    if has_object_definition(type_) and type_.__strawberry_definition__.is_input:
        # Through strawberry, which calls that input's own plan where it has one (inputs may nest themselves).
        return _given(lambda value: convert_argument(value, type_, registry, config))
    return None


def _given(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert` for a value given; None and UNSET pass through, as strawberry passes them."""
    return lambda value: value if value is None or value is UNSET else convert(value)
