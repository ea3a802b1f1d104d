"""API keys: the apiKeys query, createApiKey and revokeApiKey. Admins only."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ideaengine import apikeys
from ideaengine.errors import DomainError
from ideaengine.platform import models
from schema import relay
from schema.context import Info
from schema.errors import DomainErrors, UserError, query_error


@strawberry.type(
    name="ApiKey",
    description="A workspace admin's credential (`Authorization: Bearer iek_...`); the key itself is shown once, "
    "when it is created.",
)
class ApiKeyNode:
    model: strawberry.Private[models.ApiKey]

    @strawberry.field(description="Opaque id; pass it to revokeApiKey.")
    def id(self) -> strawberry.ID:
        return relay.encode_id("ApiKey", self.model.id)

    @strawberry.field(description="The label given when it was created; empty if none.")
    def name(self) -> str:
        return self.model.name

    @strawberry.field(description="The key's first 12 characters (`iek_` and 8 more): enough to tell keys apart.")
    def prefix(self) -> str:
        return self.model.prefix

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="When it was revoked; null while it works.")
    def revoked_at(self) -> datetime | None:
        return self.model.revoked_at


@strawberry.type(name="ApiKeyConnection")
class ApiKeyConnection(relay.Connection[ApiKeyNode]):
    pass


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="The caller's workspace's API keys, oldest first, revoked ones included. Admins (API keys) "
        "only: null with a FORBIDDEN or UNAUTHENTICATED error for anyone else."
    )
    async def api_keys(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> ApiKeyConnection | None:
        scope = relay.scope("Query.apiKeys", info.context.actor.workspace_id)
        window = relay.window(info, scope, apikeys.ORDER, first, after, last, before)
        async with info.context.read() as session:
            try:
                page = await apikeys.list_for(session, info.context.actor, window)
            except DomainError as exc:
                raise query_error(exc) from None
        return relay.connection(ApiKeyConnection, scope, window, page, lambda row: ApiKeyNode(model=row))


@strawberry.input
class CreateApiKeyInput:
    name: str | None = strawberry.field(
        default="", description="A label to tell keys apart (up to 200 characters), e.g. the tool that uses it."
    )


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKeyNode | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The key itself (`iek_...`), shown this once: it is stored as a hash and cannot be shown again.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeApiKeyInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiKeyPayload:
    api_key: ApiKeyNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Create an admin API key for the caller's workspace; the payload carries the key, shown once. Admins "
            "(API keys) only. Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (name)."
        ),
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        async with info.context.transaction() as session:
            created = await apikeys.create_for(session, info.context.actor, input.name)
        return CreateApiKeyPayload(api_key=ApiKeyNode(model=created.api_key), secret=created.secret)

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Revoke an API key of the caller's workspace (the caller's own too): this server refuses it at once, "
            "other servers within 10 seconds. Revoking a revoked key changes nothing. Admins (API keys) only. "
            "Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (id), NOT_FOUND (id)."
        ),
    )
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        info.context.actor.require_admin("revoke API keys")  # permissions before input rules
        key_id = relay.decode_id(input.id, "ApiKey", "id")
        async with info.context.transaction() as session:
            key = await apikeys.revoke_for(session, info.context.actor, key_id)
        if info.context.actors is not None:  # after the commit: a request racing it cannot cache the key again
            info.context.actors.forget_user(key.user_id)
        return RevokeApiKeyPayload(api_key=ApiKeyNode(model=key))
