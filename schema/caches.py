"""The parse and validation caches: both keep only documents of a size real clients send.

strawberry's caches key on the document (its text, then its parsed tree, whose locations hold the text): a
cached padded 1 MB `{__typename}` stays 1 MB for as long as it is cached, 1,000 of them a gigabyte, never given
back. Both caches therefore ask `cacheable` whether a document may be kept, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import ExecutionContext

CACHEABLE_QUERY_CHARS = 10_000
"""Documents longer than this are parsed and validated each time, never kept: 1,000 cached documents stay a few
MB, where padded 5 MB queries once grew the server by 400 MB (and padded 1 MB ones by 180 MB in 150 requests)."""

CACHED_DOCUMENTS = 1000
"Entries in each cache (documents under CACHEABLE_QUERY_CHARS only)."


def cacheable(context: ExecutionContext) -> bool:
    """Whether this operation's document may be kept by the caches (a persisted document with no text is)."""
    return len(context.query or "") <= CACHEABLE_QUERY_CHARS


class SubscriptionSafeParserCache(ParserCache):
    """ParserCache that lets strawberry report syntax errors itself (the stock hook raises them out of a
    WebSocket operation, so the client got a bare `complete` instead of the protocol's close 4400), and that
    keeps only cacheable documents."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if not cacheable(context):
            yield  # strawberry parses it, uncached
            return
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLError:
            pass  # left unparsed: strawberry parses again inside its own error handling
        yield


class BoundedValidationCache(ValidationCache):
    """ValidationCache that keeps only cacheable documents: a long one is validated by strawberry, uncached
    (its parsed tree is new each time, so caching it would only hold its text in memory)."""

    def on_validate(self) -> Iterator[None]:
        if not cacheable(self.execution_context):
            yield  # strawberry validates it, uncached
            return
        yield from super().on_validate()
