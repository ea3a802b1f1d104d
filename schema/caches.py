"""The parse and validation caches: both keep only documents of a size real clients send.

A cached document keeps its text (its parsed tree's locations hold it): a cached padded 1 MB `{__typename}`
stays 1 MB for as long as it is cached, 1,000 of them a gigabyte, never given back. So the caches here (and
the query cost's, `schema.cost.Costs`) keep only what `cacheable` allows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from graphql.language.parser import parse
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

CACHEABLE_QUERY_CHARS = 10_000
"""Documents longer than this are parsed and validated each time, never kept: 1,000 cached documents stay a few
MB, where padded 5 MB queries once grew the server by 400 MB (and padded 1 MB ones by 180 MB in 150 requests)."""

CACHED_DOCUMENTS = 1000
"Entries in each cache (documents under CACHEABLE_QUERY_CHARS only)."


def cacheable(context: ExecutionContext) -> bool:
    """Whether this operation's document may be kept by the caches (a persisted document with no text is)."""
    return len(context.query or "") <= CACHEABLE_QUERY_CHARS


@dataclass
class _Document:
    document: DocumentNode
    errors: dict[tuple[type[ASTValidationRule], ...], list[GraphQLError]] = field(default_factory=dict)
    "Its validation errors, per set of rules (the schema's limits make one set: so, one entry)."


class Documents:
    """The parse and validation caches in one, for `ServerHooks` (one per schema).

    A document's text (and parse options) finds its parsed tree; the tree, by identity, its validation errors.
    strawberry's ValidationCache hashed the whole tree for its key on every request (graphql-core's nodes hash
    field by field), and each of its two cache extensions cost a request its own hook machinery; this is one
    dictionary lookup each. A tree this did not parse (over CACHEABLE_QUERY_CHARS, or persisted) is validated
    by strawberry, uncached. At most `maxsize` documents, least recently used out first.
    """

    def __init__(self, maxsize: int = CACHED_DOCUMENTS) -> None:
        self.maxsize = maxsize
        self._by_text: OrderedDict[tuple[str, tuple[tuple[str, Any], ...]], _Document] = OrderedDict()
        self._by_tree: dict[int, _Document] = {}

    def parse(self, query: str, options: Mapping[str, Any]) -> DocumentNode:
        """The parsed tree of `query`, kept; a syntax error raises, and nothing is kept."""
        key = (query, tuple(options.items()))
        found = self._by_text.get(key)
        if found is not None:
            self._by_text.move_to_end(key)
            return found.document
        document = parse(query, **options)
        entry = self._by_text[key] = _Document(document)
        self._by_tree[id(document)] = entry
        if len(self._by_text) > self.maxsize:
            _, evicted = self._by_text.popitem(last=False)
            del self._by_tree[id(evicted.document)]
        return document

    def validate(
        self, schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError] | None:
        """The validation errors of a tree `parse` gave out and still keeps, validated once per set of rules;
        None for any other tree (the caller validates it)."""
        entry = self._by_tree.get(id(document))
        if entry is None or entry.document is not document:
            return None
        errors = entry.errors.get(rules)
        if errors is None:
            errors = entry.errors[rules] = validate_document(schema, document, rules)
        return list(errors)

    def __len__(self) -> int:
        return len(self._by_text)

    def __contains__(self, query: object) -> bool:
        """Whether a document of this text is kept (under any parse options)."""
        return any(text == query for text, _ in self._by_text)
