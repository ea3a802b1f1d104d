"""graphql-transport-ws as clients expect it, with bounds on how many subscriptions anyone may hold.

A stream that fails ends with the protocol's `error` message; a subscription over a cap (per connection,
per IP, per user, per server) is refused with one, and a connection refused REFUSALS_BEFORE_CLOSE times in a
row is closed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message, SubscribeMessage

from schema.context import Context


@dataclass(frozen=True)
class SubscriptionCaps:
    per_ip: int
    per_user: int
    per_server: int


class Slots:
    """Open subscriptions of this server process, counted by IP, by user and in all."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    def full(self, caps: SubscriptionCaps, ip: str | None, user: int | None) -> str | None:
        """Which cap a new subscription would break, if any."""
        if self.open["server"] >= caps.per_server:
            return "this server holds as many subscriptions as it can"
        if ip is not None and self.open[f"ip:{ip}"] >= caps.per_ip:
            return f"this address holds {caps.per_ip} subscriptions already"
        if user is not None and self.open[f"user:{user}"] >= caps.per_user:
            return f"this user holds {caps.per_user} subscriptions already"
        return None

    def take(self, ip: str | None, user: int | None) -> list[str]:
        keys = ["server"] + ([f"ip:{ip}"] if ip else []) + ([f"user:{user}"] if user is not None else [])
        self.open.update(keys)
        return keys

    def give_back(self, keys: list[str]) -> None:
        self.open.subtract(keys)
        for key in keys:
            if self.open[key] <= 0:
                del self.open[key]


SLOTS = Slots()
"Per process: each server bounds what it holds (a load balancer spreads connections over servers)."
REFUSALS_BEFORE_CLOSE = 10
"""Refused subscriptions in a row after which a connection is closed (4429): a client keeps to its caps after
a refusal or two, while one that sent thousands kept the server answering each of them (30 connections x 100
subscriptions held the event loop past the 200 ms health budget)."""


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """When an operation's event stream fails (its SSO token expired, say), graphql-core yields one result with
    errors and no data, which strawberry sends as `next` then `complete`: clients then see data and never call
    their `error` callback. Such a result goes out as the operation's `error` message instead (the protocol's
    "errors during execution"), and the `complete` that follows is dropped, as an errored operation is over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._errored: set[str] = set()
        self._refusals = 0

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        caps: SubscriptionCaps = self.view.subscription_caps  # type: ignore[attr-defined]
        ip = self.context.client_ip
        user = self.context.actor.user_id
        if self.connection_acknowledged and message["id"] not in self.operations:
            refused = SLOTS.full(caps, ip, user)
            limit = self.max_subscriptions_per_connection
            if limit is not None and len(self.operations) >= limit:
                refused = f"this connection holds {limit} subscriptions already"
            if refused is not None:
                error = GraphQLError(
                    f"Too many subscriptions: {refused}; close one first.",
                    extensions={"code": "TOO_MANY_SUBSCRIPTIONS"},
                )
                await super().send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
                self._refusals += 1
                if self._refusals >= REFUSALS_BEFORE_CLOSE:
                    await self.websocket.close(code=4429, reason="Too many subscriptions refused")
                return
        self._refusals = 0
        await super().handle_subscribe(message)
        operation = self.operations.get(message["id"])
        if operation is not None and operation.task is not None:
            keys = SLOTS.take(ip, user)
            operation.task.add_done_callback(lambda _: SLOTS.give_back(keys))

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
