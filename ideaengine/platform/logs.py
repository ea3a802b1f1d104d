"""One log format for `serve` and `worker`: timestamp, level, logger, request id, message and its fields.

Text by default (`2026-12-01T17:26:19.123Z INFO ideaengine.http [9f2c...] POST /graphql status=200 ...`),
one JSON object per line with IDEAENGINE_LOG_FORMAT=json. Structured values go in `extra={"fields": {...}}`;
the request id of the request being served joins every line logged while it runs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"An incoming X-Request-Id is kept only if it is short and plain (it lands in logs)."

access = logging.getLogger("ideaengine.http")


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
        rid = getattr(record, "request_id", None)
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if self.as_json:
            line = {"time": at, "level": record.levelname, "logger": record.name, "message": message}
            if rid:
                line["requestId"] = rid
            return json.dumps(line | fields, default=str)
        text = " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        return (
            f"{at} {record.levelname} {record.name}"
            + (f" [{rid}]" if rid else "")
            + f" {message}"
            + (f" {text}" if text else "")
        )


def _text(value: object) -> str:
    shown = str(value)
    return json.dumps(shown) if (not shown or " " in shown or '"' in shown) else shown


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


def configure(level: str, fmt: str) -> None:
    """Route every logger (ours, uvicorn's, rq's, alembic's) through one handler in one format."""
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter(as_json=fmt == "json"))
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "rq.worker", "rq.scheduler"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # AccessLog below says more, and leaves query strings out
    logging.getLogger("alembic").setLevel(logging.WARNING)


class AccessLog:
    """One line per HTTP request: method, path (never the query string: GET variables may hold personal data),
    status, milliseconds, and for GraphQL the operation name and error count the view left in scope state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value for name, value in scope["headers"] if name == _REQUEST_ID_KEY), b"").decode("latin-1")
        # An id to find a request's lines by, not a secret (a caller may send its own): no system call for it.
        rid = incoming if _SAFE_ID.fullmatch(incoming) else f"{random.getrandbits(64):016x}"
        token = request_id.set(rid)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access.isEnabledFor(logging.INFO):  # the line is built only where it is written
                state = scope.get("state") or {}
                fields: dict[str, Any] = {"status": status, "ms": round((time.perf_counter() - started) * 1000, 1)}
                if "graphql_errors" in state:
                    fields["operation"] = state.get("graphql_operation") or "-"
                    fields["errors"] = state["graphql_errors"]
                access.info("%s %s", scope["method"], scope["path"], extra={"fields": fields})
            request_id.reset(token)
