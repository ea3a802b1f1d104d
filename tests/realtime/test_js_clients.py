"""The npm `graphql-ws` client, under Node, against a live server: what front-end developers actually run."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.api.ops import change_status, create_board, idea_id
from tests.conftest import unavailable
from tests.realtime.conftest import Embedded, http_api
from tests.realtime.test_subscriptions_embedded import SETTLE, STATUS

pytestmark = [pytest.mark.slow]

JS = Path(__file__).resolve().parents[1] / "js"


def node_and(package: str) -> str:
    """The node binary, once the npm test clients are installed (fails under IDEAENGINE_TEST_REQUIRE_SERVICES)."""
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / package).is_dir():
        unavailable("The npm test clients", "run `npm ci --prefix tests/js` (make test does)")
    assert node is not None
    return node


class NodeSubscriber:
    """`node subscribe.mjs`: one JSON line per connection, event, completion or error."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, url: str, token: str | None, query: str, variables: dict[str, Any]) -> NodeSubscriber:
        proc = await asyncio.create_subprocess_exec(
            node_and("graphql-ws"),
            str(JS / "subscribe.mjs"),
            url,
            token or "",
            query,
            json.dumps(variables),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def line(self, seconds: float = 15) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), seconds)
        if not raw:
            assert self.proc.stderr is not None
            pytest.fail(f"node ended without a line: {(await self.proc.stderr.read()).decode()[-2000:]}")
        line: dict[str, Any] = json.loads(raw)
        return line

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def test_graphql_ws_subscribes_and_hears_a_status_change(embedded: Embedded) -> None:
    acme = embedded.acme
    async with http_api(embedded.server) as api:
        board = await create_board(api, acme.api_key, slug="node-client")
        target = await idea_id(api, acme.token("alice"), board, "Oat milk in every store")
        node = await NodeSubscriber.start(embedded.server.ws_url, acme.token("alice"), STATUS, {"id": target})
        try:
            assert await node.line() == {"connected": True}
            await asyncio.sleep(SETTLE)
            changed = await change_status(api, acme.api_key, target, "UNDER_REVIEW", "Looking into it")
            assert changed["userErrors"] == []
            event = await node.line()
            assert event == {
                "next": {
                    "data": {
                        "ideaStatusChanged": {
                            "from": "SUBMITTED",
                            "to": "UNDER_REVIEW",
                            "note": "Looking into it",
                            "actor": {"name": "workspace admin"},
                            "idea": {"id": target, "status": "UNDER_REVIEW"},
                        }
                    }
                }
            }
        finally:
            await node.close()


async def test_graphql_ws_reports_an_expired_token_through_its_error_callback(embedded: Embedded) -> None:
    acme = embedded.acme
    async with http_api(embedded.server) as api:
        board = await create_board(api, acme.api_key, slug="node-expiry")
        target = await idea_id(api, acme.token("alice"), board, "Oat milk in every store")
    node = await NodeSubscriber.start(embedded.server.ws_url, acme.token("erin", ttl=3), STATUS, {"id": target})
    try:
        assert await node.line() == {"connected": True}
        ended = await node.line(seconds=15)
        assert ended == {
            "error": [
                {
                    "message": "The SSO token has expired: subscribe again with a fresh one.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        }
        assert await asyncio.wait_for(node.proc.wait(), 10) == 0
    finally:
        await node.close()


async def test_graphql_http_server_audit_passes_every_must_should_and_may(embedded: Embedded) -> None:
    """graphql-http's audit is the GraphQL-over-HTTP spec's reference suite: 13 MUST, 23 SHOULD, 25 MAY."""
    proc = await asyncio.create_subprocess_exec(
        node_and("graphql-http"),
        str(JS / "audit.mjs"),
        embedded.server.url + "/graphql",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    audits = [json.loads(line) for line in out.decode().splitlines()]
    assert len(audits) == 61
    assert [a for a in audits if a["status"] != "ok"] == []
