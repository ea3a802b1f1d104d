"""What a notification email says: one message per INSTANT notification, one digest per user for DAILY and
WEEKLY ones; plain text and HTML alike, in the workspace's name and the board's own status labels, with the
one-click unsubscribe link in the body and in the List-Unsubscribe headers (RFC 8058)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from ideaengine import mail, notification_settings, status_labels, visibility
from ideaengine.platform.ids import global_id
from ideaengine.platform.models import DigestFrequency, NotificationKind
from ideaengine.platform.secrets_box import SecretBox
from ideaengine.platform.settings import Settings

HEADINGS = {
    NotificationKind.STATUS_CHANGED: "Status update",
    NotificationKind.MERGED: "Ideas merged",
    NotificationKind.OFFICIAL_COMMENT: "Official answer",
    NotificationKind.CONTENT_HIDDEN: "Your post was hidden",
    NotificationKind.REPLY: "New reply",
    NotificationKind.MENTION: "You were mentioned",
    NotificationKind.ANSWER_ACCEPTED: "Your answer was accepted",
    NotificationKind.SUPPORTED_IDEA_LAUNCHED: "You helped build this",
}
"What each kind of notification is called in a subject and a heading."
DIGEST_NAMES = {DigestFrequency.DAILY: "daily", DigestFrequency.WEEKLY: "weekly"}
SUBJECT_MAX = 140


@dataclass(frozen=True)
class Letter:
    """One message to send, and the outbox rows it settles."""

    row_ids: tuple[int, ...]
    attempts: int
    "The attempt this send will be (1 for the first)."
    message: EmailMessage


@dataclass
class Plan:
    letters: list[Letter] = field(default_factory=list)
    skipped: dict[str, list[int]] = field(default_factory=dict)
    "Row ids not to send, by why."


def plan(recipients: Sequence[mail.Recipient], settings: Settings, box: SecretBox, now: datetime) -> Plan:
    """The messages for claimed rows: users who no longer want email, have no address, or can no longer read
    an idea are skipped (the notification stays in the app)."""
    out = Plan()
    for person in recipients:
        user = person.user
        why = None
        if not notification_settings.sends_email(person.choices):
            why = "email turned off"
        elif not user.email or user.erased_at is not None:
            why = "no email address"
        readable = []
        for item in person.items:
            if why is None and visibility.user_can_read_notified(user, item.board, item.idea):
                readable.append(item)
            else:
                out.skipped.setdefault(why or "cannot read the idea", []).append(item.row.id)
        instant = [i for i in readable if i.row.digest == DigestFrequency.INSTANT]
        gathered = [i for i in readable if i.row.digest != DigestFrequency.INSTANT]
        batches = [([item], None) for item in instant] + ([(gathered, gathered[0].row.digest)] if gathered else [])
        for items, digest in batches:
            try:
                out.letters.append(_letter(person, items, settings, box, now, digest))
            except ValueError as exc:  # an address or name no message can carry: never retried
                out.skipped.setdefault(f"cannot write the message: {exc}", []).extend(i.row.id for i in items)
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def idea_link(settings: Settings, item: mail.Item) -> str | None:
    template = settings.mail_idea_url
    if not template:
        return None
    return template.replace("{idea}", global_id("Idea", item.idea.id)).replace("{board}", item.board.slug)


def _letter(
    person: mail.Recipient,
    items: list[mail.Item],
    settings: Settings,
    box: SecretBox,
    now: datetime,
    digest: DigestFrequency | None,
) -> Letter:
    workspace = _one_line(person.workspace.name)
    unsubscribe = mail.unsubscribe_url(settings, box, person.user.id)
    if digest is None:
        [item] = items
        subject = f"[{workspace}] {HEADINGS[item.notification.kind]}: {item.idea.title}"
        opening = ""
    else:
        count = f"{len(items)} update" + ("s" if len(items) != 1 else "")
        subject = f"[{workspace}] Your {DIGEST_NAMES[digest]} digest: {count}"
        opening = f"What happened on {workspace} since your last digest ({count}):"
    name = _one_line(person.user.name or "") or "there"
    text = _text(settings, name, opening, items, workspace, unsubscribe)
    page = _html(settings, name, opening, items, workspace, unsubscribe)

    message = EmailMessage()
    message["From"] = settings.mail_from or ""
    message["To"] = formataddr((_one_line(person.user.name or ""), person.user.email or ""))
    message["Subject"] = _clip(subject, SUBJECT_MAX)
    message["Date"] = format_datetime(now)
    domain = parseaddr(settings.mail_from or "")[1].rpartition("@")[2] or "localhost"
    first = min(item.row.id for item in items)
    # The same on every attempt: a receiver that got a message whose acceptance we never heard of drops the repeat.
    message["Message-ID"] = f"<ideaengine.{first}.{person.user.id}@{domain}>"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(page, subtype="html")
    attempts = max(item.row.attempts for item in items) + 1
    return Letter(tuple(sorted(item.row.id for item in items)), attempts, message)


def _facts(item: mail.Item) -> str:
    label = status_labels.label(item.board, item.idea.status)
    return f"Board: {item.board.name} · Status: {label}"


def _text(settings: Settings, name: str, opening: str, items: list[mail.Item], workspace: str, unsubscribe: str) -> str:
    parts = [f"Hello {name},", ""]
    if opening:
        parts += [opening, ""]
    for item in items:
        if opening:
            parts.append(f"* {HEADINGS[item.notification.kind]}")
        parts += [item.notification.message, "", f"  {item.idea.title}", f"  {_facts(item)}"]
        if (link := idea_link(settings, item)) is not None:
            parts.append(f"  {link}")
        parts.append("")
    parts += [
        "-- ",
        workspace,
        f"You receive this because of your notification settings on {workspace}.",
        f"Stop these emails with one click: {unsubscribe}",
    ]
    return "\n".join(parts) + "\n"


def _html(settings: Settings, name: str, opening: str, items: list[mail.Item], workspace: str, unsubscribe: str) -> str:
    e = html.escape
    blocks = []
    for item in items:
        link = idea_link(settings, item)
        title = f'<a href="{e(link)}">{e(item.idea.title)}</a>' if link else e(item.idea.title)
        blocks.append(
            f'<h2 style="font-size:16px">{e(HEADINGS[item.notification.kind])}</h2>'
            f"<p>{e(item.notification.message)}</p>"
            f'<p style="border-left:3px solid #ccc;padding-left:8px"><strong>{title}</strong><br>'
            f"{e(_facts(item))}</p>"
        )
    return (
        '<!DOCTYPE html><html><body style="font-family:sans-serif;max-width:600px">'
        f"<p>Hello {e(name)},</p>"
        + (f"<p>{e(opening)}</p>" if opening else "")
        + "".join(blocks)
        + f'<hr><p style="color:#666;font-size:12px">{e(workspace)}<br>'
        f"You receive this because of your notification settings on {e(workspace)}. "
        f'<a href="{e(unsubscribe)}">Unsubscribe with one click</a>.</p></body></html>\n'
    )
