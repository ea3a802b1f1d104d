"""The embeddable board in headless Chromium, framed by a brand's page on another origin that hands it an SSO
token by postMessage: a visitor's whole journey, live updates, and what the page does when things go wrong."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.browser.conftest import COMPARED, Site, fresh_scores
from tests.browser.test_graphiql import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import eventually, unavailable
from tests.realtime.conftest import http_api

AXE = Path(__file__).parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
WIDE: Any = {"width": 1400, "height": 900}
NARROW: Any = {"width": 360, "height": 740}
GRAPHQL = re.compile(r".*/graphql$")
IDEA_QUERY = "query($id: ID!) { idea(id: $id) { viewerVote viewerFollows votes { up down } status } }"


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        unavailable("Playwright", exc)
    if shutil.which(CHROMIUM) is None:
        unavailable("Chromium", f"{CHROMIUM} is missing (make test installs Debian's chromium)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=WIDE)
            context.set_default_timeout(15_000)
            yield context
        finally:
            await browser.close()


def board_frame(page: Any) -> Any:
    return next(frame for frame in page.frames if "/embed/" in frame.url)


async def axe_violations(frame: Any) -> list[str]:
    """Serious and critical axe-core findings in the board (axe injected by the test, not shipped)."""
    if not AXE.exists():
        unavailable("axe-core", f"{AXE} is missing (make test runs npm ci in tests/js)")
    await frame.evaluate(AXE.read_text())
    found = await frame.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`)"
    )
    return list(found)


async def test_a_visitor_browses_submits_votes_compares_follows_comments_and_sees_a_status_change_live(
    site: Site, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    host = site.host()
    requested: list[str] = []
    try:
        async with chromium() as context, http_api(site.server) as api:
            context.on("request", lambda request: requested.append(request.url))
            page = await context.new_page()
            await page.goto(host.url)
            board = page.frame_locator("#ideas")
            # The token came by postMessage: the page says who is signed in.
            await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
            frame = board_frame(page)
            await frame.evaluate("window.__sameDocument = true")
            await expect(board.locator(".ie-idea")).to_have_count(20)
            timings = await frame.evaluate(
                "({paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,"
                " ideas: performance.getEntriesByName('ideaengine:ideas-shown')[0]?.startTime})"
            )
            print(f"embed: first paint {timings['paint']:.0f} ms, 20 ideas shown {timings['ideas']:.0f} ms")

            # Every idea of a page, with the board's own status labels and tallies; "more" pages by cursor.
            ideas = board.locator(".ie-idea")
            await expect(ideas).to_have_count(20)
            await expect(board.locator(".ie-count")).to_have_text("24 ideas")
            mobile = ideas.filter(has_text="Mobile ordering in the app")
            await expect(mobile.locator(".ie-badge")).to_have_text("On the roadmap")
            await expect(mobile.locator("[data-action=vote-UP] .ie-n")).to_have_text("4")
            await board.get_by_role("button", name="More ideas").click()
            await expect(ideas).to_have_count(24)
            await expect(board.get_by_role("button", name="More ideas")).to_be_hidden()

            # PAIRWISE: the compared ideas in the members' order, each with its 95% interval as a bar (the two
            # that lost every comparison rank below the ideas not compared yet, at strength 0).
            await board.get_by_label("Sort by").select_option("PAIRWISE")
            await expect(board.locator(".ie-interval-none")).to_have_count(18)
            await page.evaluate("scrollTo(0, 0)")
            await page.screenshot(path=tmp_path / "embed-1400.png")
            await board.get_by_role("button", name="More ideas").click()
            intervals = board.locator(".ie-interval[role=img]")
            await expect(intervals).to_have_count(len(COMPARED))
            titles = await board.locator(".ie-title").all_text_contents()
            assert titles[:2] + titles[-2:] == COMPARED, titles
            label = await intervals.first.get_attribute("aria-label")
            assert re.fullmatch(
                r"Strength -?\d+\.\d\d, 95% interval -?\d+\.\d\d to -?\d+\.\d\d, from 12 comparisons", label or ""
            ), label

            # Filters: a status in the board's words, a tag, a search typed at the keyboard.
            await board.get_by_label("Status").select_option(label="Being considered")
            await expect(ideas).to_have_count(1)
            await expect(ideas.first).to_contain_text("Loyalty points that never expire")
            await board.get_by_label("Status").select_option("")
            await board.get_by_label("Tag").select_option("app")
            await expect(board.locator(".ie-count")).to_have_text("2 ideas")
            await board.get_by_label("Tag").select_option("")
            await board.get_by_label("Search").focus()
            await page.keyboard.type("oat milk")
            await expect(board.locator(".ie-count")).to_have_text("1 idea")
            await page.keyboard.press("Tab")  # to the idea's first control: its vote
            await page.keyboard.press("Tab")
            await page.keyboard.press("Tab")
            await expect(board.locator(".ie-title")).to_be_focused()
            await board.get_by_label("Search").fill("")
            await expect(board.locator(".ie-count")).to_have_text("24 ideas")

            # Narrow: nothing wider than 360 px, and the host is told the new height.
            await page.set_viewport_size(NARROW)
            assert await frame.evaluate("document.documentElement.scrollWidth <= innerWidth")
            await page.evaluate("scrollTo(0, 0)")
            await page.screenshot(path=tmp_path / "embed-360.png")
            await page.set_viewport_size(WIDE)
            assert not await axe_violations(frame), "list view"

            # Submit: a too short title is refused beside the field; typing shows "did you mean"; a suggestion
            # opens the existing idea instead.
            await board.get_by_role("button", name="Suggest an idea").click()
            await board.get_by_label("Your idea").fill("ab")
            await board.get_by_role("button", name="Submit idea").click()
            await expect(board.locator("#ie-field-title-error")).to_have_text("A title must be at least 3 characters.")
            await expect(board.get_by_label("Your idea")).to_have_attribute("aria-invalid", "true")
            await expect(board.get_by_label("Your idea")).to_be_focused()
            await page.keyboard.type("Oat milk at every shop")
            suggestion = board.locator(".ie-suggestions").get_by_role("button", name="Oat milk in every store")
            await expect(suggestion).to_be_visible()
            await expect(board.locator("#ie-live")).to_have_text(re.compile(r"similar idea"))
            await suggestion.press("Enter")
            await expect(board.locator("#ie-idea-title")).to_have_text("Oat milk in every store")
            await expect(board.locator("#ie-idea-title")).to_be_focused()
            oat = site.ideas["Oat milk in every store"]
            vera = host.issued[-1]

            # Vote, by keyboard, then change the vote.
            up = board.locator(".ie-detail [data-action=vote-UP]")
            down = board.locator(".ie-detail [data-action=vote-DOWN]")
            await up.focus()
            await page.keyboard.press("Space")
            await expect(up).to_have_attribute("aria-pressed", "true")
            await expect(up.locator(".ie-n")).to_have_text("4")
            await expect(up).to_be_focused()
            await down.click()
            await expect(down).to_have_attribute("aria-pressed", "true")
            await expect(up.locator(".ie-n")).to_have_text("3")
            await expect(down.locator(".ie-n")).to_have_text("1")
            seen = (await api(IDEA_QUERY, {"id": oat}, auth=vera))["data"]["idea"]
            assert (seen["viewerVote"], seen["votes"]) == ("DOWN", {"up": 3, "down": 1})

            # Follow: the up vote followed the idea already; unfollow, and follow again.
            following = board.get_by_role("button", name="Following", exact=True)
            await expect(following).to_have_attribute("aria-pressed", "true")
            await following.click()
            follow = board.get_by_role("button", name="Follow", exact=True)
            await expect(follow).to_have_attribute("aria-pressed", "false")
            assert (await api(IDEA_QUERY, {"id": oat}, auth=vera))["data"]["idea"]["viewerFollows"] is False
            await follow.click()
            await expect(following).to_have_attribute("aria-pressed", "true")
            assert (await api(IDEA_QUERY, {"id": oat}, auth=vera))["data"]["idea"]["viewerFollows"] is True

            # Comment (an empty one is refused beside the field), reply, react.
            await board.get_by_role("button", name="Post comment").click()
            await expect(board.get_by_label("Add a comment")).to_have_attribute("aria-invalid", "true")
            await board.get_by_label("Add a comment").fill("Yes please, with oat foam too.")
            await board.get_by_role("button", name="Post comment").click()
            comment = board.locator(".ie-comments > ol > li").first
            await expect(comment).to_contain_text("Vera Visitor")
            await expect(comment).to_contain_text("Yes please, with oat foam too.")
            await comment.get_by_role("button", name="Reply").click()
            await board.get_by_label("Your reply").fill("And a barista edition.")
            await board.get_by_role("button", name="Post reply").click()
            await expect(board.locator(".ie-replies")).to_contain_text("And a barista edition.")
            thumbs = board.locator(".ie-comments > ol > li").first.locator(".ie-comment-body").first
            await thumbs.get_by_role("button", name="thumbs up 0").click()
            await expect(thumbs.get_by_role("button", name="thumbs up 1")).to_have_attribute("aria-pressed", "true")
            assert not await axe_violations(frame), "idea view"

            # A moderator changes the status elsewhere: it arrives live, in the timeline and the live region.
            await page.screenshot(path=tmp_path / "embed-idea-1400.png", full_page=True)
            changed = await api(
                "mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) { userErrors { message } } }",
                {"i": {"ideaId": oat, "status": "UNDER_REVIEW", "note": "We are talking to our suppliers."}},
                auth=site.keys.api_key,
            )
            assert changed["data"]["changeIdeaStatus"]["userErrors"] == []
            timeline = board.locator(".ie-timeline li")
            await expect(timeline.last).to_contain_text("Being considered")
            await expect(timeline.last).to_contain_text("We are talking to our suppliers.")
            await expect(board.locator(".ie-detail .ie-badge").first).to_have_text("Being considered")
            await expect(board.locator("#ie-live")).to_have_text("“Oat milk in every store” is now Being considered.")
            assert await frame.evaluate("window.__sameDocument") is True  # no reload
            await page.set_viewport_size(NARROW)
            await page.screenshot(path=tmp_path / "embed-idea-360.png", full_page=True)
            await page.set_viewport_size(WIDE)

            # Which is better? Two open ideas; a choice is a comparison the ranking counts.
            before = sum(i["score"]["comparisons"] for i in await fresh_scores(api, site.board_id))
            await board.get_by_role("button", name="Which is better?").click()
            choices = board.locator(".ie-choice")
            await expect(choices).to_have_count(2)
            await choices.first.click()
            await expect(board.locator(".ie-progress")).to_have_text("1 of 10 comparisons")
            await expect(choices).to_have_count(2)

            async def counted() -> bool:
                now: int = sum(i["score"]["comparisons"] for i in await fresh_scores(api, site.board_id))
                return bool(now == before + 2)

            await eventually(counted, 30, "the comparison in the scores", site.server.output)

            # Submit a new idea: it opens, and the board has it.
            await board.get_by_role("button", name="Suggest an idea").click()
            await board.get_by_label("Your idea").fill("Free refills on filter coffee")
            await board.get_by_label("Tags (optional)").fill("menu, drinks")
            await board.get_by_role("button", name="Submit idea").click()
            await expect(board.locator("#ie-idea-title")).to_have_text("Free refills on filter coffee")
            await expect(board.locator(".ie-detail .ie-meta")).to_contain_text("#drinks")
            await page.set_viewport_size(NARROW)
            await page.screenshot(path=tmp_path / "embed-new-idea-360.png", full_page=True)

            received = await page.evaluate("window.received")
            heights = [m["height"] for m in received if m["type"] == "ideaengine:resize"]
            assert {"type": "ideaengine:ready"} in received and max(heights) > 1000, received
    finally:
        host.stop()
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, requested
    assert not [url for url in requested if any(token in url for token in host.issued)]
    print(f"screenshots in {tmp_path}")


async def test_an_expired_token_a_failed_call_and_a_dropped_socket_each_recover(site: Site) -> None:
    from playwright.async_api import expect

    host = site.host(ttls=[-30, 3600])  # the host's first token has expired already
    try:
        async with chromium() as context, http_api(site.server) as api:
            sockets: list[Any] = []

            def through(ws: Any) -> None:
                ws.connect_to_server()
                sockets.append(ws)

            await context.route_web_socket(GRAPHQL, through)
            # The board's first call goes out as a guest's, before the host's token comes; its answer reaches the
            # board only after the signed-in answer has, as a slow network may order them.
            signed_in = asyncio.Event()
            guest_calls: list[str] = []

            async def guest_answer_last(route: Any) -> None:
                if route.request.method != "POST":
                    await route.continue_()
                    return
                response = await route.fetch()
                if "authorization" not in route.request.headers and not guest_calls:
                    guest_calls.append(route.request.url)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(signed_in.wait(), 15)
                elif ((await response.json()).get("data") or {}).get("viewer", {}).get("user"):
                    signed_in.set()
                await route.fulfill(response=response)

            await context.route(GRAPHQL, guest_answer_last)
            page = await context.new_page()
            await page.goto(host.url)
            board = page.frame_locator("#ideas")
            # The expired token is refused; the board asks the host for another and signs in with it, and the
            # guest's late answer does not undo that.
            await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
            assert guest_calls and signed_in.is_set()
            await context.unroute(GRAPHQL, guest_answer_last)
            received = await page.evaluate("window.received")
            asked = [m for m in received if m["type"] == "ideaengine:token-needed"]
            assert asked and "expired" in asked[0]["reason"], received
            assert len(host.issued) >= 2

            # The host themes the board with its custom properties; anything else it sends is ignored.
            await page.evaluate(
                """frame => frame.contentWindow.postMessage({type: "ideaengine:theme", theme:
                    {"--ie-accent": "rgb(123, 45, 142)", "--ie-radius": "0px", "color": "red"}},
                    new URL(frame.src).origin)""",
                await page.query_selector("#ideas"),
            )
            ideas_tab = board.get_by_role("button", name="Ideas", exact=True)
            await expect(ideas_tab).to_have_css("background-color", "rgb(123, 45, 142)")
            await expect(ideas_tab).to_have_css("border-radius", "0px")
            assert await board_frame(page).evaluate("document.documentElement.style.color") == ""

            # A call that fails shows a retry, and the list stays; the retry loads.
            await expect(board.locator(".ie-idea")).to_have_count(20)
            await context.route(GRAPHQL, lambda route: route.abort())
            await board.get_by_label("Sort by").select_option("NEWEST")
            problem = board.locator("#ie-problem")
            await expect(problem).to_contain_text("Loading ideas failed: We could not reach the server.")
            await expect(board.locator(".ie-idea")).to_have_count(20)
            await context.unroute(GRAPHQL)
            await problem.get_by_role("button", name="Retry").click()
            await expect(problem).to_be_hidden()
            await expect(board.locator(".ie-title").first).to_have_text(re.compile("Free refills|Seasonal idea"))

            # The socket drops: the board says so, reconnects, and live updates flow again.
            async def opened() -> bool:
                return bool(sockets)

            await eventually(opened, 10, "the board's socket")
            await sockets[-1].close(code=1012, reason="restart")
            connection = board.locator("#ie-connection")
            await expect(connection).to_have_text("Live updates paused: reconnecting…")
            await expect(connection).to_be_hidden(timeout=20_000)
            await board.get_by_label("Search").fill("dark mode")
            await expect(board.locator(".ie-count")).to_have_text("1 idea")
            dark = site.ideas["Dark mode for the app"]
            await api(
                "mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) { userErrors { message } } }",
                {"i": {"ideaId": dark, "status": "UNDER_REVIEW"}},
                auth=site.keys.api_key,
            )
            row = board.locator(".ie-idea").filter(has_text="Dark mode for the app")
            await expect(row.locator(".ie-badge")).to_have_text("Being considered")
            await expect(board.locator("#ie-live")).to_have_text("“Dark mode for the app” is now Being considered.")
    finally:
        host.stop()
