"""Browser tests run against a real `ideaengine serve` (the realtime suite's embedded server), and the embed tests
against one framed by a host site on another origin."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Workspace as WorkspaceKeys
from tests.conftest import new_database
from tests.realtime.conftest import Server, create_workspace, embedded, http_api, server_env  # noqa: F401
from tests.workers.test_rq import free_port

HOST_PAGE = Path(__file__).parent / "host.html"
"The brand's page that frames the board: what the README's iframe snippet shows, plus a record of messages."
HOST_SCRIPT_PAGE = Path(__file__).parent / "host-script.html"
"The same with the README's <script> snippet (the server's embed.js makes the iframe and answers it)."


@dataclass
class HostSite:
    """The brand's site on its own origin: the page that frames the board, and a backend that signs an SSO token
    for its signed-in visitor (`/token`), as a host app would. `ttls` are the lives of the next tokens (the last
    repeats); `issued` keeps every token handed out; `page` is the host page served (its `__BOARD_URL__` and
    `__SERVER__` become the board's address and its server's)."""

    board_url: str
    keys: WorkspaceKeys
    sub: str = "vera"
    name: str = "Vera Visitor"
    ttls: list[int] = field(default_factory=lambda: [3600])
    issued: list[str] = field(default_factory=list)
    page: Path = HOST_PAGE
    port: int = field(default_factory=free_port)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sign(self) -> str:
        ttl = self.ttls.pop(0) if len(self.ttls) > 1 else self.ttls[0]
        token = self.keys.token(self.sub, name=self.name, ttl=ttl)
        self.issued.append(token)
        return token

    def start(self) -> None:
        site = self
        server = self.board_url.split("/embed/", 1)[0]
        page = self.page.read_text().replace("__BOARD_URL__", json.dumps(self.board_url)).replace("__SERVER__", server)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/token":
                    body, kind = site.sign().encode(), "text/plain"
                else:
                    body, kind = page.encode(), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Site:
    """An `ideaengine serve` that lets one host origin frame its boards, with a seeded board `acme/ideas`."""

    server: Server
    keys: WorkspaceKeys
    host_port: int
    board_id: str
    ideas: dict[str, str]
    "title -> id of the seeded ideas"

    def host(self, **kwargs: Any) -> HostSite:
        site = HostSite(f"{self.server.url}/embed/acme/ideas", self.keys, port=self.host_port, **kwargs)
        site.start()
        return site


SEED = [
    # title, tags, status, up votes (of 4 members)
    ("Oat milk in every store", ["menu"], "SUBMITTED", 3),
    ("Mobile ordering in the app", ["app"], "PLANNED", 4),
    ("Dark mode for the app", ["app"], "SUBMITTED", 2),
    ("Quiet hours for studying", ["stores"], "SUBMITTED", 1),
    ("Loyalty points that never expire", ["loyalty"], "UNDER_REVIEW", 2),
    *((f"Seasonal idea number {n}", ["seasonal"], "SUBMITTED", n % 3) for n in range(1, 20)),
]
"24 ideas: more than a page, a couple of tags, a few statuses."
COMPARED = [
    "Mobile ordering in the app",
    "Oat milk in every store",
    "Dark mode for the app",
    "Quiet hours for studying",
]
"Each member prefers the earlier of every pair of these, so PAIRWISE puts them in this order."
STEPS = ["SUBMITTED", "UNDER_REVIEW", "PLANNED"]
"SUBMITTED needs no change; the others are reached one step at a time."
LABELS = [{"status": "PLANNED", "label": "On the roadmap"}, {"status": "UNDER_REVIEW", "label": "Being considered"}]


async def seed(server: Server, keys: WorkspaceKeys) -> tuple[str, dict[str, str]]:
    """The board through the API, as its brand and its customers would make it; returns when scores are fresh."""
    async with http_api(server) as api:
        made = await api(
            "mutation($i: CreateBoardInput!) { createBoard(input: $i) { board { id } userErrors { message } } }",
            {"i": {"slug": "ideas", "name": "Acme ideas", "description": "Tell us what to build next."}},
            auth=keys.api_key,
        )
        board_id = made["data"]["createBoard"]["board"]["id"]
        await api(
            "mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { message } } }",
            {"i": {"boardId": board_id, "statusLabels": LABELS}},
            auth=keys.api_key,
        )
        members = [keys.token(f"member{n}") for n in range(4)]
        ideas: dict[str, str] = {}
        for n, (title, tags, status, ups) in enumerate(SEED):
            done = await api(
                "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { idea { id } userErrors { message } } }",
                {"i": {"boardId": board_id, "title": title, "body": f"Details of {title.lower()}.", "tags": tags}},
                auth=members[n % 4],
            )
            idea_id = ideas[title] = done["data"]["submitIdea"]["idea"]["id"]
            for step in STEPS[1 : STEPS.index(status) + 1]:
                changed = await api(
                    "mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) { userErrors { message } } }",
                    {"i": {"ideaId": idea_id, "status": step}},
                    auth=keys.api_key,
                )
                assert changed["data"]["changeIdeaStatus"]["userErrors"] == [], changed
            for member in members[:ups]:
                await api(
                    "mutation($i: VoteInput!) { vote(input: $i) { userErrors { message } } }",
                    {"i": {"ideaId": idea_id, "value": "UP"}},
                    auth=member,
                )
        for member in members:
            for i, winner in enumerate(COMPARED):
                for loser in COMPARED[i + 1 :]:
                    await api(
                        "mutation($i: CompareIdeasInput!) { compareIdeas(input: $i) { userErrors { message } } }",
                        {"i": {"winnerId": ideas[winner], "loserId": ideas[loser]}},
                        auth=member,
                    )
        await fresh_scores(api, board_id)
    return board_id, ideas


async def fresh_scores(api: Any, board_id: str, seconds: float = 30) -> list[dict[str, Any]]:
    """The board's ideas once every score includes every write."""
    deadline = time.monotonic() + seconds
    while True:
        body = await api(
            "query($id: ID!) { node(id: $id) { ... on Board { ideas(first: 100) { edges { node {"
            " id title score { comparisons stale } } } } } } }",
            {"id": board_id},
        )
        ideas = [edge["node"] for edge in body["data"]["node"]["ideas"]["edges"]]
        if not any(idea["score"]["stale"] for idea in ideas):
            return ideas
        if time.monotonic() > deadline:
            pytest.fail("scores stayed stale")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def site(templates: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("embed")
    url, drop = new_database(templates, "sqlite", tmp)
    host_port = free_port()
    env = server_env(url, IDEAENGINE_CORS_ORIGINS=f"http://127.0.0.1:{host_port}")
    keys = create_workspace(env, "acme")
    server = Server(env, tmp, "server")
    try:
        asyncio.run(server.ready())
        board_id, ideas = asyncio.run(seed(server, keys))
        yield Site(server, keys, host_port, board_id, ideas)
    finally:
        server.stop()
        drop()
