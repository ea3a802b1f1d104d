"""Rate limits per user and per IP, shared by every server through Redis when it is configured.

Built on the `limits` package (exact moving windows; Redis through redis-py when IDEAENGINE_REDIS_URL is
set, memory otherwise). A limit that cannot be checked (Redis down) lets the request through and says so
once in the log: availability of the board outranks its limits, as votes never wait for Redis.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("ideaengine.ratelimit")

KINDS = ("submit", "comment", "vote", "compare", "react", "report", "read")
"What is limited: each mutation kind per user and per IP, and anonymous reads per IP."


def parse_rate(value: str) -> RateLimitItem:
    """`10/minute`, `100 per hour`...: a ValueError naming the problem otherwise."""
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate like 10/minute or 100 per hour") from None


def _times(item: RateLimitItem, factor: int) -> RateLimitItem:
    return parse_rate(f"{item.amount * factor}/{item.multiples} {item.GRANULARITY.name}")


class RateLimits:
    """`hit` spends one unit of each identity's budget for a kind; it says how long to wait when any is spent."""

    def __init__(
        self,
        rates: Mapping[str, str],
        *,
        per_ip_factor: int = 5,
        redis_url: str | None = None,
        namespace: str = "",
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self._pool: ConnectionPool | None = None
        storage: Storage = MemoryStorage()
        if redis_url and enabled:
            self._pool = ConnectionPool.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            ours: dict[str, Any] = {"connection_pool": self._pool}  # so that close() can close it
            storage = RedisStorage(
                "async+" + redis_url, implementation="redispy", key_prefix=f"ideaengine:limits:{namespace}", **ours
            )
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_user = {kind: parse_rate(rate) for kind, rate in rates.items()}
        self.per_ip = {kind: _times(item, per_ip_factor) for kind, item in self.per_user.items() if kind != "read"}
        if "read" in self.per_user:  # reads are anonymous: their rate is an address's own
            self.per_ip["read"] = self.per_user["read"]
        self._failing = False

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    async def hit(self, kind: str, user: str | None, ip: str | None) -> int | None:
        """None if allowed, else whole seconds until the spent budget has room again (at least 1)."""
        if not self.enabled:
            return None
        checks = [(self.per_user[kind], f"user:{user}")] if user else []
        if ip:
            checks.append((self.per_ip[kind], f"ip:{ip}"))
        try:
            for item, who in checks:
                if not await self.limiter.hit(item, kind, who):
                    stats = await self.limiter.get_window_stats(item, kind, who)
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:  # the storage is down: let it through, say so once
            if not self._failing:
                log.error("rate limits unavailable (%s); requests are not limited until they return", exc)
            self._failing = True
            return None
        self._failing = False
        return None


class AnonymousReads:
    """HTTP 429 with Retry-After for an IP past its budget of anonymous GraphQL requests (no Authorization
    header): signed-in callers are limited per mutation instead, where the user is known; health checks and
    GraphiQL's files are not limited."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or b"authorization" in dict(scope["headers"]):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = await self.limits.hit("read", None, client[0] if client else None)
        if wait is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"Too many requests from this address: try again in {wait} seconds.",
                        "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": wait},
                    }
                ]
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"retry-after", str(wait).encode())]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
