"""Email notifications received by a real SMTP server (aiosmtpd on 127.0.0.1, started by the tests): instant
messages and digests as NotificationSettings ask, the one-click unsubscribe link (RFC 8058), a mail server
that is down or refuses. In-process runner here, on both databases."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet
from sqlalchemy import select

from ideaengine import mail, sweep, workspaces
from ideaengine.platform.ids import global_id, parse_global_id
from ideaengine.platform.models import MailOutbox
from ideaengine.platform.secrets_box import SecretBox
from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace, make_workspace
from tests.api.ops import change_status, create_board, vote
from tests.conftest import TEST_SECRET_KEY, UNLIMITED, eventually, in_process
from tests.workers.test_rq import free_port, settings_for, system

SETTINGS = "{ viewer { user { id } notificationSettings { email digest } } }"
UPDATE_SETTINGS = """mutation($i: UpdateNotificationSettingsInput!) { updateNotificationSettings(input: $i) {
  userErrors { code } } }"""
LABELS = """mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { code field } } }"""
SUBMIT = """mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { idea { id } userErrors { code } } }"""
COMMENT = """mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }"""
NOTIFICATIONS = "{ viewer { notifications { edges { node { kind message } } } } }"
REPORT = """mutation($i: ReportContentInput!) { reportContent(input: $i) { userErrors { code } } }"""
IDEA = "query($id: ID!) { idea(id: $id) { id } }"
PUBLIC = "https://ideas.example.com"
FROM = "Acme ideas <ideas@acme.example>"


@dataclass
class Mailbox:
    """An SMTP server on a port chosen up front (so it can be started late: a server that was down). `refuse`
    maps an address to the answers its next RCPTs get; `busy` answers the next DATAs (4xx: try later)."""

    port: int = field(default_factory=free_port)
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: dict[str, list[str]] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)
    rcpts: list[str] = field(default_factory=list)
    controller: Controller | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            self.rcpts.append(address)
            answers = self.refuse.get(address)
            if answers:
                return answers.pop(0) if len(answers) > 1 else answers[0]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.busy:
                return self.busy.pop(0)
            parsed = message_from_bytes(envelope.original_content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
        return "250 Message accepted"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.stop()


@pytest.fixture
def settings(database_url: str, mailbox: Mailbox) -> Any:
    from ideaengine.platform.settings import Settings

    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        refresh_delay_seconds=0.05,
        smtp_url=f"smtp://127.0.0.1:{mailbox.port}",
        mail_from=FROM,
        public_url=PUBLIC,
        mail_idea_url="https://acme.example/ideas/{idea}",
        mail_retry_base_seconds=0.2,
        mail_max_attempts=6,
        **UNLIMITED,
    )


@pytest.fixture
async def ws(services: Services) -> Workspace:
    async with services.transaction() as session:
        created = await workspaces.create_workspace(session, services.box, "acme", name="Acme Foods")
    return Workspace("acme", created.api_key, created.sso_secret)


async def choose(api: Api, auth: str, **fields: Any) -> None:
    assert (await api(UPDATE_SETTINGS, {"i": fields}, auth=auth))["data"]["updateNotificationSettings"] == {
        "userErrors": []
    }


async def viewer(api: Api, auth: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api(SETTINGS, auth=auth))["data"]["viewer"]
    return found


async def kinds(api: Api, auth: str) -> list[str]:
    """The kinds of the viewer's notifications in the app, newest first."""
    edges = (await api(NOTIFICATIONS, auth=auth))["data"]["viewer"]["notifications"]["edges"]
    return [e["node"]["kind"] for e in edges]


async def submit(api: Api, ws: Workspace, board: str, title: str, body: str = "") -> str:
    """Submitted with the API key: its service user has no address, so only supporters hear by email."""
    payload = (await api(SUBMIT, {"i": {"boardId": board, "title": title, "body": body}}, auth=ws.api_key))["data"]
    return str(payload["submitIdea"]["idea"]["id"])


async def move(api: Api, ws: Workspace, idea: str, *statuses: str, note: str | None = None) -> None:
    for status in statuses:
        assert (await change_status(api, ws.token("mo", role="moderator"), idea, status, note))["userErrors"] == []


async def official(api: Api, ws: Workspace, idea: str, body: str) -> None:
    payload = await api(COMMENT, {"i": {"ideaId": idea, "body": body, "official": True}}, auth=ws.api_key)
    assert payload["data"]["addComment"]["userErrors"] == []


def arrived(mailbox: Mailbox, address: str, count: int) -> Any:
    """A check for `eventually`: the messages to `address` once there are `count` of them."""

    async def check() -> list[EmailMessage] | None:
        found = mailbox.to(address)
        return found if len(found) == count else None

    return check


def parts(message: EmailMessage) -> tuple[str, str]:
    text, page = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and page is not None, message
    return _lines(text.get_content()), _lines(page.get_content())


def _lines(content: object) -> str:
    """As a reader sees it: SMTP carries CRLF line ends."""
    return str(content).replace("\r\n", "\n")


def link_of(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    assert header.startswith(f"<{PUBLIC}{mail.UNSUBSCRIBE_PATH}?") and header.endswith(">"), header
    return header[1:-1]


def local(url: str) -> str:
    """The link's path and query, to ask the app under test (the public URL is the proxy's in front of it)."""
    parts_ = urlsplit(url)
    return f"{parts_.path}?{parts_.query}"


async def test_instant_mail_arrives_in_both_parts_with_labels_and_one_click_unsubscribe_stops_it(
    api: Api, ws: Workspace, services: Services, mailbox: Mailbox, client: httpx.AsyncClient
) -> None:
    mailbox.start()
    board = await create_board(api, ws.api_key)
    labels = [{"status": "UNDER_REVIEW", "label": "With the team"}, {"status": "LAUNCHED", "label": "Shipped"}]
    assert (await api(LABELS, {"i": {"boardId": board, "statusLabels": labels}}, auth=ws.api_key))["data"][
        "updateBoard"
    ]["userErrors"] == []
    idea = await submit(api, ws, board, "Oat milk in every store", "Most of us drink it every day.")
    alice, bob, carol = ws.token("alice"), ws.token("bob"), ws.token("carol")
    await choose(api, bob, email=False)
    await choose(api, carol, digest="NEVER")
    for supporter in (alice, bob, carol):
        assert (await vote(api, supporter, idea, "UP"))["userErrors"] == []  # an UP vote follows

    await move(api, ws, idea, "UNDER_REVIEW", note="We are looking at it.")
    [first] = await eventually(arrived(mailbox, "alice@example.com", 1), 20, "alice's message")
    await in_process(services).drain()
    assert len(mailbox.messages) == 1  # bob turned email off, carol chose NEVER

    unsubscribe = link_of(first)
    assert (first["From"], first["To"]) == (FROM, "Alice <alice@example.com>")
    assert first["Subject"] == "[Acme Foods] Status update: Oat milk in every store"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["Auto-Submitted"] == "auto-generated"
    text, page = parts(first)
    assert text == (
        "Hello Alice,\n\n"
        "“Oat milk in every store” is now With the team. We are looking at it.\n\n"
        "  Oat milk in every store\n"
        "  Board: Ideas · Status: With the team\n"
        f"  https://acme.example/ideas/{idea}\n\n"
        "-- \n"
        "Acme Foods\n"
        "You receive this because of your notification settings on Acme Foods.\n"
        f"Stop these emails with one click: {unsubscribe}\n"
    )
    assert "Status: With the team" in page and "Acme Foods" in page
    assert f'href="{unsubscribe.replace("&", "&amp;")}"' in page
    assert f'<a href="https://acme.example/ideas/{idea}">Oat milk in every store</a>' in page

    await move(api, ws, idea, "PLANNED", "IN_PROGRESS")
    await move(api, ws, idea, "LAUNCHED", note="In every store from Monday.")
    await eventually(arrived(mailbox, "alice@example.com", 4), 20, "alice's four messages")
    # The last three were sent by jobs running at once: they may arrive in any order.
    subjects = sorted(m["Subject"] for m in mailbox.to("alice@example.com")[1:])
    assert subjects == [
        "[Acme Foods] Status update: Oat milk in every store",
        "[Acme Foods] Status update: Oat milk in every store",
        "[Acme Foods] You helped build this: Oat milk in every store",
    ]
    [launch] = [m for m in mailbox.to("alice@example.com") if m["Subject"].startswith("[Acme Foods] You helped")]
    text, page = parts(launch)
    assert (
        "“Oat milk in every store” has launched, and you helped build it. Thank you for your support! The idea: "
        "“Most of us drink it every day.” From the team: In every store from Monday.\n\n"
        "  Oat milk in every store\n"
        "  Board: Ideas · Status: Shipped\n"
    ) in text
    assert "You helped build this" in page and "Status: Shipped" in page

    # The link, with no login: GET asks, POST with List-Unsubscribe=One-Click (what mail clients send) does it.
    asked = await client.get(local(unsubscribe))
    assert asked.status_code == 200 and asked.headers["content-type"].startswith("text/html")
    assert "Stop all email from Acme Foods?" in asked.text and 'name="List-Unsubscribe" value="One-Click"' in asked.text
    done = await client.post(local(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You will get no more email from Acme Foods." in done.text
    assert (await viewer(api, alice))["notificationSettings"] == {"email": False, "digest": "INSTANT"}
    assert (await viewer(api, bob))["notificationSettings"] == {"email": False, "digest": "INSTANT"}
    assert (await viewer(api, carol))["notificationSettings"] == {"email": True, "digest": "NEVER"}

    await official(api, ws, idea, "Thank you all!")
    await in_process(services).drain()
    assert len(mailbox.messages) == 4  # unsubscribed: the official answer stays in the app
    kinds = [
        e["node"]["kind"] for e in (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["notifications"]["edges"]
    ]
    assert kinds == [
        "OFFICIAL_COMMENT",
        "SUPPORTED_IDEA_LAUNCHED",
        "STATUS_CHANGED",
        "STATUS_CHANGED",
        "STATUS_CHANGED",
    ]


async def test_the_author_of_an_idea_hidden_by_reports_is_told_by_mail_though_nobody_else_can_read_it(
    api: Api, ws: Workspace, services: Services, mailbox: Mailbox
) -> None:
    mailbox.start()
    board = await create_board(api, ws.api_key)
    alice = ws.token("alice")
    submitted = await api(
        SUBMIT, {"i": {"boardId": board, "title": "Cheaper coffee", "body": "Rude words"}}, auth=alice
    )
    idea = submitted["data"]["submitIdea"]["idea"]["id"]
    for reporter in ("bob", "carol", "dave"):
        reported = await api(REPORT, {"i": {"subjectId": idea, "reason": "ABUSE"}}, auth=ws.token(reporter))
        assert reported["data"]["reportContent"]["userErrors"] == []
    assert (await api(IDEA, {"id": idea}, auth=alice))["data"]["idea"] is None  # taken down, for her too
    [told] = await eventually(arrived(mailbox, "alice@example.com", 1), 20, "alice's message")
    assert "Cheaper coffee" in told["Subject"]
    text, _ = parts(told)
    assert "Your idea on “Cheaper coffee” was hidden after reports from members." in text
    await in_process(services).drain()
    assert len(mailbox.messages) == 1  # the reporters hear nothing


async def test_forged_expired_or_another_users_unsubscribe_link_gets_400_and_changes_nothing(
    api: Api, ws: Workspace, services: Services, client: httpx.AsyncClient
) -> None:
    alice, bob = ws.token("alice"), ws.token("bob")
    ids = []
    for auth in (alice, bob):
        found = parse_global_id((await viewer(api, auth))["user"]["id"])
        assert found is not None
        ids.append(found[1])
    alice_id, bob_id = ids
    settings = services.settings
    good = mail.unsubscribe_url(settings, services.box, alice_id)
    query = parse_qs(urlsplit(good).query)
    token = query["token"][0]
    lifetime = settings.unsubscribe_link_days * 86400
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    bad = {
        "altered_token": f"{mail.UNSUBSCRIBE_PATH}?user={global_id('User', alice_id)}&token={altered}",
        "another_servers_token": local(mail.unsubscribe_url(settings, SecretBox(Fernet.generate_key()), alice_id)),
        "expired": local(mail.unsubscribe_url(settings, services.box, alice_id, at=time.time() - lifetime - 60)),
        "for_another_user": f"{mail.UNSUBSCRIBE_PATH}?user={global_id('User', bob_id)}&token={token}",
        "not_a_user_id": f"{mail.UNSUBSCRIBE_PATH}?user={global_id('Idea', alice_id)}&token={token}",
        "no_token": f"{mail.UNSUBSCRIBE_PATH}?user={global_id('User', alice_id)}",
        "nothing": mail.UNSUBSCRIBE_PATH,
    }
    for case, path in bad.items():
        for method in ("GET", "POST"):
            answer = await client.request(
                method, path, data={"List-Unsubscribe": "One-Click"} if method == "POST" else None
            )
            assert answer.status_code == 400, (case, method, answer.text)
            assert answer.headers["content-type"].startswith("text/html"), case
            assert "This link does not work" in answer.text, case
    # A good link, but a POST that does not say List-Unsubscribe=One-Click.
    for data in ({}, {"List-Unsubscribe": "no"}):
        answer = await client.post(local(good), data=data)
        assert answer.status_code == 400 and "Nothing was changed" in answer.text
    assert (await viewer(api, alice))["notificationSettings"] == {"email": True, "digest": "INSTANT"}
    assert (await viewer(api, bob))["notificationSettings"] == {"email": True, "digest": "INSTANT"}

    # RFC 8058 lets clients send the field as multipart/form-data too; the user's other choices stay.
    await choose(api, alice, digest="WEEKLY")
    answer = await client.post(local(good), files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200, answer.text
    assert (await viewer(api, alice))["notificationSettings"] == {"email": False, "digest": "WEEKLY"}
    assert (await viewer(api, bob))["notificationSettings"] == {"email": True, "digest": "INSTANT"}


async def days_pass(services: Services, days: int) -> None:
    """Time passes for the outbox: every waiting row falls due `days` sooner."""
    async with services.db.write() as session:
        for row in (await session.execute(select(MailOutbox))).scalars():
            row.next_attempt_at -= timedelta(days=days)


async def test_daily_and_weekly_digests_gather_what_waits_into_one_message_each(
    api: Api, ws: Workspace, services: Services, mailbox: Mailbox
) -> None:
    mailbox.start()
    board = await create_board(api, ws.api_key)
    oat, soy = await submit(api, ws, board, "Oat milk in every store"), await submit(api, ws, board, "Soy milk too")
    dave, erin, fay = ws.token("dave"), ws.token("erin"), ws.token("fay")
    await choose(api, dave, digest="DAILY")
    await choose(api, erin, digest="WEEKLY")
    await choose(api, fay, digest="DAILY")
    for supporter in (dave, erin, fay):
        for idea in (oat, soy):
            assert (await vote(api, supporter, idea, "UP"))["userErrors"] == []
    await move(api, ws, oat, "UNDER_REVIEW")
    await move(api, ws, soy, "DECLINED", note="Not this year.")
    await official(api, ws, oat, "We are talking to suppliers.")
    await choose(api, fay, email=False)  # while her digest waits: settings are read when it would go out
    await in_process(services).drain()
    assert await sweep.sweep(services.db, services.queue) == 0  # nothing due yet
    assert mailbox.messages == []

    await days_pass(services, 1)
    assert await sweep.sweep(services.db, services.queue) == 1  # the mail sender, for dave's digest
    await in_process(services).drain()
    [digest] = mailbox.to("dave@example.com")
    assert mailbox.to("erin@example.com") == [] and mailbox.to("fay@example.com") == []
    assert digest["Subject"] == "[Acme Foods] Your daily digest: 3 updates"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, page = parts(digest)
    assert text.startswith("Hello Dave,\n\nWhat happened on Acme Foods since your last digest (3 updates):\n\n")
    for line in (
        "* Status update\n“Oat milk in every store” is now under review.\n",
        "* Status update\n“Soy milk too” is now declined. Not this year.\n\n  Soy milk too\n"
        "  Board: Ideas · Status: Declined\n",
        "* Official answer\nOfficial answer on “Oat milk in every store”: We are talking to suppliers.\n",
    ):
        assert line in text
    assert page.count("<h2") == 3

    await days_pass(services, 6)
    await sweep.sweep(services.db, services.queue)
    await in_process(services).drain()
    [weekly] = mailbox.to("erin@example.com")
    assert weekly["Subject"] == "[Acme Foods] Your weekly digest: 3 updates"
    assert len(mailbox.to("dave@example.com")) == 1 and mailbox.to("fay@example.com") == []  # once; never
    assert await sweep.sweep(services.db, services.queue) == 0


async def test_a_mail_server_down_then_refusing_delays_the_mail_and_delivers_it_once(
    api: Api, ws: Workspace, services: Services, mailbox: Mailbox
) -> None:
    board = await create_board(api, ws.api_key)
    idea = await submit(api, ws, board, "Oat milk in every store")
    alice, bob = ws.token("alice"), ws.token("bob")
    for supporter in (alice, bob):
        assert (await vote(api, supporter, idea, "UP"))["userErrors"] == []

    started = time.monotonic()
    await move(api, ws, idea, "UNDER_REVIEW")  # nothing listens on the port: the request does not notice
    assert time.monotonic() - started < 5
    await in_process(services).drain()  # the first attempt failed: connection refused
    kinds = [
        e["node"]["kind"] for e in (await api(NOTIFICATIONS, auth=alice))["data"]["viewer"]["notifications"]["edges"]
    ]
    assert kinds == ["STATUS_CHANGED"]  # the notification itself is there at once

    mailbox.busy = ["451 4.3.0 Try again later"]  # up, but refusing the first message for now
    mailbox.refuse = {"bob@example.com": ["550 5.1.1 No such user"]}  # a final answer: never tried again
    mailbox.start()
    [got] = await eventually(arrived(mailbox, "alice@example.com", 1), 30, "alice's message after the outage")
    assert got["Subject"] == "[Acme Foods] Status update: Oat milk in every store"
    await asyncio.sleep(1.0)  # longer than the next retry would wait: nothing more comes
    await sweep.sweep(services.db, services.queue)
    await in_process(services).drain()
    assert len(mailbox.messages) == 1
    assert mailbox.busy == [] and mailbox.rcpts.count("bob@example.com") == 1  # refused once, final


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
async def test_an_rq_worker_sends_the_mail_and_retries_a_refusal_once(
    pg_url: str, redis_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    mailbox.busy = ["451 4.3.0 Try again later"]
    mailbox.start()
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"
    settings = settings_for(pg_url, redis_url, f"ie-{uuid.uuid4().hex}").model_copy(
        update={"smtp_url": smtp_url, "mail_from": FROM, "public_url": PUBLIC}
    )
    async with system(settings, tmp_path) as (api, services, workers):
        ws = await make_workspace(services, "acme")
        board = await create_board(api, ws.api_key)
        idea = await submit(api, ws, board, "Oat milk in every store")
        alice = ws.token("alice")
        assert (await vote(api, alice, idea, "UP"))["userErrors"] == []
        workers.start(
            IDEAENGINE_SMTP_URL=smtp_url,
            IDEAENGINE_MAIL_FROM=FROM,
            IDEAENGINE_PUBLIC_URL=PUBLIC,
            IDEAENGINE_MAIL_RETRY_BASE_SECONDS="0.2",
        )
        await move(api, ws, idea, "UNDER_REVIEW")
        [got] = await eventually(arrived(mailbox, "alice@example.com", 1), 45, "the mail", workers.output)
        assert got["Subject"] == "[acme] Status update: Oat milk in every store"
        await asyncio.sleep(1.0)  # five times the retry base: a second copy would have come
        assert len(mailbox.messages) == 1 and mailbox.busy == []
