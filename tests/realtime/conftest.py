"""Real-time tests with real parts: `ideaengine serve` processes, a websocket client speaking
graphql-transport-ws, Redis pub/sub, rq workers, and an HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, api, client, other_ws, ws  # noqa: F401  (fixtures)
from tests.api.conftest import Workspace as WorkspaceKeys
from tests.conftest import (
    TEST_QUEUE,
    TEST_SECRET_KEY,
    UNLIMITED_ENV,
    new_database,
)
from tests.workers.test_rq import free_port

SCRIPT = Path(sys.executable).parent / "ideaengine"
PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def pg_url(templates: Any, tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database for server processes (made in a sync fixture: it runs its own loop)."""
    url, drop = new_database(templates, "postgres", tmp_path)
    yield url
    drop()


def server_env(
    database_url: str, redis_url: str | None = None, queue: str | None = None, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
    env.update(
        {
            "IDEAENGINE_DATABASE_URL": database_url,
            "IDEAENGINE_SECRET_KEY": TEST_SECRET_KEY,
            "IDEAENGINE_REFRESH_DELAY_SECONDS": "0.2",
            "IDEAENGINE_SWEEP_INTERVAL_SECONDS": "2",
            "IDEAENGINE_LOG_LEVEL": "WARNING",
            **UNLIMITED_ENV,
        }
    )
    if redis_url is not None:
        env["IDEAENGINE_REDIS_URL"] = redis_url
        env["IDEAENGINE_QUEUE_NAME"] = queue or TEST_QUEUE
    env.update(extra)
    return env


class Server:
    """`ideaengine serve` on a free port, in its own session so that stopping it leaves nothing behind."""

    def __init__(self, env: dict[str, str], logs: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self.log_path = logs / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient() as http:
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"the server exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/healthz", timeout=2)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{self.output()[-4000:]}")
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


@contextlib.asynccontextmanager
async def http_api(server: Server) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield Api(http)


def create_workspace(env: dict[str, str], slug: str) -> WorkspaceKeys:
    """Through the CLI, as an operator would."""
    done = subprocess.run(
        [str(SCRIPT), "workspace", "create", slug], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    return WorkspaceKeys(slug, created["apiKey"], created["ssoSecret"])


class GraphQLWS:
    """A graphql-transport-ws client on the `websockets` package: init, subscribe, next, complete."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.pending: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    async def open(cls, url: str, token: str | None = None, *, init: bool = True) -> GraphQLWS:
        from websockets.asyncio.client import connect

        socket = await connect(url, subprotocols=[PROTOCOL], open_timeout=10)  # type: ignore[list-item]
        assert socket.subprotocol == PROTOCOL
        conn = cls(socket)
        if init:
            payload = {"authorization": f"Bearer {token}"} if token else {}
            await conn.send({"type": "connection_init", "payload": payload})
            ack = await conn.receive()
            assert ack["type"] == "connection_ack", ack
        return conn

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self, seconds: float = 10) -> dict[str, Any]:
        """The next message that is not a keep-alive ping (pings are answered)."""
        while True:
            frame = await asyncio.wait_for(self.socket.recv(), seconds)
            # graphql-transport-ws sends JSON in text frames; browser and Node clients drop binary ones.
            assert isinstance(frame, str), f"a binary frame: {frame[:80]!r}"
            message: dict[str, Any] = json.loads(frame)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def expect(self, op_id: str, seconds: float = 15) -> dict[str, Any]:
        """The next message of one operation (others are kept for their own `expect`)."""
        deadline = time.monotonic() + seconds
        while not self.pending.get(op_id):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no message for operation {op_id} in {seconds}s; others: {self.pending}")
            message = await self.receive(left)
            self.pending.setdefault(message.get("id", ""), []).append(message)
        return self.pending[op_id].pop(0)

    async def expect_quiet(self, seconds: float) -> None:
        """Nothing arrives (but keep-alives) for `seconds`."""
        with contextlib.suppress(TimeoutError):
            message = await self.receive(seconds)
            pytest.fail(f"unexpected message: {message}")

    async def complete(self, op_id: str) -> None:
        await self.send({"id": op_id, "type": "complete"})

    async def completed(self, *op_ids: str) -> None:
        """Complete the operations and wait until the server has taken that in: a ping sent after the completes
        is answered after them, so what arrives before the pong was already on its way (let through), and
        nothing for these operations may follow it."""
        for op_id in op_ids:
            await self.complete(op_id)
        await self.send({"type": "ping"})
        while (message := await self.receive())["type"] != "pong":
            assert message.get("id") in op_ids and message["type"] == "next", message

    async def close_code(self, seconds: float = 10) -> int | None:
        """Wait for the server to close the socket; its close code."""
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(self.socket.recv(), seconds)
        return self.socket.close_code  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.socket.close()


# --- A webhook receiver ----------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 in a thread: answers each POST with the next status of `script`
    (the last one repeats) and records what it got; with `answer_when`, answers only once that event is set."""

    script: list[int]
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    answer_when: threading.Event | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ideas"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                n = len(receiver.requests) - 1
                status = receiver.script[min(n, len(receiver.script) - 1)]
                answer = b"ok" if status < 300 else b"receiver says no"
                if receiver.answer_when is not None:
                    receiver.answer_when.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    def make(*script: int) -> Receiver:
        r = Receiver(list(script) or [200])
        r.start()
        made.append(r)
        return r

    made: list[Receiver] = []
    yield make
    for r in made:
        r.stop()


@dataclass
class Embedded:
    """One real `ideaengine serve` on SQLite (the embedded default) with two workspaces, shared by a module."""

    server: Server
    acme: WorkspaceKeys
    globex: WorkspaceKeys


@contextlib.contextmanager
def embedded_server(templates: Any, tmp: Path, **extra: str) -> Iterator[Embedded]:
    """`ideaengine serve` on a fresh SQLite file with the workspaces acme and globex, `extra` settings on top
    (sync: the database template is built on a loop of its own)."""
    url, drop = new_database(templates, "sqlite", tmp)
    env = server_env(url, **extra)
    acme, globex = create_workspace(env, "acme"), create_workspace(env, "globex")
    server = Server(env, tmp, "server")
    try:
        asyncio.run(server.ready())
        yield Embedded(server, acme, globex)
    finally:
        server.stop()
        drop()


@pytest.fixture(scope="module")
def embedded(templates: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    with embedded_server(templates, tmp_path_factory.mktemp("embedded")) as serving:
        yield serving
