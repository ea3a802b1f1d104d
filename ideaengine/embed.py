"""The embeddable idea board: `/embed/{workspace}/{board}` serves one small HTML page whose ES modules and CSS
(ideaengine/static/embed, served at /static/embed) talk to the public GraphQL API like any other client.

The page is the same for every board and visitor: it reads the board from its own path and fetches the rest.
What the server adds is who may frame it: the origins of IDEAENGINE_CORS_ORIGINS, in the page (the windows it
takes an SSO token from by postMessage, besides this server's own) and in `Content-Security-Policy:
frame-ancestors`.

`/embed/{workspace}/{board}/try` is this server's own host page for the board (try.html): it frames the board
and hands it a token the visitor pastes, so the board can be tried without building a host app. It mints
nothing and holds no secret, so it is as safe on a public server as the board itself. A slug holds no `/`, so
no board's path can be taken for it.
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
TRY_PAGE = (STATIC / "try.html").read_text()
ORIGINS_MARK = "__IDEAENGINE_ORIGINS__"
"Replaced in index.html by the allowed host origins, as HTML-escaped JSON."
HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
"A Host header fit to name in a CSP source (anything else is left out: connect-src 'self' still covers it)."


def content_security_policy(origins: list[str], host: str | None, *, frames: bool = False) -> str:
    """Only this server's scripts, styles and API; framed only by this server and the allowed host apps.
    `frames`: the page may frame this server's pages (the try page frames the board)."""
    sockets = f" ws://{host} wss://{host}" if host and HOST.match(host) else ""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self'{sockets}",
            *(["frame-src 'self'"] if frames else []),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors " + " ".join(["'self'", *origins]),
        )
    )


def embed_page(origins: list[str]) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """The board's page for these host origins; which board is read by the page from its path."""
    return _page(PAGE.replace(ORIGINS_MARK, html.escape(json.dumps(origins), quote=True)), origins)


def try_page(origins: list[str]) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """The try page, framed like the board; which board it frames is read by its script from its path."""
    return _page(TRY_PAGE, origins, frames=True)


def _page(body: str, origins: list[str], *, frames: bool = False) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def page(request: Request) -> HTMLResponse:
        headers = {
            "content-security-policy": content_security_policy(origins, request.headers.get("host"), frames=frames),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-cache",
        }
        return HTMLResponse(body, headers=headers)

    return page
