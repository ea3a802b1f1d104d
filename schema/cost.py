"""Query cost, counted before anything runs: one anonymous query must not be able to stall the server.

A field costs the number of times it may be resolved: the product of the page sizes (`first` or `last`,
else the argument's default; capped at the largest page a connection serves) of the list fields above it
and of itself. An operation costs the sum over its fields, fragments expanded (GitHub's node limit, counted
per field). The README's top-20 page costs a few hundred; thirty aliases of a 100-idea page with 20 similar
ideas each cost about 190,000.

A cost depends only on the document, the operation chosen and the page sizes its variables give, so each is
counted once (`Costs`): clients send the same few documents again and again.
"""

from __future__ import annotations

from collections import OrderedDict
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
from strawberry.types import ExecutionContext

from ideaengine.platform.queries import MAX_PAGE_SIZE
from schema.caches import CACHED_DOCUMENTS, cacheable

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


def page_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables given as `first` or `last` anywhere in the document: the only ones a cost reads (a superset:
    on a field without page arguments, or after a `first` that is set, they are not read)."""
    names: dict[str, None] = {}
    pending = [
        d.selection_set for d in document.definitions if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FieldNode):
                for argument in node.arguments or ():
                    if argument.name.value in PAGE_ARGUMENTS and isinstance(argument.value, VariableNode):
                        names[argument.value.name.value] = None
            if isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set is not None:
                pending.append(node.selection_set)
    return tuple(names)


class _Counted:
    """One document's costs so far, per operation name and page sizes given by its variables."""

    SIZES_KEPT = 64
    "Distinct operations and page sizes kept per document: a client pages with a few sizes, not hundreds."

    def __init__(self, document: DocumentNode) -> None:
        self.document = document  # held: the cache is keyed on its id, which stays its own while it lives
        self.variables = page_variables(document)
        self.costs: dict[tuple[str | None, tuple[int | None, ...]], int] = {}

    def cost(self, schema: GraphQLSchema, operation_name: str | None, variables: Mapping[str, Any] | None) -> int:
        given = variables or {}
        # What a cost reads of a variable: its size capped when it is an int (bool included, as in `_page`), else
        # nothing. So sizes that cost the same share an entry, and 101 sizes per variable bound the keys.
        sizes = tuple(_capped(v) if isinstance(v := given.get(name), int) else None for name in self.variables)
        key = (operation_name, sizes)
        cost = self.costs.get(key)
        if cost is None:
            cost = operation_cost(schema, self.document, operation_name, variables)
            if len(self.costs) >= self.SIZES_KEPT:
                self.costs.clear()
            self.costs[key] = cost
        return cost


class Costs:
    """The costs of the documents seen lately (a bounded LRU, one per schema): counting walks every selection and
    fragment (13 µs for a vote, 17 for a page of ideas; a lookup here 1.5), where the answer is known after the
    first time.

    Keyed on the parsed document itself: the parser cache hands the same DocumentNode for the same text. A
    document it does not keep (over CACHEABLE_QUERY_CHARS) is parsed anew each time, so its cost is not kept
    either; nor is it held in memory past its request. Those kept are at most as many as the parser cache keeps
    (CACHED_DOCUMENTS), and mostly the same ones.
    """

    def __init__(self, maxsize: int = CACHED_DOCUMENTS) -> None:
        self.maxsize = maxsize
        self._documents: OrderedDict[int, _Counted] = OrderedDict()

    def cost(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> int:
        counted = self._documents.get(id(document))
        if counted is None or counted.document is not document:
            counted = self._documents[id(document)] = _Counted(document)
            if len(self._documents) > self.maxsize:
                self._documents.popitem(last=False)
        else:
            self._documents.move_to_end(id(document))
        return counted.cost(schema, operation_name, variables)

    def kept(self) -> list[DocumentNode]:
        """The documents whose costs are kept, least recently used first."""
        return [counted.document for counted in self._documents.values()]


class QueryCost:
    """Refuses an operation over its caller's cost limit before it runs: QUERY_TOO_COMPLEX, with both numbers.
    One per schema, called by its extension (ServerHooks) as execution starts."""

    def __init__(self, *, anonymous_limit: int, limit: int) -> None:
        self.anonymous_limit, self.limit = anonymous_limit, limit
        self.costs = Costs()

    def refuse_if_over(self, context: ExecutionContext) -> None:
        """Leaves the refusal as the operation's result when its cost is over the caller's limit."""
        if context.graphql_document is not None and not context.result:
            count = self.costs.cost if cacheable(context) else operation_cost
            cost = count(
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
