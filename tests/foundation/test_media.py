"""Which clients get the GraphQL-over-HTTP spec's newer media type (ideaengine/platform/media.py)."""

from __future__ import annotations

import pytest

from ideaengine.platform.media import wants_graphql_response


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        (None, False),
        ("", False),
        ("*/*", False),  # fetch()'s default: the legacy answer
        ("application/json", False),
        ("text/html,application/xhtml+xml,*/*;q=0.8", False),
        ("application/graphql-response+json", True),
        ("Application/GraphQL-Response+JSON", True),  # media types are case-insensitive
        ("application/graphql-response+json, application/json;q=0.9", True),
        ("application/json, application/graphql-response+json;q=0.9", False),  # JSON preferred
        ("application/json;q=0.5, application/graphql-response+json;q=0.5", True),  # a tie goes to the newer
        ("application/graphql-response+json;q=0", False),  # named only to refuse it
        ("application/graphql-response+json;q=oops", False),
    ],
)
def test_only_a_client_that_prefers_the_newer_media_type_gets_it(accept: str | None, wanted: bool) -> None:
    assert wants_graphql_response(accept) is wanted
