"""The embeddable idea board: `/embed/{workspace}/{board}` serves one small HTML page whose ES modules and CSS
(ideaengine/static/embed, served at /static/embed) talk to the public GraphQL API like any other client.

The page is the same for every board and visitor: it reads the board from its own path and fetches the rest.
What the server adds is who may frame it: the origins of IDEAENGINE_CORS_ORIGINS, in the page (the only
windows it takes an SSO token from by postMessage) and in `Content-Security-Policy: frame-ancestors`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse

STATIC = Path(__file__).parent / "static" / "embed"
"The page's own modules and CSS, plus the vendored graphql-ws client (licence and hashes beside it)."
STATIC_PATH = "/static/embed"
"Where STATIC is served; a prefix of its own, so no workspace or board slug can shadow an asset."
PAGE = (STATIC / "index.html").read_text()
ORIGINS_MARK = "__IDEAENGINE_ORIGINS__"
"Replaced in index.html by the allowed host origins, as HTML-escaped JSON."
HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
"A Host header fit to name in a CSP source (anything else is left out: connect-src 'self' still covers it)."


def content_security_policy(origins: list[str], host: str | None) -> str:
    """Only this server's scripts, styles and API; framed only by this server and the allowed host apps."""
    sockets = f" ws://{host} wss://{host}" if host and HOST.match(host) else ""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self'{sockets}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors " + " ".join(["'self'", *origins]),
        )
    )


def embed_page(origins: list[str]) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """The board's page for these host origins; which board is read by the page from its path."""
    body = PAGE.replace(ORIGINS_MARK, html.escape(json.dumps(origins), quote=True))

    async def page(request: Request) -> HTMLResponse:
        headers = {
            "content-security-policy": content_security_policy(origins, request.headers.get("host")),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-cache",
        }
        return HTMLResponse(body, headers=headers)

    return page
