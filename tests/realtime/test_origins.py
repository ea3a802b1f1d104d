"""One list of allowed origins for HTTP and WebSocket alike: configured as people paste them (a trailing slash,
capitals), compared as browsers send them, against a real `ideaengine serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realtime.conftest import PROTOCOL, Server, embedded_server

ALLOWED = "https://app.example.com"


@pytest.fixture
def server(templates: Any, tmp_path: Path) -> Iterator[Server]:
    with embedded_server(templates, tmp_path, IDEAENGINE_CORS_ORIGINS="https://App.Example.com/") as serving:
        yield serving.server


async def test_the_same_origins_pass_the_cors_preflight_and_open_a_websocket(server: Server) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    async with httpx.AsyncClient() as http:
        for origin, allowed in ((ALLOWED, True), ("https://evil.example.com", False)):
            answer = await http.options(server.url + "/graphql", headers={"origin": origin, **preflight})
            assert (answer.headers.get("access-control-allow-origin") == origin) is allowed, answer.headers

    async with connect(server.ws_url, subprotocols=[PROTOCOL], origin=ALLOWED) as socket:  # type: ignore[list-item,arg-type]
        await socket.send('{"type": "connection_init", "payload": {}}')
        assert '"connection_ack"' in str(await socket.recv())
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, subprotocols=[PROTOCOL], origin="https://evil.example.com"):  # type: ignore[list-item,arg-type]
            pass
    assert refused.value.response.status_code == 403
