"""GraphiQL in headless Chromium, driven by Playwright: it works with no request leaving this machine."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

from tests.conftest import unavailable
from tests.realtime.conftest import Embedded

CHROMIUM = "/usr/bin/chromium"
"Debian's chromium (make test installs it); Playwright's own browser downloads cannot be fetched here."
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


async def test_graphiql_in_chromium_lists_query_in_the_docs_and_calls_nothing_but_this_server(
    embedded: Embedded,
) -> None:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        unavailable("Playwright", exc)
    if shutil.which(CHROMIUM) is None:
        unavailable("Chromium", f"{CHROMIUM} is missing (make test installs Debian's chromium)")
    requested: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(embedded.server.url + "/graphql", wait_until="networkidle")
            await page.get_by_role("button", name="Show Documentation Explorer").click()
            docs = page.locator(".graphiql-doc-explorer")
            await docs.get_by_text("Query", exact=True).first.wait_for(timeout=15_000)
            assert await docs.get_by_text("Mutation", exact=True).count() >= 1
        finally:
            await browser.close()
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, requested
    assert any(url.endswith("/graphiql/graphiql.min.js") for url in requested)
