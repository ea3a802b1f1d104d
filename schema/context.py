"""The per-request context: who is calling, the services, and this request's DataLoaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.errors import DomainError, ErrorCode
from ideaengine.identity import Actor
from ideaengine.platform.services import Services

if TYPE_CHECKING:
    from schema.loaders import Loaders


RATE_NOUNS = {"submit": "ideas", "comment": "comments", "vote": "votes", "compare": "comparisons", "read": "requests"}


@dataclass
class Context:
    services: Services
    actor: Actor
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    "The graphql-transport-ws connection_init payload (browsers cannot set WebSocket headers)."
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def client_ip(self) -> str | None:
        client = getattr(self.request, "client", None)
        return None if client is None else str(client.host)

    async def spend(self, kind: str) -> None:
        """One unit of the caller's `kind` budget (per user and per IP); RATE_LIMITED when none is left."""
        user = None if self.actor.user_id is None else str(self.actor.user_id)
        wait = await self.services.limits.hit(kind, user, self.client_ip)
        if wait is not None:
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"Too many {RATE_NOUNS[kind]} for now: try again in {wait} second{'s' * (wait != 1)}.",
                retry_after=wait,
            )

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from schema.loaders import Loaders

            self._loaders = Loaders(self.services.db, self.actor)
        return self._loaders

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write (a unit of work: effects go out after commit); then the loaders forget what they cached."""
        async with self.services.transaction() as session:
            yield session
        self._loaders = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.services.db.read() as session:
            yield session


Info = strawberry.Info[Context, None]
