"""A starting server loads the sentence-embedding model beside its requests, so the first visitor's "did you
mean" does not wait for it; its health check says where that stands."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from tests.realtime.conftest import Server, server_env


@pytest.mark.usefixtures("semantic")
async def test_serve_loads_the_model_before_any_draft(tmp_path: Path) -> None:
    server = Server(server_env(f"sqlite+aiosqlite:///{tmp_path}/ie.db"), tmp_path, "warm")
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:

            async def loaded() -> bool:
                health = (await http.get("/healthz")).json()
                assert health["embeddings"] in ("cold", "ready"), health
                return bool(health["embeddings"] == "ready")

            await eventually(loaded, 60, "the model loaded without a draft", server.output)
    finally:
        server.stop()


async def test_health_says_whether_drafts_are_embedded(client: httpx.AsyncClient) -> None:
    """In-process: "ready" or "cold" with the extra, "absent" without; never missing."""
    from ideaengine.platform import embeddings

    health = (await client.get("/healthz")).json()
    expected = {"ready", "cold"} if embeddings.available() else {"absent"}
    assert health["embeddings"] in expected, health
