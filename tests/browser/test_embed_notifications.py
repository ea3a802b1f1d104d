"""The embedded board's notifications badge and view, the "n new ideas" button and quiet score refreshes of the
list, and the README's <script> snippet, in headless Chromium from a host page on another origin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import HOST_SCRIPT_PAGE, Site
from tests.browser.test_embed import NARROW, WIDE, axe_violations, board_frame, chromium
from tests.conftest import eventually
from tests.realtime.conftest import http_api

UNREAD = "{ viewer { unreadNotificationCount } }"
NEW_IDEA = "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { idea { id } userErrors { message } } }"


def watch_board_activity(page: Any) -> Any:
    """An awaitable that returns once the board has subscribed to boardActivity on a socket opened with a token:
    events made through the API before that would not reach it (the board re-subscribes when the token comes)."""
    subscribed: list[bool] = []

    def opened(socket: Any) -> None:
        signed_in: list[bool] = []

        def sent(payload: str | bytes) -> None:
            text = payload if isinstance(payload, str) else payload.decode()
            if '"connection_init"' in text and "authorization" in text:
                signed_in.append(True)
            if signed_in and '"subscribe"' in text and "EmbedBoardActivity" in text:
                subscribed.append(True)

        socket.on("framesent", sent)

    page.on("websocket", opened)

    async def done() -> bool:
        return bool(subscribed)

    return eventually(done, 15, "the board's signed-in boardActivity subscription")


async def test_a_visitor_sees_the_unread_count_of_their_followed_idea_opens_it_and_marks_all_read(
    site: Site, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    host = site.host()
    vera = site.keys.token(host.sub, name=host.name)
    mona = site.keys.token("mona", role="moderator", name="Mona Moderator")
    quiet = site.ideas["Quiet hours for studying"]
    try:
        async with chromium() as context, http_api(site.server) as api:
            followed = await api(
                "mutation($i: FollowIdeaInput!) { followIdea(input: $i) { userErrors { message } } }",
                {"i": {"ideaId": quiet, "follow": True}},
                auth=vera,
            )
            assert followed["data"]["followIdea"]["userErrors"] == []
            page = await context.new_page()
            live = watch_board_activity(page)
            await page.goto(host.url)
            board = page.frame_locator("#ideas")
            await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
            await live
            tab = board.locator("[data-view=notifications]")
            badge = board.locator("#ie-unread")
            await expect(tab).to_be_visible()
            await expect(badge).to_be_hidden()

            # A moderator answers officially: no event carries it, so the count shows when the board is read again.
            answered = await api(
                "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { message } } }",
                {"i": {"ideaId": quiet, "body": "We are trying quiet hours in two stores.", "official": True}},
                auth=mona,
            )
            assert answered["data"]["addComment"]["userErrors"] == []
            await board.get_by_role("button", name="Ideas", exact=True).click()
            await expect(badge).to_have_text("1 unread")
            # A status change arrives live (boardActivity), and with it the new count, without a click.
            changed = await api(
                "mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) { userErrors { message } } }",
                {"i": {"ideaId": quiet, "status": "UNDER_REVIEW", "note": "Checking with the store managers."}},
                auth=mona,
            )
            assert changed["data"]["changeIdeaStatus"]["userErrors"] == []
            await expect(badge).to_have_text("2 unread")
            await expect(board.get_by_role("button", name="Notifications 2 unread")).to_be_visible()

            # The view lists them, newest first; opening one opens its idea and marks it read.
            await tab.click()
            items = board.locator(".ie-notification")
            await expect(items).to_have_count(2)
            await expect(items.nth(0)).to_contain_text("Checking with the store managers.")
            await expect(items.nth(1)).to_contain_text("We are trying quiet hours in two stores.")
            await expect(board.locator(".ie-unread-item")).to_have_count(2)
            await expect(board.locator("#ie-notifications-heading")).to_be_focused()
            assert not await axe_violations(board_frame(page)), "notifications view"
            await page.set_viewport_size(NARROW)
            assert await board_frame(page).evaluate("document.documentElement.scrollWidth <= innerWidth")
            await page.screenshot(path=tmp_path / "embed-notifications-360.png", full_page=True)
            await page.set_viewport_size(WIDE)
            await items.nth(0).get_by_role("button", name="Quiet hours for studying").click()
            await expect(board.locator("#ie-idea-title")).to_have_text("Quiet hours for studying")
            await expect(badge).to_have_text("1 unread")
            assert (await api(UNREAD, auth=vera))["data"]["viewer"]["unreadNotificationCount"] == 1

            # Mark all as read: the badge goes, and the API agrees.
            await tab.click()
            await expect(board.locator(".ie-unread-item")).to_have_count(1)
            await board.get_by_role("button", name="Mark all as read").click()
            await expect(board.locator(".ie-unread-item")).to_have_count(0)
            await expect(badge).to_be_hidden()
            await expect(board.locator("#ie-live")).to_have_text("All notifications are marked as read.")
            assert (await api(UNREAD, auth=vera))["data"]["viewer"]["unreadNotificationCount"] == 0
            assert not await axe_violations(board_frame(page)), "notifications read"
    finally:
        host.stop()
    print(f"screenshots in {tmp_path}")


async def test_new_ideas_wait_behind_a_button_and_score_refreshes_update_tallies_in_place(
    site: Site, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    host = site.host()
    vera = site.keys.token(host.sub, name=host.name)
    nina, otto = site.keys.token("nina"), site.keys.token("otto")
    try:
        async with chromium() as context, http_api(site.server) as api:
            page = await context.new_page()
            live = watch_board_activity(page)
            await page.goto(host.url)
            board = page.frame_locator("#ideas")
            await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
            await live
            await board.get_by_label("Sort by").select_option("NEWEST")
            titles = board.locator(".ie-title")
            await expect(board.locator(".ie-idea")).to_have_count(20)
            await expect(titles.first).to_have_text(re.compile("Seasonal idea number 19"))
            before = await titles.all_text_contents()

            # The visitor's own idea (from another tab, say) is not "new" to them; another member's is.
            for title, auth in (("Vera's own idea from elsewhere", vera), ("Board games on Friday nights", nina)):
                done = await api(NEW_IDEA, {"i": {"boardId": site.board_id, "title": title}}, auth=auth)
                assert done["data"]["submitIdea"]["userErrors"] == [], done
            await expect(board.locator("#ie-live")).to_have_text("New idea: “Board games on Friday nights”.")
            arrivals = board.get_by_role("button", name="1 new idea")
            await expect(arrivals).to_be_visible()
            assert await titles.all_text_contents() == before  # nothing moved under the reader
            assert not await axe_violations(board_frame(page)), "list with new ideas"
            await page.screenshot(path=tmp_path / "embed-new-ideas-1400.png")
            await arrivals.click()
            await expect(titles.first).to_have_text("Board games on Friday nights")
            await expect(titles.first).to_be_focused()
            await expect(board.locator(".ie-fresh")).to_have_count(1)
            await expect(board.locator(".ie-fresh .ie-new")).to_have_text("New")
            await expect(arrivals).to_be_hidden()

            # Under a sort that scores decide, a refresh of the scores redraws the tallies where they are: the
            # order stays until the reader reloads, and the keyboard and the host's scroll stay put.
            await board.get_by_label("Sort by").select_option("TOP")
            await expect(board.locator(".ie-title").first).to_have_text("Mobile ordering in the app")
            loyalty = board.locator(".ie-idea").filter(has_text="Loyalty points that never expire")
            await expect(loyalty.locator("[data-action=vote-UP] .ie-n")).to_have_text("2")
            order = await titles.all_text_contents()
            loyal = "Loyalty points that never expire"
            await loyalty.locator(".ie-title").focus()
            await page.evaluate("scrollTo(0, 300)")
            for member in (otto, nina):
                voted = await api(
                    "mutation($i: VoteInput!) { vote(input: $i) { userErrors { message } } }",
                    {"i": {"ideaId": site.ideas["Loyalty points that never expire"], "value": "UP"}},
                    auth=member,
                )
                assert voted["data"]["vote"]["userErrors"] == []
            await expect(loyalty.locator("[data-action=vote-UP] .ie-n")).to_have_text("4", timeout=20_000)
            await expect(loyalty.locator(".ie-title")).to_be_focused()
            assert await titles.all_text_contents() == order
            assert await page.evaluate("scrollY") == 300
            # Reloading the list shows the new order.
            await board.get_by_role("button", name="Ideas", exact=True).click()

            async def moved_up() -> bool:
                now = await titles.all_text_contents()
                return loyal in now and now.index(loyal) < order.index(loyal)

            await eventually(moved_up, 10, "the new order after a reload")
    finally:
        host.stop()
    print(f"screenshots in {tmp_path}")


async def test_the_script_snippet_mounts_a_signed_in_themed_board_that_fits_its_content(site: Site) -> None:
    from playwright.async_api import expect

    host = site.host(page=HOST_SCRIPT_PAGE)
    try:
        async with chromium() as context:
            page = await context.new_page()
            await page.goto(host.url)
            board = page.frame_locator("iframe")
            await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
            assert host.issued, "the host's backend was asked for a token"
            await expect(board.get_by_role("button", name="Ideas", exact=True)).to_have_css(
                "background-color", "rgb(123, 45, 142)"
            )
            await expect(board.locator(".ie-idea")).to_have_count(20)
            frame = board_frame(page)
            assert await page.locator("iframe").get_attribute("title") == "Ideas"

            async def fitted() -> Any:
                content = await frame.evaluate("document.getElementById('ie-app').offsetHeight")
                shown = await page.evaluate("document.querySelector('iframe').getBoundingClientRect().height")
                return content > 1000 and abs(shown - content) <= 1

            await eventually(fitted, 10, "the frame sized to the board")
            assert not await axe_violations(frame), "board mounted by the script snippet"
    finally:
        host.stop()
