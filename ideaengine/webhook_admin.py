"""Operations on a registered webhook: edit it (url, events, pause and resume), ping it, redeliver one of its
deliveries, rotate its secret. Admins (API keys) of its workspace only; another workspace's webhook or delivery
is NOT_FOUND, like an unknown one.

A ping and a redelivery take the normal delivery path (a delivery row written here, `workers.webhooks.deliver`
enqueued after commit, signed and pinned like any event) but make one attempt, never retried: the admin asked
to send now, reads the outcome in the delivery log, and may ask again.

A redelivery is the same delivery once more, not a new one: the same X-Ideaengine-Delivery id and the same
body bytes (a receiver that drops repeats drops it if it handled it already), counted as one more attempt on
the same log row, sent to the webhook's current URL and signed with its current secret.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import webhooks
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor
from ideaengine.platform import jobs
from ideaengine.platform.ids import global_id
from ideaengine.platform.models import Webhook, WebhookDelivery, WebhookDeliveryStatus, Workspace, utcnow
from ideaengine.platform.secrets_box import SecretBox
from ideaengine.webhooks import NewWebhook, WebhookEvent

ONE_ATTEMPT = False
"`retries` of the delivery job for sends an admin asks for: one attempt, its failure final."


async def update_webhook(
    session: AsyncSession,
    actor: Actor,
    webhook_id: int,
    *,
    url: str | None = None,
    events: Sequence[WebhookEvent] | None = None,
    active: bool | None = None,
    allow_private: bool = False,
) -> Webhook:
    """Change what is given (None keeps it). A URL goes through the checks of registration (INVALID, field url);
    events must not be empty (INVALID, field events). A paused webhook (active false) gets no new deliveries and
    its pending retries end FAILED; resuming sends what happens from then on (nothing is replayed)."""
    webhooks.require_admin(actor)
    names = None if events is None else webhooks.parse_events(events)
    # Resolved before the first statement, so no write transaction waits on DNS.
    clean = None if url is None else await webhooks.validate_url(url, allow_private)
    webhook = await webhooks.get_own(session, actor, webhook_id)
    if clean is not None:
        webhook.url = clean
    if names is not None:
        webhook.events = names
    if active is not None:
        webhook.active = active
    await session.flush()
    return webhook


async def rotate_secret(session: AsyncSession, actor: Actor, box: SecretBox, webhook_id: int) -> NewWebhook:
    """A new signing secret, shown once; the old one stops signing when this commits (one row, one
    transaction: rotated fully or not at all). Attempts from then on, retries and redeliveries of older
    events included, are signed with the new one."""
    webhook = await webhooks.get_own(session, actor, webhook_id)
    secret = webhooks.new_secret()
    webhook.secret_encrypted = box.seal(secret)
    await session.flush()
    return NewWebhook(webhook, secret)


async def ping(session: AsyncSession, actor: Actor, webhook_id: int) -> WebhookDelivery:
    """Send a signed PING event (`webhook.ping`, data: the webhook's id, url and events) once, through the
    delivery log; the returned delivery is PENDING until its one attempt settles it. CONFLICT if paused."""
    webhook = await webhooks.get_own(session, actor, webhook_id)
    _require_active(webhook, "ping it")
    workspace = await session.get(Workspace, webhook.workspace_id)
    data = {"webhook": {"id": global_id("Webhook", webhook.id), "url": webhook.url, "events": list(webhook.events)}}
    delivery = webhooks.new_delivery(
        webhook, workspace.slug if workspace is not None else None, WebhookEvent.PING, data, utcnow()
    )
    session.add(delivery)
    await session.flush()
    jobs.after_commit(session, webhooks.DELIVER, delivery.id, ONE_ATTEMPT)
    return delivery


async def redeliver(session: AsyncSession, actor: Actor, delivery_id: str) -> WebhookDelivery:
    """Send a settled (DELIVERED or FAILED) delivery once more; see the module's note. CONFLICT while it is
    still PENDING (it would go out twice) or while its webhook is paused."""
    workspace_id = webhooks.require_admin(actor)
    found = (
        await session.execute(
            select(WebhookDelivery, Webhook)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.delivery_id == _delivery_key(delivery_id), Webhook.workspace_id == workspace_id)
        )
    ).first()
    if found is None:
        raise not_found("No such delivery.", "id")
    delivery, webhook = found
    _require_active(webhook, "redeliver its deliveries")
    # Conditional, so that two redeliveries at once (or one racing a retry) send it once.
    reopened = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status != WebhookDeliveryStatus.PENDING)
        .values(status=WebhookDeliveryStatus.PENDING, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not reopened.rowcount:  # type: ignore[attr-defined]
        raise DomainError(
            ErrorCode.CONFLICT,
            "This delivery is still being sent (PENDING); redeliver it once it is DELIVERED or FAILED.",
            "id",
        )
    await session.refresh(delivery)
    jobs.after_commit(session, webhooks.DELIVER, delivery.id, ONE_ATTEMPT)
    return delivery


async def get_delivery(session: AsyncSession, actor: Actor, delivery_id: str) -> WebhookDelivery | None:
    """One delivery of the admin's own webhooks by its X-Ideaengine-Delivery id; None if unknown or foreign."""
    workspace_id = webhooks.require_admin(actor, "read webhooks")
    stmt = (
        select(WebhookDelivery)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.delivery_id == _delivery_key(delivery_id), Webhook.workspace_id == workspace_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _delivery_key(value: str) -> str:
    """The stored form of a delivery id (a UUID, as WebhookDelivery.id shows it); INVALID (field id) otherwise."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise invalid("Not a valid delivery id.", "id") from None


def _require_active(webhook: Webhook, what: str) -> None:
    if not webhook.active:
        raise DomainError(
            ErrorCode.CONFLICT, f"The webhook is paused: resume it (updateWebhook with active: true) to {what}.", "id"
        )
