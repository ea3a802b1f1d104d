"""Webhooks: create, update (pause, resume), ping, redeliver, rotate the secret, delete; the webhooks query with
each delivery log, and one delivery by id. Admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

import strawberry

from ideaengine import webhook_admin, webhooks
from ideaengine.errors import DomainError
from ideaengine.platform import models
from schema import relay
from schema.context import Info
from schema.enums import described
from schema.errors import DomainErrors, UserError, query_error

T = TypeVar("T")

_W = webhooks.WebhookEvent
WebhookEvent = Annotated[
    webhooks.WebhookEvent,
    described(
        webhooks.WebhookEvent,
        "WebhookEvent",
        "What a webhook hears; the body's `event` and the X-Ideaengine-Event header name it in "
        "lower case (the value's description says how).",
        {
            _W.IDEA_SUBMITTED: "idea.submitted: an idea was submitted; data: {idea}.",
            _W.IDEA_STATUS_CHANGED: "idea.status_changed: an idea moved in its lifecycle; data: "
            "{idea, from, to, note}.",
            _W.IDEA_MERGED: "idea.merged: a duplicate was merged into another idea; data: {source, target}.",
            _W.COMMENT_OFFICIAL: "comment.official: an official answer was posted on an idea; data: {idea, comment}.",
            _W.COMMENT_REPLY: "comment.reply: a comment answered another one (published replies only); data: "
            "{idea, comment, parent}, parent being the comment answered.",
            _W.ANSWER_ACCEPTED: "comment.answer_accepted: the idea's author or a moderator marked a comment as "
            "the answer; data: {idea, comment}.",
            _W.IDEA_LAUNCH_CREDITED: "idea.launch_credited: an idea launched and its author and supporters are "
            "thanked (SUPPORTED_IDEA_LAUNCHED); data: {idea, body, note, author, supporters}, each person "
            "{id, externalId, name} (author null if erased; supporters: UP voters, merged ones included, oldest "
            "first, erased users left out).",
            _W.CAMPAIGN_PHASE_CHANGED: "campaign.phase_changed: a campaign moved to another phase, by its dates or "
            "by a moderator; data: {campaign {id, title, phase, ballot, board}, from, to}.",
            _W.CAMPAIGN_RESULTS: "campaign.results: a closed campaign's results, computed once; data: {campaign, "
            "results [{idea, rank, support, winner, cost}]}, best first.",
            _W.PING: "webhook.ping: a test event sent by pingWebhook, never by what happens on boards; data: "
            "{webhook: {id, url, events}}. Not an event to subscribe to (INVALID in createWebhook and updateWebhook).",
        },
    ),
]

_D = models.WebhookDeliveryStatus
WebhookDeliveryStatus = Annotated[
    models.WebhookDeliveryStatus,
    described(
        models.WebhookDeliveryStatus,
        "WebhookDeliveryStatus",
        "Where a delivery stands.",
        {
            _D.PENDING: "Not delivered yet (attempts > 0: waiting for a retry).",
            _D.DELIVERED: "The receiver answered 2xx.",
            _D.FAILED: "Given up: a 4xx other than 408/429, out of attempts, a refused address, or the webhook was "
            "paused.",
        },
    ),
]


def decode_webhook_id(value: str, field: str = "id") -> int:
    """Webhook ids are global ids of type Webhook (not resolvable through `node`: admins only)."""
    return relay.decode_id(value, "Webhook", field)


@strawberry.type(name="WebhookDelivery", description="One event sent (or being sent) to a webhook.")
class WebhookDeliveryType:
    model: strawberry.Private[models.WebhookDelivery]

    @strawberry.field(
        description="The X-Ideaengine-Delivery id: the same on every attempt, redeliveries included (for "
        "idempotency); pass it to redeliverWebhookDelivery or webhookDelivery."
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.model.delivery_id)

    @strawberry.field
    def event(self) -> WebhookEvent:
        return webhooks.WebhookEvent(self.model.event)

    @strawberry.field
    def status(self) -> WebhookDeliveryStatus:
        return self.model.status

    @strawberry.field(description="Attempts made so far, redeliveries included.")
    def attempts(self) -> int:
        return self.model.attempts

    @strawberry.field(description="Why the last attempt failed; null once delivered.")
    def last_error(self) -> str | None:
        return self.model.last_error

    @strawberry.field(description="HTTP status of the last answer; null when there was none (timeout, no connection).")
    def response_status(self) -> int | None:
        return self.model.response_status

    @strawberry.field(description="The JSON body sent, exactly (the signature is over these bytes).")
    def body(self) -> str:
        return self.model.payload

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def last_attempt_at(self) -> datetime | None:
        return self.model.last_attempt_at

    @strawberry.field(description="When the next retry is due; null when none is.")
    def next_attempt_at(self) -> datetime | None:
        return self.model.next_attempt_at if self.model.status == models.WebhookDeliveryStatus.PENDING else None

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.model.delivered_at


@strawberry.type(name="WebhookDeliveryConnection")
class WebhookDeliveryConnection(relay.Connection[WebhookDeliveryType]):
    pass


@strawberry.type(name="Webhook", description="An endpoint that hears a workspace's events, signed with its secret.")
class WebhookNode:
    model: strawberry.Private[models.Webhook]

    @strawberry.field(
        description="Opaque id; pass it to updateWebhook, pingWebhook, rotateWebhookSecret or deleteWebhook."
    )
    def id(self) -> strawberry.ID:
        return relay.encode_id("Webhook", self.model.id)

    @strawberry.field
    def url(self) -> str:
        return self.model.url

    @strawberry.field
    def events(self) -> list[WebhookEvent]:
        return [webhooks.WebhookEvent(e) for e in self.model.events]

    @strawberry.field(description="False while paused (updateWebhook): no deliveries are made, none are recorded.")
    def active(self) -> bool:
        return self.model.active

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="The delivery log, newest first.")
    async def deliveries(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> WebhookDeliveryConnection:
        scope = relay.scope("Webhook.deliveries", self.model.id)
        window = relay.window(info, scope, webhooks.DELIVERIES_ORDER, first, after, last, before)
        page = await relay.load_page(info.context.loaders.deliveries, (self.model.id, window))
        return relay.connection(
            WebhookDeliveryConnection, scope, window, page, lambda row: WebhookDeliveryType(model=row)
        )


@strawberry.type(name="WebhookConnection")
class WebhookConnection(relay.Connection[WebhookNode]):
    pass


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="The caller's workspace's webhooks, oldest first, with their delivery logs. Admins (API keys) "
        "only: null with a FORBIDDEN or UNAUTHENTICATED error for anyone else."
    )
    async def webhooks(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> WebhookConnection | None:
        scope = relay.scope("Query.webhooks", info.context.actor.workspace_id)
        window = relay.window(info, scope, webhooks.WEBHOOKS_ORDER, first, after, last, before)
        async with info.context.read() as session:
            try:
                page = await webhooks.list_webhooks(session, info.context.actor, window)
            except DomainError as exc:
                raise query_error(exc) from None
        return relay.connection(WebhookConnection, scope, window, page, lambda row: WebhookNode(model=row))

    @strawberry.field(
        description="One delivery of the caller's workspace's webhooks by its id (WebhookDelivery.id), e.g. to "
        "read the outcome of pingWebhook or redeliverWebhookDelivery; null if unknown. Admins (API keys) only: "
        "null with a FORBIDDEN or UNAUTHENTICATED error for anyone else; a malformed id is BAD_USER_INPUT."
    )
    async def webhook_delivery(self, info: Info, id: strawberry.ID) -> WebhookDeliveryType | None:
        async with info.context.read() as session:
            try:
                delivery = await webhook_admin.get_delivery(session, info.context.actor, id)
            except DomainError as exc:
                raise query_error(exc) from None
        return None if delivery is None else WebhookDeliveryType(model=delivery)


@strawberry.input
class CreateWebhookInput:
    url: str = strawberry.field(
        description="http:// or https://, up to 2,000 characters; its host must resolve to public addresses."
    )
    events: list[WebhookEvent] = strawberry.field(description="At least one.")


@strawberry.type
class CreateWebhookPayload:
    webhook: WebhookNode | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret, shown this once: X-Ideaengine-Signature is "
        "`sha256=` + hex HMAC-SHA256 of the raw body keyed with it.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteWebhookInput:
    id: strawberry.ID


@strawberry.type
class DeleteWebhookPayload:
    deleted_webhook_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="The webhook to change, and what to change: omitted or null fields stay as they are.")
class UpdateWebhookInput:
    id: strawberry.ID
    url: str | None = strawberry.field(
        default=strawberry.UNSET, description="Checked like createWebhook's; deliveries still pending go to it."
    )
    events: list[WebhookEvent] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the list; at least one, PING excluded."
    )
    active: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false pauses: events are no longer recorded for it and pending retries end FAILED. true "
        "resumes with what happens from then on (nothing missed while paused is replayed).",
    )


@strawberry.type
class UpdateWebhookPayload:
    webhook: WebhookNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class PingWebhookInput:
    id: strawberry.ID


@strawberry.type
class PingWebhookPayload:
    delivery: WebhookDeliveryType | None = strawberry.field(
        default=None, description="The PING delivery, PENDING until its one attempt: read it with webhookDelivery."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RedeliverWebhookDeliveryInput:
    id: strawberry.ID = strawberry.field(description="WebhookDelivery.id (the X-Ideaengine-Delivery id).")


@strawberry.type
class RedeliverWebhookDeliveryPayload:
    delivery: WebhookDeliveryType | None = strawberry.field(
        default=None,
        description="The same delivery, PENDING again until its new attempt: read it with webhookDelivery.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID


@strawberry.type
class RotateWebhookSecretPayload:
    webhook: WebhookNode | None = None
    secret: str | None = strawberry.field(
        default=None, description="The new signing secret, shown this once; the old one signs nothing from now on."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _given(value: T | None) -> T | None:
    """Omitted and explicit null both mean 'leave as is' (as in editIdea)."""
    return None if value is strawberry.UNSET else value


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Register an endpoint for some of the workspace's events; the payload carries its secret, shown once. "
            "Admins (API keys) only. Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (url: not http(s), unresolvable, "
            "or a loopback/private/link-local address; events: empty)."
        ),
    )
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
        allow_private = info.context.services.settings.webhook_allow_private
        async with info.context.transaction() as session:
            created = await webhooks.create_webhook(
                session,
                info.context.actor,
                info.context.services.box,
                input.url,
                input.events,
                allow_private=allow_private,
            )
        return CreateWebhookPayload(webhook=WebhookNode(model=created.webhook), secret=created.secret)

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Delete a webhook and its delivery log; deliveries not yet sent are dropped. Admins (API keys) only. "
            "Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (id), NOT_FOUND (id)."
        ),
    )
    async def delete_webhook(self, info: Info, input: DeleteWebhookInput) -> DeleteWebhookPayload:
        webhooks.require_admin(info.context.actor)  # permissions before input rules
        webhook_id = decode_webhook_id(input.id)
        async with info.context.transaction() as session:
            await webhooks.delete_webhook(session, info.context.actor, webhook_id)
        return DeleteWebhookPayload(deleted_webhook_id=input.id)

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Change a webhook's url, events or active (false pauses it, true resumes it); omitted or null fields "
            "stay. Admins (API keys) only. Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (id; url: as in "
            "createWebhook; events: empty or PING), NOT_FOUND (id: unknown or another workspace's)."
        ),
    )
    async def update_webhook(self, info: Info, input: UpdateWebhookInput) -> UpdateWebhookPayload:
        webhooks.require_admin(info.context.actor)  # permissions before input rules
        webhook_id = decode_webhook_id(input.id)
        async with info.context.transaction() as session:
            webhook = await webhook_admin.update_webhook(
                session,
                info.context.actor,
                webhook_id,
                url=_given(input.url),
                events=_given(input.events),
                active=_given(input.active),
                allow_private=info.context.services.settings.webhook_allow_private,
            )
        return UpdateWebhookPayload(webhook=WebhookNode(model=webhook))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Send a signed PING event to a webhook now, through its delivery log: one attempt, not retried. "
            "Returns the delivery (PENDING); read its outcome with webhookDelivery. Admins (API keys) only. "
            "Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (id), NOT_FOUND (id), CONFLICT (id: the webhook is paused)."
        ),
    )
    async def ping_webhook(self, info: Info, input: PingWebhookInput) -> PingWebhookPayload:
        webhooks.require_admin(info.context.actor)
        webhook_id = decode_webhook_id(input.id)
        async with info.context.transaction() as session:
            delivery = await webhook_admin.ping(session, info.context.actor, webhook_id)
        return PingWebhookPayload(delivery=WebhookDeliveryType(model=delivery))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Send a DELIVERED or FAILED delivery again, now: the same X-Ideaengine-Delivery id and body (receivers "
            "that drop repeats drop it if they handled it), to the webhook's current url, signed with its current "
            "secret; one more attempt on the same delivery, not retried. Admins (API keys) only. Codes: "
            "UNAUTHENTICATED, FORBIDDEN, INVALID (id), NOT_FOUND (id), CONFLICT (id: still PENDING, or the "
            "webhook is paused)."
        ),
    )
    async def redeliver_webhook_delivery(
        self, info: Info, input: RedeliverWebhookDeliveryInput
    ) -> RedeliverWebhookDeliveryPayload:
        async with info.context.transaction() as session:
            delivery = await webhook_admin.redeliver(session, info.context.actor, input.id)
        return RedeliverWebhookDeliveryPayload(delivery=WebhookDeliveryType(model=delivery))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Replace a webhook's signing secret; the payload carries the new one, shown once, and every attempt "
            "from now on (retries and redeliveries included) is signed with it. Rotated fully or not at all. "
            "Admins (API keys) only. Codes: UNAUTHENTICATED, FORBIDDEN, INVALID (id), NOT_FOUND (id)."
        ),
    )
    async def rotate_webhook_secret(self, info: Info, input: RotateWebhookSecretInput) -> RotateWebhookSecretPayload:
        webhooks.require_admin(info.context.actor)
        webhook_id = decode_webhook_id(input.id)
        async with info.context.transaction() as session:
            rotated = await webhook_admin.rotate_secret(
                session, info.context.actor, info.context.services.box, webhook_id
            )
        return RotateWebhookSecretPayload(webhook=WebhookNode(model=rotated.webhook), secret=rotated.secret)
