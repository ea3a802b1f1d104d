"""Webhooks: admins register endpoints per workspace; domain events become signed deliveries.

A delivery row (with the exact JSON body) is written in the transaction of the write that caused
it, and `workers.webhooks.deliver(delivery_id)` is enqueued after commit: no event is sent for a
write that rolled back, and every attempt of a delivery sends the same bytes and the same id.
Operations on a registered webhook (update, ping, redeliver, rotate the secret) are in `webhook_admin`.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.errors import invalid, not_found
from ideaengine.identity import Actor
from ideaengine.platform import jobs
from ideaengine.platform.ids import global_id
from ideaengine.platform.models import (
    Board,
    Comment,
    Idea,
    ModerationState,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    Workspace,
    utcnow,
)
from ideaengine.platform.queries import Page, SortKey, Window, pages
from ideaengine.platform.secrets_box import SecretBox

DELIVER = "workers.webhooks.deliver"
"The delivery job, by dotted name (the domain never imports workers)."
SECRET_PREFIX = "whsec_"
URL_MAX = 2000
RESOLVE_TIMEOUT_SECONDS = 5.0
SIGNATURE_HEADER = "X-Ideaengine-Signature"
"`sha256=<hex HMAC-SHA256 of the raw body, keyed with the webhook's secret>`."
DELIVERY_HEADER = "X-Ideaengine-Delivery"
EVENT_HEADER = "X-Ideaengine-Event"


class WebhookEvent(enum.Enum):
    """What a webhook can hear; the value is the `event` of the body and the X-Ideaengine-Event header."""

    IDEA_SUBMITTED = "idea.submitted"
    IDEA_STATUS_CHANGED = "idea.status_changed"
    IDEA_MERGED = "idea.merged"
    COMMENT_OFFICIAL = "comment.official"
    COMMENT_REPLY = "comment.reply"
    ANSWER_ACCEPTED = "comment.answer_accepted"
    IDEA_LAUNCH_CREDITED = "idea.launch_credited"
    "An idea launched: who is thanked for it (its author and supporters), for the host app's own channels."
    CAMPAIGN_PHASE_CHANGED = "campaign.phase_changed"
    "A campaign moved to another phase (by its dates, or by a moderator)."
    CAMPAIGN_RESULTS = "campaign.results"
    "A closed campaign's results, computed once: every candidate's rank and support, and the winners."
    PING = "webhook.ping"
    "A test event sent on request (pingWebhook), never subscribed to."


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook
    secret: str
    "Shown once: stored encrypted, never returned again."


def sign(secret: str, body: bytes) -> str:
    """The X-Ideaengine-Signature value of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- URLs --------------------------------------------------------------------------------------


NAT64 = ipaddress.ip_network("64:ff9b::/96")
"The well-known NAT64 prefix: 64:ff9b::7f00:1 reaches 127.0.0.1 through a translator (RFC 6052)."


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, Teredo client), which is what it reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refused_address(address: str) -> bool:
    """Loopback, private, link-local, reserved, multicast: anything that is not a public unicast address,
    including IPv6 forms that carry such an IPv4 address (mapped, NAT64, 6to4, Teredo)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
        return not inner.is_global or inner.is_multicast
    return not ip.is_global or ip.is_multicast


def split_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; INVALID (field url) for anything else."""
    url = url.strip()
    if len(url) > URL_MAX:
        raise invalid(f"A webhook URL is at most {URL_MAX} characters.", "url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid("Not a valid URL.", "url") from None
    if port == 0:
        raise invalid("A webhook URL's port must be between 1 and 65535.", "url")
    if parts.scheme not in ("http", "https"):
        raise invalid("A webhook URL must start with http:// or https://.", "url")
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):  # CR/LF would split the request line
        raise invalid("A webhook URL must not contain spaces or control characters.", "url")
    if not parts.hostname:
        raise invalid("A webhook URL needs a host.", "url")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[str]:
    return sorted({str(info[4][0]) for info in infos})


def check_addresses(host: str, addresses: Sequence[str]) -> None:
    if not addresses:
        raise invalid(f"The host {host!r} does not resolve.", "url")
    refused = [a for a in addresses if refused_address(a)]
    if refused:
        raise invalid(
            f"The host {host!r} resolves to a loopback, private or link-local address ({refused[0]}); "
            "webhooks must reach a public address.",
            "url",
        )


async def validate_url(url: str, allow_private: bool) -> str:
    """An http(s) URL whose host resolves only to public addresses (unless private ones are allowed)."""
    host, port = split_url(url)
    if allow_private:
        return url.strip()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):  # not wait_for, which on 3.11 can drop a cancel
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        infos = []
    check_addresses(host, _addresses(infos))
    return url.strip()


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, as the delivery sees them now (a name module-level so a test can stand in)."""
    return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


@dataclass(frozen=True)
class Target:
    """Where one delivery attempt connects: the address that passed the check, never a second lookup."""

    url: str
    "The URL with its host replaced by the checked address."
    host_header: str
    sni_hostname: str | None
    "For https: the name the certificate must match, though the connection goes to an address."


def pin(url: str, allow_private: bool) -> Target:
    """Resolve the URL's host once, check every address, and aim at the first: a name that answers a public
    address to the check and 127.0.0.1 to the connection (DNS rebinding) can no longer switch between them.
    Raises DomainError (why it may not be called) or OSError (it does not resolve)."""
    host, port = split_url(url)
    addresses = resolve(host, port)
    if not allow_private:
        check_addresses(host, addresses)
    elif not addresses:
        raise invalid(f"The host {host!r} does not resolve.", "url")
    parts = urlsplit(url.strip())
    address = addresses[0]
    netloc = (f"[{address}]" if ":" in address else address) + (f":{parts.port}" if parts.port else "")
    host_header = parts.netloc.rpartition("@")[2]
    return Target(
        url=parts._replace(netloc=netloc).geturl(),
        host_header=host_header,
        sni_hostname=host if parts.scheme == "https" else None,
    )


def parse_events(names: Sequence[WebhookEvent]) -> list[str]:
    """The stored event names of a subscription: at least one, and no PING (it is sent on request only)."""
    if not names:
        raise invalid("Choose at least one event.", "events")
    if WebhookEvent.PING in names:
        raise invalid("PING is not an event to subscribe to: pingWebhook sends it on request.", "events")
    return sorted({e.value for e in names})


def new_secret() -> str:
    """A signing secret: 256 random bits, prefixed so that people recognise it."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- Admin operations ----------------------------------------------------------------------------


def require_admin(actor: Actor, what: str = "manage webhooks") -> int:
    """The workspace whose webhooks the actor administers: API keys only (UNAUTHENTICATED, FORBIDDEN)."""
    return actor.require_admin(what)


async def create_webhook(
    session: AsyncSession,
    actor: Actor,
    box: SecretBox,
    url: str,
    events: Sequence[WebhookEvent],
    *,
    allow_private: bool = False,
) -> NewWebhook:
    """Admins (API keys) of the actor's workspace; the URL must be http(s) and public (INVALID otherwise)."""
    workspace_id = require_admin(actor)
    names = parse_events(events)
    clean = await validate_url(url, allow_private)
    secret = new_secret()
    webhook = Webhook(
        workspace_id=workspace_id,
        url=clean,
        events=names,
        secret_encrypted=box.seal(secret),
        active=True,
        created_at=utcnow(),
    )
    session.add(webhook)
    await session.flush()
    return NewWebhook(webhook, secret)


async def delete_webhook(session: AsyncSession, actor: Actor, webhook_id: int) -> Webhook:
    """Admins; its pending deliveries go with it (their jobs then find nothing to send)."""
    webhook = await get_own(session, actor, webhook_id)
    await session.delete(webhook)
    await session.flush()
    return webhook


async def get_own(session: AsyncSession, actor: Actor, webhook_id: int) -> Webhook:
    """One of the admin's own webhooks; another workspace's is NOT_FOUND like an unknown one (field id)."""
    workspace_id = require_admin(actor)
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None or webhook.workspace_id != workspace_id:
        raise not_found("No such webhook.", "id")
    return webhook


WEBHOOKS_ORDER = (SortKey(Webhook.id),)
"Oldest first."
DELIVERIES_ORDER = (SortKey(WebhookDelivery.id, descending=True),)
"Newest first."


async def list_webhooks(session: AsyncSession, actor: Actor, window: Window) -> Page[Webhook]:
    """One window of the actor's workspace's webhooks. Admins only."""
    workspace_id = require_admin(actor, "read webhooks")
    return (await pages(session, select(Webhook), Webhook.workspace_id, [workspace_id], WEBHOOKS_ORDER, window))[
        workspace_id
    ]


async def deliveries_many(
    session: AsyncSession, actor: Actor, webhook_ids: Sequence[int], window: Window
) -> dict[int, Page[WebhookDelivery]]:
    """One window of each delivery log of the admin's own webhooks."""
    workspace_id = require_admin(actor, "read webhooks")
    stmt = (
        select(WebhookDelivery)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(Webhook.workspace_id == workspace_id)
    )
    return await pages(session, stmt, WebhookDelivery.webhook_id, webhook_ids, DELIVERIES_ORDER, window)


# --- Events --------------------------------------------------------------------------------------


def idea_ref(idea: Idea, board: Board) -> dict[str, Any]:
    return {
        "id": global_id("Idea", idea.id),
        "title": idea.title,
        "status": idea.status.value,
        "board": {"id": global_id("Board", board.id), "slug": board.slug},
    }


def comment_ref(comment: Comment) -> dict[str, Any]:
    return {
        "id": global_id("Comment", comment.id),
        "body": comment.body,
        "official": comment.official,
        "createdAt": _iso(comment.created_at),
    }


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def emit(
    session: AsyncSession,
    board: Board,
    event: WebhookEvent,
    data: dict[str, Any],
    *,
    about: Sequence[Idea | Comment],
) -> int:
    """Write one delivery per active webhook of the board's workspace that hears `event`, sent after commit.

    Returns how many; a workspace without webhooks costs one indexed read. Nothing is sent about content that
    is not published (`about`: the ideas and comments the event names, any of them PENDING or HIDDEN): a host
    app's channels are as public as the board, and approving pending content announces it then.
    """
    if any(subject.moderation_state != ModerationState.VISIBLE for subject in about):
        return 0
    hooks = [
        h
        for h in (
            await session.execute(
                select(Webhook).where(Webhook.workspace_id == board.workspace_id, Webhook.active.is_(True))
            )
        ).scalars()
        if event.value in h.events
    ]
    if not hooks:
        return 0
    workspace = await session.get(Workspace, board.workspace_id)
    now = utcnow()
    rows = [new_delivery(hook, workspace.slug if workspace is not None else None, event, data, now) for hook in hooks]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        jobs.after_commit(session, DELIVER, row.id)
    return len(rows)


def new_delivery(
    hook: Webhook, workspace_slug: str | None, event: WebhookEvent, data: dict[str, Any], now: datetime
) -> WebhookDelivery:
    """A pending delivery with its body serialised once: every attempt sends these bytes and this id."""
    delivery_id = str(uuid.uuid4())
    body = {
        "id": delivery_id,
        "event": event.value,
        "createdAt": _iso(now),
        "workspace": workspace_slug,
        "data": data,
    }
    return WebhookDelivery(
        webhook_id=hook.id,
        delivery_id=delivery_id,
        event=event.value,
        payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=WebhookDeliveryStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


async def overdue_deliveries(session: AsyncSession, due: datetime, limit: int = 1000) -> list[int]:
    """Pending deliveries whose attempt was due before `due`: their job was lost (the sweep enqueues them)."""
    when = func.coalesce(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
    rows = await session.execute(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == WebhookDeliveryStatus.PENDING, when < due)
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    return list(rows.scalars())
