"""The board's try page (`/embed/{workspace}/{board}/try`) in headless Chromium: the host page this server serves
itself, where a newcomer of `make run` pastes a token (a member's, a moderator's, an API key) to sign the board in,
and signs out. The board takes a token from that page on its own origin, and still from no origin not allowed."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import HostSite, Site
from tests.browser.test_embed import GRAPHQL, IDEA_QUERY, axe_violations, chromium
from tests.realtime.conftest import http_api
from tests.workers.test_rq import free_port

DARK = "Dark mode for the app"


def framed_board(page: Any) -> Any:
    """The board's frame in the page (the try page's own path starts with /embed/ too)."""
    return next(frame for frame in page.frames if frame.parent_frame is not None and "/embed/" in frame.url)


async def test_a_pasted_token_signs_the_board_in_as_a_member_or_a_moderator_and_sign_out_makes_a_guest(
    site: Site,
) -> None:
    from playwright.async_api import expect

    tina = site.keys.token("tina", name="Tina Trier")
    mona = site.keys.token("mona", role="moderator", name="Mona Moderator")
    requested: list[str] = []
    async with chromium() as context, http_api(site.server) as api:
        context.on("request", lambda request: requested.append(request.url))
        page = await context.new_page()
        await page.goto(f"{site.server.url}/embed/acme/ideas/try")
        board = page.frame_locator("#try-board")
        who = board.locator("#ie-who")
        await expect(who).to_have_text("Reading as a guest")
        await expect(board.locator(".ie-idea")).to_have_count(20)
        # The page sizes the frame to the board (a board of 20 ideas is taller than the frame's first 600 px).
        frame_height = "() => document.getElementById('try-board').getBoundingClientRect().height"
        assert await page.evaluate(frame_height) > 1000
        assert not await axe_violations(framed_board(page)), "the board in the try page"
        assert not await axe_violations(page.main_frame), "the try page"

        # An empty paste is explained; a member's token signs in, and the field is cleared.
        sign_in = page.get_by_role("button", name="Sign in")
        await sign_in.click()
        await expect(page.locator("#try-status")).to_contain_text("Paste a token first")
        await expect(page.get_by_label("Token")).to_be_focused()
        await page.get_by_label("Token").fill(tina)
        await sign_in.click()
        await expect(who).to_have_text("Signed in as Tina Trier")
        await expect(page.get_by_label("Token")).to_have_value("")
        await expect(board.get_by_role("button", name="Moderate")).to_be_hidden()

        # A vote counts, as Tina.
        dark = board.locator(".ie-idea").filter(has_text=DARK)
        up = dark.locator("[data-action=vote-UP]")
        await up.click()
        await expect(up).to_have_attribute("aria-pressed", "true")
        seen = (await api(IDEA_QUERY, {"id": site.ideas[DARK]}, auth=tina))["data"]["idea"]
        assert seen["viewerVote"] == "UP"

        # The board reloads: it says `ready`, and the page hands it the token again.
        await framed_board(page).evaluate("location.reload()")
        await expect(who).to_have_text("Signed in as Tina Trier")

        # Sign out: a guest again.
        await page.get_by_role("button", name="Sign out").click()
        await expect(who).to_have_text("Reading as a guest")
        await expect(page.locator("#try-status")).to_have_text("Signed out: the board reads as a guest.")

        # A moderator's token, and the workspace's API key, each show the Moderate tab.
        for token, name in ((mona, "Signed in as Mona Moderator"), (site.keys.api_key, None)):
            await page.get_by_label("Token").fill(token)
            await sign_in.click()
            await expect(board.get_by_role("button", name="Moderate")).to_be_visible()
            if name:
                await expect(who).to_have_text(name)
            await page.get_by_role("button", name="Sign out").click()
            await expect(board.get_by_role("button", name="Moderate")).to_be_hidden()
            await expect(who).to_have_text("Reading as a guest")

        # A token the server refuses: the board asks again, once is answered, then the page asks for a fresh one.
        expired = site.keys.token("tina", name="Tina Trier", ttl=-60)
        await page.get_by_label("Token").fill(expired)
        await sign_in.click()
        await expect(page.locator("#try-status")).to_have_text(
            re.compile(r"^The board needs a new token \(.*expired.*\)\. Paste a fresh one to sign in again\.$")
        )
        await expect(who).to_have_text("Reading as a guest")

        # The tokens went by postMessage only: never in a URL, never in storage.
        for frame in page.frames:
            assert await frame.evaluate("localStorage.length + sessionStorage.length") == 0, frame.url
    assert not [url for url in requested if any(t in url for t in (tina, mona, site.keys.api_key, expired))]


async def test_a_page_on_an_origin_not_allowed_cannot_frame_the_board_nor_hand_it_a_token(site: Site) -> None:
    """The server's origin is allowed besides IDEAENGINE_CORS_ORIGINS, and no other: the browser refuses to frame
    the board in a page elsewhere (frame-ancestors), and a browser that framed it anyway (here: the policy taken
    off the response) would find the board deaf to that page's token."""
    from playwright.async_api import expect

    stranger = HostSite(f"{site.server.url}/embed/acme/ideas", site.keys, port=free_port())
    stranger.start()
    try:
        async with chromium() as context:
            page = await context.new_page()
            refused: list[str] = []
            page.on("console", lambda message: refused.append(message.text))
            await page.goto(stranger.url)
            await expect(page.frame_locator("#ideas").locator("#ie-app")).to_have_count(0)
            assert any("frame-ancestors" in text for text in refused), refused

            async def without_policy(route: Any) -> None:
                response = await route.fetch()
                headers = {k: v for k, v in response.headers.items() if k != "content-security-policy"}
                await route.fulfill(response=response, headers=headers)

            await context.route("**/embed/acme/ideas", without_policy)
            signed: list[str] = []
            context.on(
                "request",
                lambda request: (
                    signed.append(request.url)
                    if GRAPHQL.match(request.url) and "authorization" in request.headers
                    else None
                ),
            )
            await page.reload()
            board = page.frame_locator("#ideas")
            await expect(board.locator("#ie-who")).to_have_text("Reading as a guest")
            await page.evaluate(
                """([frame, token]) => {
                    frame.contentWindow.postMessage({type: "ideaengine:token", token}, new URL(frame.src).origin);
                    frame.contentWindow.postMessage({type: "ideaengine:theme", theme: {"--ie-radius": "0px"}},
                        new URL(frame.src).origin);
                }""",
                [await page.query_selector("#ideas"), stranger.sign()],
            )
            # Had the board taken the token it would have asked the API with it at once; wait well past that.
            await page.wait_for_timeout(1500)
            await expect(board.locator("#ie-who")).to_have_text("Reading as a guest")
            assert signed == []
            await expect(board.get_by_role("button", name="Ideas", exact=True)).not_to_have_css("border-radius", "0px")
            assert [m for m in await page.evaluate("window.received") if m["type"] == "ideaengine:ready"] == []
    finally:
        stranger.stop()
