"""Query cost, counted before anything runs: one anonymous query must not be able to stall the server.

A field costs the number of times it may be resolved: the product of the page sizes (`first` or `last`,
else the argument's default; capped at the largest page a connection serves) of the list fields above it
and of itself. An operation costs the sum over its fields, fragments expanded (GitHub's node limit, counted
per field). The README's top-20 page costs a few hundred; thirty aliases of a 100-idea page with 20 similar
ideas each cost about 190,000.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from ideaengine.platform.queries import MAX_PAGE_SIZE

PAGE_ARGUMENTS = ("first", "last")


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None
) -> int:
    """The cost of the operation that will run (0 when none is chosen: validation says why)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [d for d in operations if d.name is not None and d.name.value == operation_name]
    if len(operations) != 1 or (root := schema.get_root_type(operations[0].operation)) is None:
        return 0
    return _Cost(schema, fragments, dict(variables or {})).of(root, operations[0].selection_set, 1, frozenset())


class _Cost:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]):
        self.schema, self.fragments, self.variables = schema, fragments, variables

    def of(self, parent: GraphQLNamedType, selections: SelectionSetNode, times: int, seen: frozenset[str]) -> int:
        total = 0
        for owner, node in self._fields(parent, selections, seen):
            definition = owner.fields.get(node.name.value) if isinstance(owner, _WithFields) else None
            here = times * self._page(node, definition)
            total += here
            if node.selection_set is not None and definition is not None:
                total += self.of(get_named_type(definition.type), node.selection_set, here, seen)
        return total

    def _fields(
        self, parent: GraphQLNamedType, selections: SelectionSetNode, seen: frozenset[str]
    ) -> Iterator[tuple[GraphQLNamedType, FieldNode]]:
        for node in selections.selections:
            if isinstance(node, FieldNode):
                yield parent, node
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition and self.schema.get_type(node.type_condition.name.value)
                yield from self._fields(condition or parent, node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:  # validation refuses cycles
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    condition = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self._fields(condition or parent, fragment.selection_set, seen | {node.name.value})

    def _page(self, node: FieldNode, definition: GraphQLField | None) -> int:
        if definition is None or not any(name in definition.args for name in PAGE_ARGUMENTS):
            return 1
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in PAGE_ARGUMENTS:
            if name not in given:
                continue
            value = given[name]
            if isinstance(value, IntValueNode):
                return _capped(int(value.value))
            if isinstance(value, VariableNode) and isinstance(self.variables.get(value.name.value), int):
                return _capped(self.variables[value.name.value])
        default = definition.args["first"].default_value if "first" in definition.args else None
        return _capped(default) if isinstance(default, int) else 1


_WithFields = GraphQLObjectType | GraphQLInterfaceType


def _capped(size: int) -> int:
    """Sizes beyond the largest page are refused by the field itself (BAD_USER_INPUT), so they cost no more."""
    return max(0, min(size, MAX_PAGE_SIZE))


class QueryCost(SchemaExtension):
    """Refuses an operation over its caller's cost limit before it runs: QUERY_TOO_COMPLEX, with both numbers."""

    def __init__(self, *, anonymous_limit: int, limit: int) -> None:
        self.anonymous_limit, self.limit = anonymous_limit, limit

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and not context.result:
            cost = operation_cost(
                context.schema._schema,  # strawberry keeps the graphql-core schema here and exposes no other name
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            actor = getattr(context.context, "actor", None)
            limit = self.limit if getattr(actor, "user_id", None) is not None else self.anonymous_limit
            if cost > limit:
                message = f"This query costs {cost:,}, over the limit of {limit:,}: ask for fewer items per page."
                error = GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": limit})
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield
