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

A small object is completed the same way (`plan_small_objects`): an object field with such a resolver and no
arguments, when every field asked of it is a planned leaf or, in turn, such a small object (`Idea.votes { up down }`
on every idea of a page; a vote's answer `idea { id votes { up down } }`). Whether the fields asked qualify is
worked out once per operation, before anything is resolved. The value is resolved once; anything unusual about it
or a field under it (its type's `is_type_of` refusing it, too) hands that value to graphql-core's
`complete_value`, which reads its fields again (they only read). So is a list of such objects (every payload's
`userErrors`), when it is a list or tuple and the field carries no directive. Callgrind, the event loop's
instructions: an uncached anonymous top-20 page 14.8 M to 14.0 M, a signed-in one 25.4 M to 24.7 M.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
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


_SMALL = "_ideaengine_small_object"
"""The attribute `plan_small_objects` sets on a qualifying object field: (its object type, whether it is non-null,
its resolver)."""

_LIST = "_ideaengine_small_list"
"""The attribute `plan_small_objects` sets on a qualifying list field: (its items' object type, whether the list is
non-null, its resolver, whether an item is non-null)."""


def _plain_fields(schema: GraphQLSchema) -> Iterator[tuple[GraphQLField, Any, bool]]:
    """The fields of `schema`'s object types (the subscription's aside) that take no arguments and whose resolver
    ignores `info`, each with its type as it is when not null, and whether it is non-null."""
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type is schema.subscription_type:
            continue
        for graphql_field in graphql_type.fields.values():
            resolve = graphql_field.resolve
            if graphql_field.args or resolve is None:
                continue
            if getattr(resolve, "_is_default", False) or getattr(resolve, INFO_FREE, False):
                non_null = isinstance(graphql_field.type, GraphQLNonNull)
                yield graphql_field, graphql_field.type.of_type if non_null else graphql_field.type, non_null


def plan_leaves(schema: GraphQLSchema) -> list[GraphQLField]:
    """Mark the fields of `schema`'s object types that `LeafExecutionContext` may complete itself."""
    marked = []
    for graphql_field, leaf, non_null in _plain_fields(schema):
        if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
            setattr(graphql_field, _LEAF, (leaf, non_null, graphql_field.resolve))
            marked.append(graphql_field)
    return marked


def plan_small_objects(schema: GraphQLSchema) -> list[GraphQLField]:
    """Mark the object fields of `schema`'s object types that `LeafExecutionContext` may complete itself when
    every field asked of them is planned (such as `Idea.votes`, a `VoteTally` of the idea's counts), and the
    list fields whose items are such objects (a payload's `userErrors`)."""
    marked = []
    for graphql_field, target, non_null in _plain_fields(schema):
        if _small(target):
            setattr(graphql_field, _SMALL, (target, non_null, graphql_field.resolve))
            marked.append(graphql_field)
        elif isinstance(target, GraphQLList):
            item = target.of_type
            item_non_null = isinstance(item, GraphQLNonNull)
            if _small(item := item.of_type if item_non_null else item):
                setattr(graphql_field, _LIST, (item, non_null, graphql_field.resolve, item_non_null))
                marked.append(graphql_field)
    return marked


def _small(target: Any) -> bool:
    """Whether objects of a type may be completed in place: an object type whose `is_type_of`, if any, is
    strawberry's."""
    return isinstance(target, GraphQLObjectType) and (target.is_type_of is None or _strawberrys(target.is_type_of))


def _strawberrys(is_type_of: Any) -> bool:
    """Whether an `is_type_of` is the one strawberry makes for a type with interfaces, which ignores its `info`
    (an isinstance check): a type's own may read it, and its objects keep graphql-core's steps."""
    return str(getattr(is_type_of, "__qualname__", "")).endswith("._get_is_type_of.<locals>.is_type_of")


_NO_INFO: Any = None
"""The `info` a planned resolver or `is_type_of` gets: one that never reads it."""


_Step = tuple[str, "tuple[Any, bool, Any] | None", "list[_Step] | None"]
"""One field asked of a planned object: its response key, its plan (None for `__typename`) and, for a small
object, the steps of the fields asked of it."""


class LeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with marked leaf fields completed in place (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # strawberry passes a manager even when no extension resolves fields: then it wraps nothing.
        self._in_place = manager is None or not manager.middlewares
        self._steps: dict[tuple[GraphQLObjectType, int], list[_Step] | None] = {}
        "`_steps_of` by type and field list, memoized as graphql-core's `collect_subfields` (which keeps the list)."

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
        if field_def is None or node.arguments or not self._in_place:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        plan, steps, items = getattr(field_def, _LEAF, None), None, None
        if plan is None:
            small = getattr(field_def, _SMALL, None)
            listed = None if small is not None or node.directives else getattr(field_def, _LIST, None)  # no @stream
            plan = small or listed
            if plan is not None:
                steps = self._steps_of(plan[0], field_details_list)
                if steps is None:  # a field asked of it is not planned: graphql-core's steps, resolved once
                    plan = None
                elif listed is not None:
                    items = listed[3]
        if plan is None or field_def.resolve is not plan[2]:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        target, non_null, resolve = plan[:3]
        try:
            result = resolve(source, None)  # a planned resolver never reads `info`
            if result is None or result is Undefined:
                if not non_null:
                    return None
            elif not isinstance(result, Exception) and not self.is_awaitable(result):
                if steps is None:
                    done = target.coerce_output_value(result)
                elif items is None:
                    done = self._fields_of(target, result, steps)
                else:
                    done = self._items_of(target, items, result, steps)
                if done is not Undefined and done is not None:
                    return done
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
        return self._complete(field_def, parent_type, field_details_list, path, result, position_context)

    def _items_of(
        self, item_type: GraphQLObjectType, item_non_null: bool, value: Any, steps: list[_Step]
    ) -> list[Any] | None:
        """A list field's items completed in place, when `value` is a list or tuple and every item is (or is
        null where the items may be); else None."""
        if type(value) is not list and type(value) is not tuple:
            return None
        items: list[Any] = []
        for item in value:
            done = None if item is None else self._fields_of(item_type, item, steps)
            if done is None and (item is not None or item_non_null):
                return None
            items.append(done)
        return items

    def _complete(
        self,
        field_def: GraphQLField,
        parent_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """Anything unusual about a planned field's value: graphql-core's own completion of it, for its own
        answer or error (a small object's leaves read again)."""
        try:
            info = self.build_resolve_info(field_def, to_nodes(field_details_list), parent_type, path)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    field_def.type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(field_def.type, field_details_list, info, path, result, position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
        if not self.is_awaitable(completed):
            return completed

        async def await_completed() -> Any:  # an object's fields may be awaited: as graphql-core's execute_field does
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, field_def.type, field_details_list, path)
                return None

        return await_completed()

    def _steps_of(self, object_type: GraphQLObjectType, field_details_list: Any) -> list[_Step] | None:
        """How to complete the fields asked of an object of `object_type` in place, when every one is planned (a
        leaf, or a small object whose own fields are); else None. Worked out once per operation: it depends only
        on the types and the operation (its fragments, and its variables through @include and @skip)."""
        key = (object_type, id(field_details_list))
        if key not in self._steps:
            self._steps[key] = self._plan_steps(object_type, field_details_list)
        return self._steps[key]

    def _plan_steps(self, object_type: GraphQLObjectType, field_details_list: Any) -> list[_Step] | None:
        grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
        if deferred:
            return None
        steps: list[_Step] = []
        for response_key, sub in grouped.items():
            node = sub[0].node
            name = node.name.value
            if name == "__typename":
                steps.append((response_key, None, None))
                continue
            sub_def = object_type.fields.get(name)
            if sub_def is None or node.arguments:
                return None
            leaf = getattr(sub_def, _LEAF, None)
            plan = leaf or getattr(sub_def, _SMALL, None)
            if plan is None or sub_def.resolve is not plan[2]:
                return None
            inner = None if leaf is not None else self._steps_of(plan[0], sub)
            if leaf is None and inner is None:
                return None
            steps.append((response_key, plan, inner))
        return steps

    def _fields_of(self, object_type: GraphQLObjectType, value: Any, steps: list[_Step]) -> dict[str, Any] | None:
        """`value`'s fields asked for (`steps`), when `object_type` takes it and every one resolves to a plain
        value its type takes; else None, for graphql-core's own steps (an empty selection cannot happen: GraphQL
        asks for at least one field of an object)."""
        try:
            if object_type.is_type_of is not None and not object_type.is_type_of(value, _NO_INFO):
                return None
        except Exception:  # graphql-core's own steps call it again, and report what it raises
            return None
        completed: dict[str, Any] = {}
        for response_key, plan, inner in steps:
            if plan is None:
                completed[response_key] = object_type.name
                continue
            target, non_null, resolve = plan
            try:
                found = resolve(value, None)
                if found is None or found is Undefined:
                    if non_null:
                        return None
                    completed[response_key] = None
                    continue
                if isinstance(found, Exception) or self.is_awaitable(found):
                    if inspect.iscoroutine(found) and not getattr(resolve, "_is_default", False):
                        found.close()  # a resolver that makes one each call: graphql-core's own call makes its own
                    return None
                done = target.coerce_output_value(found) if inner is None else self._fields_of(target, found, inner)
            except Exception:  # graphql-core's own steps raise it again, and report it at the field's path
                return None
            if done is Undefined or done is None:
                return None
            completed[response_key] = done
        return completed
