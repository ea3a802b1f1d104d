"""graphql-transport-ws as clients expect it: a stream that fails ends with the protocol's `error` message."""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from schema.context import Context


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """When an operation's event stream fails (its SSO token expired, say), graphql-core yields one result with
    errors and no data, which strawberry sends as `next` then `complete`: clients then see data and never call
    their `error` callback. Such a result goes out as the operation's `error` message instead (the protocol's
    "errors during execution"), and the `complete` that follows is dropped, as an errored operation is over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._errored: set[str] = set()

    async def send_message(self, message: Message) -> None:
        kind, op_id = message.get("type"), message.get("id")
        payload: Any = message.get("payload")
        if kind == "next" and isinstance(op_id, str) and payload.get("data") is None and payload.get("errors"):
            self._errored.add(op_id)
            await super().send_message({"id": op_id, "type": "error", "payload": payload["errors"]})
            return
        if kind == "complete" and op_id in self._errored:
            self._errored.discard(op_id)
            return
        await super().send_message(message)
