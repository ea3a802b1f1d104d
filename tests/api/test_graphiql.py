"""GraphiQL works offline: its files ship with the package, unaltered, and the page loads them from this server."""

from __future__ import annotations

import hashlib

import httpx

from ideaengine.app import GRAPHIQL


def test_every_shipped_file_matches_its_pinned_hash() -> None:
    sums = {}
    for line in (GRAPHIQL / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    shipped = {p.name for p in GRAPHIQL.iterdir()} - {"SHA256SUMS", "LICENSES.md"}
    assert set(sums) == shipped
    for name, digest in sums.items():
        assert hashlib.sha256((GRAPHIQL / name).read_bytes()).hexdigest() == digest, name


async def test_the_page_loads_its_scripts_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg.com" not in page.text and "cdn" not in page.text.lower()
    script = await client.get("/graphiql/graphiql.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.content == (GRAPHIQL / "graphiql.min.js").read_bytes()
