"""GraphQL over HTTP media types: `application/graphql-response+json` for clients that ask for it by name.

The spec's newer media type lets a client tell a request error (a document that does not parse or validate,
variables that do not coerce: nothing ran) from an execution error by the status code: 400 and no `data`
entry for the first. Clients that ask for `application/json`, or for anything (`*/*`), keep the legacy
answer: 200 with `data: null`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _quality(accept: str) -> dict[str, float]:
    """q of each media range named explicitly in an Accept header (wildcards left out on purpose)."""
    found: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media and "*" not in media:
            found[media] = max(q, found.get(media, 0.0))
    return found


def wants_graphql_response(accept: str | None) -> bool:
    """The client named application/graphql-response+json and prefers it at least as much as application/json."""
    if not accept or GRAPHQL_RESPONSE not in accept.lower():  # most clients never name it: no need to parse
        return False
    q = _quality(accept)
    return q.get(GRAPHQL_RESPONSE, 0.0) > 0 and q[GRAPHQL_RESPONSE] >= q.get(JSON, 0.0)


def is_request_error(data: Any, errors: Sequence[object] | None) -> bool:
    """Nothing was executed: no data, and no error belongs to a field (field errors carry a `path`)."""
    return data is None and bool(errors) and all(isinstance(e, Mapping) and e.get("path") is None for e in errors or ())
