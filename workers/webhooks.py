"""deliver: send one webhook delivery, signed, and record the attempt in the delivery log.

Timeouts, connection errors, 5xx, 408 and 429 are retried with exponential backoff
(`webhook_retry_base_seconds`, doubling, at most `webhook_max_attempts` attempts in all); any
other answer is final. A retry is a new run of this job scheduled for later: through rq's
scheduler under rq, on the server's event loop in-process, so no worker or thread waits idle.
Sends an admin asks for (a ping, a redelivery) are one attempt, never retried: the admin reads the
outcome and may ask again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from ideaengine import webhooks
from ideaengine.errors import DomainError
from ideaengine.platform import jobs
from ideaengine.platform.db import Database
from ideaengine.platform.jobs import current_settings
from ideaengine.platform.models import Webhook, WebhookDelivery, WebhookDeliveryStatus, utcnow
from ideaengine.platform.secrets_box import SecretBox, load_server_key
from ideaengine.platform.settings import Settings
from workers.base import run_again, with_database

log = logging.getLogger("ideaengine.jobs")

ERROR_MAX = 500
"Characters of an error (or of a receiver's answer) kept in the delivery log."
USER_AGENT = "ideaengine-webhooks/1"


@dataclass
class Outcome:
    counts: dict[str, Any] = field(default_factory=dict)
    retry_in: float | None = None
    "Seconds until the next attempt; None when the delivery is settled (delivered, failed or gone)."


def deliver(delivery_id: int, retries: bool = True) -> dict[str, Any]:
    """Attempt one delivery once; on a retryable failure, schedule the next attempt (unless `retries` is False:
    then that failure is final). Idempotent: a settled delivery is not sent again."""
    if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
        raise TypeError(f"deliver: delivery_id must be an int, not {delivery_id!r}")
    if not isinstance(retries, bool):
        raise TypeError(f"deliver: retries must be a bool, not {retries!r}")
    settings = current_settings()
    while True:
        started = time.monotonic()
        outcome = with_database(lambda db: _attempt(db, settings, delivery_id, retries))
        log.info(
            json.dumps(
                {
                    "job": "deliver_webhook",
                    "delivery": delivery_id,
                    "seconds": round(time.monotonic() - started, 4),
                    **outcome.counts,
                }
            )
        )
        if outcome.retry_in is None or run_again(outcome.retry_in, webhooks.DELIVER, delivery_id):
            return outcome.counts
        time.sleep(outcome.retry_in)  # run by hand, with no runner to come back later: wait here


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the attempt after `attempts` failed ones (`jobs.backoff` from webhook_retry_base_seconds)."""
    return jobs.backoff(settings.webhook_retry_base_seconds, attempts)


async def _attempt(db: Database, settings: Settings, delivery_id: int, retries: bool) -> Outcome:
    async with db.read() as session:
        row = (
            await session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).first()
    if row is None:
        return Outcome({"skipped": "the delivery or its webhook was deleted"})
    delivery, hook = row
    if delivery.status != WebhookDeliveryStatus.PENDING:
        return Outcome({"skipped": f"already {delivery.status.value.lower()}"})
    code, error, retryable = await _send(settings, delivery, hook)
    attempts = delivery.attempts + 1
    now = utcnow()
    if error is None:
        status, retry_in = WebhookDeliveryStatus.DELIVERED, None
    elif retryable and retries and attempts < settings.webhook_max_attempts:
        status, retry_in = WebhookDeliveryStatus.PENDING, backoff(settings, attempts)
    else:
        status, retry_in = WebhookDeliveryStatus.FAILED, None
    async with db.write() as session:
        # Never undo a settled delivery (a duplicate run may have finished first).
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == WebhookDeliveryStatus.PENDING)
            .values(
                attempts=WebhookDelivery.attempts + 1,
                status=status,
                last_error=error,
                response_status=code,
                last_attempt_at=now,
                next_attempt_at=None if retry_in is None else now + timedelta(seconds=retry_in),
                delivered_at=now if error is None else None,
            )
        )
    counts: dict[str, Any] = {"attempt": attempts, "status": status.value, "httpStatus": code}
    if error is not None:
        counts["error"] = error
    return Outcome(counts, retry_in)


async def _send(settings: Settings, delivery: WebhookDelivery, hook: Webhook) -> tuple[int | None, str | None, bool]:
    """POST the stored body once: (HTTP status or None, error or None, whether to try again)."""
    if not hook.active:
        return None, "The webhook is paused.", False
    # Resolved and checked again at each attempt (DNS may point somewhere private since registration), and
    # the connection goes to the address that passed, so a second lookup cannot differ (DNS rebinding).
    try:
        target = await asyncio.to_thread(webhooks.pin, hook.url, settings.webhook_allow_private)
    except DomainError as exc:
        return None, f"Refused: {exc.message}", False
    except OSError as exc:
        return None, _clip(f"Cannot resolve the host: {exc}"), True
    secret = SecretBox(load_server_key(settings)).open(hook.secret_encrypted)
    body = delivery.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        webhooks.SIGNATURE_HEADER: webhooks.sign(secret, body),
        webhooks.DELIVERY_HEADER: delivery.delivery_id,
        webhooks.EVENT_HEADER: delivery.event,
        "Host": target.host_header,
    }
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    try:
        async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
            response = await client.post(target.url, content=body, headers=headers, extensions=extensions)
    except httpx.TimeoutException as exc:
        return None, _clip(f"Timed out after {settings.webhook_timeout_seconds:g}s ({type(exc).__name__})."), True
    except httpx.HTTPError as exc:
        return None, _clip(f"Connection failed: {exc or type(exc).__name__}"), True
    code = response.status_code
    if 200 <= code < 300:
        return code, None, True
    answer = response.text.strip()
    error = _clip(f"HTTP {code}" + (f": {answer}" if answer else ""))
    return code, error, code >= 500 or code in (408, 429)


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
