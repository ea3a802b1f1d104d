"""The page every email's unsubscribe link opens (RFC 8058 one-click): GET shows a button, POST with
`List-Unsubscribe=One-Click` (what mail clients send, and what the button sends) turns the user's email off.

No login: the signed link is the proof. A link that is forged, altered, expired or for another user is
answered 400, and nothing is written.
"""

from __future__ import annotations

import html
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ideaengine import mail
from ideaengine.platform.services import Services

ONE_CLICK = ("List-Unsubscribe", "One-Click")
"The form field and value RFC 8058 has mail clients POST."
HEADERS = {"cache-control": "no-store", "referrer-policy": "no-referrer", "x-robots-tag": "noindex"}
"The link carries a token: never cached, never sent on as a Referer, never indexed."


async def unsubscribe_page(request: Request) -> HTMLResponse:
    """GET: confirm. POST: unsubscribe (the body must say List-Unsubscribe=One-Click)."""
    services: Services = request.app.state.services
    user, token = request.query_params.get("user"), request.query_params.get("token")
    try:
        user_id = mail.check_link(services.settings, services.box, user, token)
    except mail.BadLink as exc:
        return _page("This link does not work", str(exc) + " Use the link of a recent email.", 400)
    if request.method == "POST":
        if not _one_click(request.headers.get("content-type", ""), await request.body()):
            return _page("Nothing was changed", "The request did not ask to unsubscribe (List-Unsubscribe).", 400)
        async with services.transaction() as session:
            found = await mail.recipient_of(session, user_id)
            if found is not None:
                await mail.unsubscribe(session, user_id)
        if found is None:
            return _page("This link does not work", "The account it was sent to no longer exists.", 400)
        return _page("You are unsubscribed", f"You will get no more email from {found[1].name}.", 200)
    async with services.db.read() as session:
        found = await mail.recipient_of(session, user_id)
    if found is None:
        return _page("This link does not work", "The account it was sent to no longer exists.", 400)
    action = "?" + urlencode({"user": user, "token": token})
    form = (
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="{ONE_CLICK[0]}" value="{ONE_CLICK[1]}">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe?", f"Stop all email from {found[1].name}?", 200, form)


def _one_click(content_type: str, body: bytes) -> bool:
    """Whether a form body (urlencoded or multipart, RFC 8058 allows both) holds List-Unsubscribe=One-Click."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return ONE_CLICK[1] in parse_qs(body.decode("latin-1")).get(ONE_CLICK[0], [])
    if kind == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        if not message.is_multipart():
            return False
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == ONE_CLICK[0]:
                value = part.get_payload(decode=True)
                return isinstance(value, bytes) and value.decode("latin-1").strip() == ONE_CLICK[1]
    return False


def _page(title: str, text: str, status: int, extra: str = "") -> HTMLResponse:
    e = html.escape
    body = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body style="font-family:sans-serif;max-width:600px;margin:2em auto">'
        f"<h1>{e(title)}</h1><p>{e(text)}</p>{extra}</body></html>\n"
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)
