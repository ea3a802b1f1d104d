"""Leaf fields completed in place: graphql-core's per-field steps skipped where they cannot change the answer.

For every field graphql-core builds a `GraphQLResolveInfo` (fourteen values), a list of the field's nodes, looks
the field up again and walks `complete_value`'s chain of type tests; for a leaf such as `IdeaNode.title` or
`Votes.up`, whose resolver reads an attribute and never looks at `info`, that is most of the field's cost, and a
page of ideas completes a few hundred of them. `LeafExecutionContext.execute_field` completes such a field
itself: it calls the resolver without an info, and coerces a plain value with the leaf type's own
`coerce_output_value`. Anything else (an awaitable, an exception returned as a value, null where the type is
non-null, a value the type refuses, arguments, middleware) goes back through graphql-core's own steps, so errors,
their messages and paths stay exactly graphql-core's.

A field qualifies (`plan_leaves`) when its type is a scalar or an enum, possibly non-null, it takes no
arguments, and its resolver is one that ignores `info`: strawberry's own for a field without a resolver
(`_is_default`) or a plain synchronous one that `schema.direct` calls directly (`INFO_FREE`).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from graphql.execution.executor import to_nodes
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

INFO_FREE = "_ideaengine_info_free"
"""The attribute `schema.direct` sets on a resolver it made that never reads its `info` argument."""

_LEAF = "_ideaengine_leaf"
"""The attribute `plan_leaves` sets on a qualifying field: (its leaf type, whether it is non-null, its resolver). A
field whose resolver was replaced since (a test puts strawberry's own back) is executed as graphql-core does."""


def plan_leaves(schema: GraphQLSchema) -> list[GraphQLField]:
    """Mark the fields of `schema`'s object types that `LeafExecutionContext` may complete itself."""
    marked = []
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type is schema.subscription_type:
            continue
        for graphql_field in graphql_type.fields.values():
            field_type = graphql_field.type
            non_null = isinstance(field_type, GraphQLNonNull)
            leaf = field_type.of_type if non_null else field_type
            resolve = graphql_field.resolve
            if (
                isinstance(leaf, GraphQLScalarType | GraphQLEnumType)
                and not graphql_field.args
                and resolve is not None
                and (getattr(resolve, "_is_default", False) or getattr(resolve, INFO_FREE, False))
            ):
                setattr(graphql_field, _LEAF, (leaf, non_null, resolve))
                marked.append(graphql_field)
    return marked


class LeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with marked leaf fields completed in place (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # strawberry passes a manager even when no extension resolves fields: then it wraps nothing.
        self._in_place = manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        field_def = parent_type.fields.get(node.name.value)
        plan = None if field_def is None else getattr(field_def, _LEAF, None)
        if plan is None or node.arguments or not self._in_place or field_def.resolve is not plan[2]:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        leaf, non_null, resolve = plan
        try:
            result = resolve(source, None)  # a planned resolver never reads `info`
            if result is None or result is Undefined:
                if not non_null:
                    return None
            elif not isinstance(result, Exception) and not self.is_awaitable(result):
                coerced = leaf.coerce_output_value(result)
                if coerced is not Undefined and coerced is not None:
                    return coerced
            # Anything unusual: graphql-core's own completion, for its own answer or error.
            info = self.build_resolve_info(field_def, to_nodes(field_details_list), parent_type, path)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    field_def.type, field_details_list, info, path, result, position_context
                )
            return self.complete_value(field_def.type, field_details_list, info, path, result, position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
