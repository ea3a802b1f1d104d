"""The embeddable board's page: who may frame it, that everything it loads comes from this server, and its size."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ideaengine.embed import STATIC, STATIC_PATH

HOSTS = ["https://app.example.com", "http://localhost:3000"]
BUDGET_GZIP_BYTES = 100_000
"Issue 16: the page's own code and CSS under 100 KB compressed."


def policy_of(page: httpx.Response) -> dict[str, str]:
    """The page's Content-Security-Policy, directive by directive."""
    return dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))


@pytest.fixture
async def framed(services: Any) -> AsyncIterator[httpx.AsyncClient]:
    from ideaengine.app import create_app

    app = create_app(services.settings.model_copy(update={"cors_origins": HOSTS}), services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


async def test_the_page_may_be_framed_by_the_allowed_origins_only_and_loads_nothing_from_elsewhere(
    framed: httpx.AsyncClient,
) -> None:
    page = await framed.get("/embed/acme/ideas")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = policy_of(page)
    assert policy["frame-ancestors"] == "'self' https://app.example.com http://localhost:3000"
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self' ws://test wss://test"
    # The page hands the same list to its scripts: the only windows it takes a token from.
    assert '<meta name="ideaengine-origins" content="[&quot;https://app.example.com&quot;, ' in page.text
    assert "token" not in page.headers.get("set-cookie", "")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith((STATIC_PATH + "/", "data:")) for s in sources), sources
    script = await framed.get(f"{STATIC_PATH}/main.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    # No module imports anything but its neighbours.
    for path in STATIC.rglob("*.js"):
        imports = re.findall(r"""^\s*(?:import|export)\b[^;]*?from\s+["']([^"']+)["']""", path.read_text(), re.M)
        assert "import(" not in path.read_text(), path
        assert all(i.startswith("./") for i in imports), (path, imports)


async def test_without_allowed_origins_only_this_server_may_frame_it(client: httpx.AsyncClient) -> None:
    page = await client.get("/embed/acme/ideas")
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'self'")
    assert 'content="[]"' in page.text


def test_the_vendored_client_matches_its_pinned_hashes_and_the_page_fits_its_budget() -> None:
    vendor = STATIC / "vendor"
    sums: dict[str, str] = {}
    for line in (vendor / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    assert set(sums) == {p.name for p in vendor.glob("*.js")}
    for name, digest in sums.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    shipped = [p for p in STATIC.rglob("*") if p.suffix in (".js", ".css", ".html")]
    raw = sum(p.stat().st_size for p in shipped)
    compressed = sum(len(gzip.compress(p.read_bytes(), 9)) for p in shipped)
    print(f"embed page: {len(shipped)} files, {raw:,} bytes, {compressed:,} bytes gzipped")
    assert compressed < BUDGET_GZIP_BYTES


async def test_the_try_page_frames_the_board_from_this_server_under_the_same_policy(
    framed: httpx.AsyncClient,
) -> None:
    page = await framed.get("/embed/acme/ideas/try")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = policy_of(page)
    # It may frame this server's pages only, is framed like the board, and runs only this server's scripts.
    assert policy["frame-src"] == "'self'"
    assert policy["frame-ancestors"] == "'self' https://app.example.com http://localhost:3000"
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert f"{STATIC_PATH}/try.js" in sources
    assert all(s.startswith((STATIC_PATH + "/", "data:")) for s in sources), sources
    assert "set-cookie" not in page.headers
    # The board's own page has no frame-src: it frames nothing.
    board = await framed.get("/embed/acme/ideas")
    assert "frame-src" not in board.headers["content-security-policy"]
    # A board slugged "try" is a board, not the try page: a slug holds no "/".
    assert "try.js" not in (await framed.get("/embed/acme/try")).text
