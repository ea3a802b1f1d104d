"""A bound on request bodies, enforced before anything reads or parses them (a 413 with a JSON body)."""

from __future__ import annotations

import json
import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class BodyLimit:
    """Refuses bodies over `max_bytes`: at once when Content-Length says so, else as the bytes arrive
    (a chunked body is cut off the moment it passes the limit, so none is ever held in full). A request whose
    client left before its body was read ends here too, on every route: Starlette's ClientDisconnect made
    uvicorn log 'Exception in ASGI application' with a traceback, and a 500 went to no one."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)
        except ClientDisconnect:  # no one is left to answer, and it is no error of the server's
            log.debug("the client left before its request body was read")

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"The request body is larger than {self.max_bytes:,} bytes.",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": self.max_bytes},
                    }
                ]
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """Raised out of receive() to stop the app reading a body that passed the limit."""


MAX_LIST_ITEMS = 1_000
"""Items one list in a request's variables may hold. The longest list an input takes is 100 (a ballot, the
finalists); GraphQL coerces every item of a variable before any resolver can count them, so 30,000 tags
(289 KB, under the body limit) held the event loop a quarter of a second before the domain said "at most 10"."""


def longest_list(value: object, limit: int = MAX_LIST_ITEMS) -> int | None:
    """The length of the first list in `value` (parsed JSON) longer than `limit`, or None. A walk with its own
    stack: orjson already bounded the nesting, and no item is looked at twice."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            if len(item) > limit:
                return len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return None
