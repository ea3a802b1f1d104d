"""send_due: send every email due now over SMTP (aiosmtplib), and record each message's outcome as it goes.

A mail server that is down, times out or answers 4xx leaves the rows PENDING for another attempt after
`mail_retry_base_seconds`, doubling (`jobs.backoff`, the webhooks' rule), at most `mail_max_attempts` in
all; the job runs again then (rq's scheduler, or the in-process runner's loop), and the sweep picks up
whatever a lost job left. A refused recipient or message (5xx) is final. Each outcome is written right after
its message is sent, so a sender that dies loses at most the message in flight (its claim lapses; the
repeat carries the same Message-ID).
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib

from ideaengine import mail, mail_messages
from ideaengine.mail_messages import Letter
from ideaengine.platform import jobs
from ideaengine.platform.db import Database
from ideaengine.platform.jobs import current_settings
from ideaengine.platform.models import MailStatus, utcnow
from ideaengine.platform.secrets_box import SecretBox, load_server_key
from ideaengine.platform.settings import Settings
from workers.base import run_again, with_database

log = logging.getLogger("ideaengine.jobs")

BATCH = 50
"Rows claimed at a time: one SMTP connection sends them."
ERROR_MAX = 500


def send_due() -> dict[str, Any]:
    """Send what is due now; schedule this job again for the earliest retry. Idempotent: a row is claimed
    before it is sent and settled after, so two runs at once never send one row twice."""
    settings = current_settings()
    started = time.monotonic()
    if not settings.mail_enabled:
        counts: dict[str, Any] = {"skipped": "no mail server configured"}
        retry_in = None
    else:
        counts, retry_in = with_database(lambda db: _send_due(db, settings))
    fields = {"job": "send_mail", "seconds": round(time.monotonic() - started, 4), **counts}
    log.info("job send_mail done", extra={"fields": fields})
    if retry_in is not None and not run_again(retry_in, mail.SEND_DUE):
        log.info("send_mail: run by hand; the sweep retries in %.0fs or later", retry_in)
    return counts


async def _send_due(db: Database, settings: Settings) -> tuple[dict[str, Any], float | None]:
    box = SecretBox(load_server_key(settings))
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    retry_in: float | None = None
    now = utcnow()
    sender = _Sender(settings)
    try:
        while True:
            async with db.write() as session:
                rows = await mail.claim_due(session, now, BATCH)
            if not rows:
                break
            async with db.read() as session:
                people = await mail.recipients(session, rows)
            plan = mail_messages.plan(people, settings, box, now)
            if plan.skipped:
                async with db.write() as session:
                    for why, ids in plan.skipped.items():
                        await mail.settle(session, ids, MailStatus.SKIPPED, error=why, now=now)
                        counts["skipped"] += len(ids)
            for letter in plan.letters:
                error, final = await sender.send(letter)
                delay = await _record(db, settings, letter, error, final)
                status = "sent" if error is None else "retry" if delay is not None else "failed"
                counts[status] += len(letter.row_ids)
                if delay is not None:
                    retry_in = delay if retry_in is None else min(retry_in, delay)
            if len(rows) < BATCH:
                break
    finally:
        await sender.close()
    return counts, retry_in


async def _record(db: Database, settings: Settings, letter: Letter, error: str | None, final: bool) -> float | None:
    """Write one message's outcome; the seconds until its retry, or None when it is settled."""
    now = utcnow()
    delay = None
    if error is None:
        status = MailStatus.SENT
    elif not final and letter.attempts < settings.mail_max_attempts:
        status, delay = MailStatus.PENDING, jobs.backoff(settings.mail_retry_base_seconds, letter.attempts)
    else:
        status = MailStatus.FAILED
    retry_at = None if delay is None else now + timedelta(seconds=delay)
    async with db.write() as session:
        await mail.settle(
            session, letter.row_ids, status, attempts=letter.attempts, error=error, retry_at=retry_at, now=now
        )
    if error is not None:
        log.warning("mail: attempt %d of rows %s: %s", letter.attempts, list(letter.row_ids), error)
    return delay


class _Sender:
    """One SMTP connection for a run, opened at the first message; once it breaks, the rest wait for a retry."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: aiosmtplib.SMTP | None = None
        self.broken: str | None = None

    async def send(self, letter: Letter) -> tuple[str | None, bool]:
        """(error or None, whether the error is final)."""
        if self.broken is not None:
            return self.broken, False
        if self.smtp is None:
            client = _client(self.settings)
            try:
                await client.connect()  # and logs in, with a user in the URL
            except (aiosmtplib.SMTPException, OSError) as exc:  # down, refused, timed out, or the login failed
                self.broken = _clip(f"Cannot use the mail server: {exc or type(exc).__name__}")
                return self.broken, False
            self.smtp = client
        try:
            await self.smtp.send_message(letter.message)
            return None, False
        except aiosmtplib.SMTPRecipientsRefused as exc:
            answers = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            return _clip(f"Recipient refused: {answers}"), min(r.code for r in exc.recipients) >= 500
        except aiosmtplib.SMTPDataError as exc:
            return _clip(f"Message refused: {exc.code} {exc.message}"), exc.code >= 500
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. a non-ASCII address to a server without SMTPUTF8
            return _clip(f"The mail server cannot take it: {exc}"), True
        except aiosmtplib.SMTPResponseException as exc:  # the sender refused: configuration, retried
            return _clip(f"The mail server answered {exc.code} {exc.message}"), False
        except (aiosmtplib.SMTPException, OSError) as exc:  # timed out or hung up
            self.broken = _clip(f"Lost the mail server: {exc or type(exc).__name__}")
            await self.close()
            return self.broken, False

    async def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if self.smtp.is_connected:
                    await self.smtp.quit()
            self.smtp.close()
            self.smtp = None


def _client(settings: Settings) -> aiosmtplib.SMTP:
    """A client for IDEAENGINE_SMTP_URL: smtps:// is TLS from the start; smtp:// upgrades with STARTTLS when the
    server offers it; user and password (percent-encoded in the URL) log in."""
    parts = urlsplit(settings.smtp_url or "")
    tls = parts.scheme == "smtps"
    return aiosmtplib.SMTP(
        hostname=parts.hostname,
        port=parts.port or (465 if tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=tls,
        start_tls=False if tls else None,
        timeout=settings.mail_timeout_seconds,
    )


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
