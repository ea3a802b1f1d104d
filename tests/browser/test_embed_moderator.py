"""The embedded board's moderator view in headless Chromium, framed by the brand's admin pages on another origin:
a moderator (an SSO token with role `moderator`, or the workspace's API key posted as the token) merges a
duplicate in one click and unmerges it, changes a status with a note, decides on the moderation queue and reads
each idea's interval; a member never sees the view."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import COMPARED, HostSite, Site
from tests.browser.test_embed import GRAPHQL, NARROW, WIDE, axe_violations, board_frame, chromium
from tests.conftest import eventually
from tests.realtime.conftest import http_api

OAT = "Oat milk in every store"
DUPLICATE = "Oat milk in every store please"
"Close enough to OAT (same words, same body) for the duplicate index to cluster them."
PENDING = "Free samples on Fridays"
REPORTED = "Quiet hours for studying"
SPAM = "Buy cheap watches at example.com"
STATE = "query($id: ID!) { idea(id: $id) { status moderationState mergedInto { id } statusHistory { to note } } }"
CLUSTERS = """query($w: String!) { board(workspace: $w, slug: "ideas") {
  duplicateClusters { edges { node { ideas { id } } } } } }"""
QUEUE = """query($w: String!) { board(workspace: $w, slug: "ideas") {
  moderationQueue { totalCount edges { node { subject { ... on Idea { id } ... on Comment { id } } } } } } }"""


@dataclass
class StaffHost(HostSite):
    """The brand's admin pages: they hand the board a moderator's SSO token, or (`api_key`) the workspace's API
    key, which the API takes as `Authorization: Bearer` like a token."""

    name: str = "Mona Moderator"
    api_key: bool = False

    def sign(self) -> str:
        token = self.keys.api_key if self.api_key else self.keys.token(self.sub, role="moderator", name=self.name)
        self.issued.append(token)
        return token


def staff_host(site: Site, **kwargs: Any) -> StaffHost:
    host = StaffHost(f"{site.server.url}/embed/acme/ideas", site.keys, sub="mona", port=site.host_port, **kwargs)
    host.start()
    return host


@dataclass
class Moderation:
    """What the view has to work on, beside the seeded board: ids by title, and the reported comment's id."""

    ideas: dict[str, str]
    comment: str


async def seed_moderation(site: Site) -> Moderation:
    """A duplicate of OAT, an idea waiting for approval, and an idea and a comment reported by members."""
    keys = site.keys
    members = [keys.token(f"member{n}") for n in range(4)]
    ideas = dict(site.ideas)
    async with http_api(site.server) as api:

        async def call(query: str, variables: dict[str, Any], auth: str) -> dict[str, Any]:
            body = await api(query, variables, auth=auth)
            payload: dict[str, Any] = next(iter(body["data"].values()))
            assert payload["userErrors"] == [], body
            return payload

        submit = "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { idea { id } userErrors { message } } }"
        approval = "mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { message } } }"
        report = "mutation($i: ReportContentInput!) { reportContent(input: $i) { userErrors { message } } }"
        done = await call(
            submit,
            {"i": {"boardId": site.board_id, "title": DUPLICATE, "body": f"Details of {OAT.lower()}."}},
            members[1],
        )
        ideas[DUPLICATE] = done["idea"]["id"]
        await call(approval, {"i": {"boardId": site.board_id, "requiresApproval": True}}, keys.api_key)
        done = await call(
            submit, {"i": {"boardId": site.board_id, "title": PENDING, "body": "A taste of the new menu."}}, members[2]
        )
        ideas[PENDING] = done["idea"]["id"]
        await call(approval, {"i": {"boardId": site.board_id, "requiresApproval": False}}, keys.api_key)
        reported = ideas[REPORTED]
        await call(report, {"i": {"subjectId": reported, "reason": "SPAM", "note": "Looks like an ad"}}, members[1])
        await call(report, {"i": {"subjectId": reported, "reason": "OFF_TOPIC"}}, members[2])
        comment = await call(
            "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } userErrors { message } } }",
            {"i": {"ideaId": ideas["Dark mode for the app"], "body": SPAM}},
            members[0],
        )
        await call(report, {"i": {"subjectId": comment["comment"]["id"], "reason": "SPAM"}}, members[3])

        async def clustered() -> bool:
            body = await api(CLUSTERS, {"w": keys.slug}, auth=keys.api_key)
            edges = body["data"]["board"]["duplicateClusters"]["edges"]
            return any({ideas[OAT], ideas[DUPLICATE]} <= {i["id"] for i in e["node"]["ideas"]} for e in edges)

        await eventually(clustered, 60, "the duplicate in a cluster", site.server.output)
    return Moderation(ideas, comment["comment"]["id"])


@pytest.fixture(scope="module")
def moderation(site: Site) -> Moderation:
    return asyncio.run(seed_moderation(site))


async def state(api: Any, site: Site, idea_id: str) -> dict[str, Any]:
    body = await api(STATE, {"id": idea_id}, auth=site.keys.api_key)
    found: dict[str, Any] = body["data"]["idea"]
    return found


async def test_a_moderator_merges_and_unmerges_changes_a_status_decides_the_queue_and_reads_intervals(
    site: Site, moderation: Moderation, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    ideas = moderation.ideas
    host = staff_host(site)
    try:
        async with chromium() as context, http_api(site.server) as api:
            page = await context.new_page()
            await page.goto(host.url)
            board = page.frame_locator("#ideas")
            await expect(board.locator("#ie-who")).to_have_text("Signed in as Mona Moderator")
            tab = board.get_by_role("button", name="Moderate", exact=True)
            await tab.focus()
            await page.keyboard.press("Enter")
            await expect(board.get_by_role("heading", name="Moderation", exact=True)).to_be_focused()
            await expect(tab).to_have_attribute("aria-current", "page")
            frame = board_frame(page)

            # Each idea's 95% interval, best in comparisons first: a bar for each compared idea, in words too.
            rows = board.locator(".ie-mod-idea")
            await expect(rows.first).to_contain_text(COMPARED[0])
            intervals = board.locator(".ie-mod-ideas .ie-interval[role=img]")
            await expect(intervals).to_have_count(len(COMPARED))
            await expect(intervals.first).to_have_attribute(
                "aria-label", re.compile(r"Strength -?\d+\.\d\d, 95% interval .* from 12 comparisons")
            )
            await expect(
                rows.filter(has_text="Seasonal idea number 1").first.locator(".ie-interval-none")
            ).to_have_text("Not compared yet")

            # The moderation queue: the pending idea, the reported idea with its reports and reasons, the comment.
            queue = board.locator(".ie-queue > li")
            await expect(queue).to_have_count(3)
            await expect(board.get_by_role("heading", name="Moderation queue (3)")).to_be_visible()
            reported = queue.filter(has_text=REPORTED)
            await expect(reported.locator(".ie-reports")).to_have_text(
                re.compile(r"2 reports: (Off topic \(1\), Spam \(1\)|Spam \(1\), Off topic \(1\))")
            )
            await expect(reported.locator(".ie-report-notes")).to_have_text("“Looks like an ad”")
            await expect(reported.locator(".ie-badge")).to_have_text("Reported")
            pending = queue.filter(has_text=PENDING)
            await expect(pending.locator(".ie-badge")).to_have_text("Waiting for approval")
            await expect(queue.filter(has_text=SPAM)).to_contain_text("A comment on “Dark mode for the app”")

            assert not await axe_violations(frame), "moderator view"
            await frame.evaluate("document.activeElement.blur()")
            await page.screenshot(path=tmp_path / "embed-moderator-1400.png")  # the README's picture
            await page.set_viewport_size(NARROW)
            assert await frame.evaluate("document.documentElement.scrollWidth <= innerWidth")
            await page.screenshot(path=tmp_path / "embed-moderator-360.png", full_page=True)
            await page.set_viewport_size(WIDE)

            # A status change begun (the decisions below reload the ideas meanwhile; it is finished further on).
            dark = board.locator(f'.ie-mod-idea[data-id="{ideas["Dark mode for the app"]}"]')
            await dark.get_by_role("button", name="Change status of “Dark mode for the app”").click()
            status = dark.get_by_label("New status")
            await expect(status).to_be_focused()
            await status.select_option(label="Launched")
            note = dark.get_by_label("Note for followers (optional)")
            await note.fill("We are sketching a darker palette.")

            # Approve the reported idea: its reports are dismissed, it stays on the board.
            await reported.get_by_role("button", name=f"Approve “{REPORTED}”").click()
            await expect(queue).to_have_count(2)
            await expect(board.locator("#ie-live")).to_have_text(f"Approved: {REPORTED}.")
            assert (await state(api, site, ideas[REPORTED]))["moderationState"] == "VISIBLE"
            # Hide the pending idea, with a reason for its author, by keyboard.
            await pending.get_by_label("Reason (optional)").fill("We do not run promotions here.")
            await page.keyboard.press("Tab")  # Approve
            await page.keyboard.press("Tab")  # Hide
            await expect(pending.get_by_role("button", name=f"Hide “{PENDING}”")).to_be_focused()
            await page.keyboard.press("Enter")
            await expect(queue).to_have_count(1)
            assert (await state(api, site, ideas[PENDING]))["moderationState"] == "HIDDEN"
            left = await api(QUEUE, {"w": site.keys.slug}, auth=site.keys.api_key)
            items = left["data"]["board"]["moderationQueue"]
            assert [e["node"]["subject"]["id"] for e in items["edges"]] == [moderation.comment], items
            # The comment's Approve button has the focus now: the keyboard stays in the queue.
            await expect(queue.first.get_by_role("button", name=re.compile("^Approve"))).to_be_focused()

            # Merge the duplicate into the original in one click (keeping the original), then unmerge it.
            cluster = board.locator(".ie-cluster").filter(has_text=DUPLICATE)
            await cluster.get_by_role("radio", name=f"Keep “{OAT}”", exact=True).check()
            await cluster.get_by_role("button", name=f"Merge “{DUPLICATE}” into “{OAT}”").click()
            unmerge = board.get_by_role("button", name=f"Unmerge “{DUPLICATE}”")
            await expect(unmerge).to_be_focused()
            await expect(board.locator("#ie-live")).to_have_text(re.compile(f"“{DUPLICATE}” was merged into “{OAT}”"))
            merged = await state(api, site, ideas[DUPLICATE])
            assert (merged["status"], merged["mergedInto"]) == ("MERGED", {"id": ideas[OAT]}), merged
            # The unmerge's reload of the ideas is held back until the moderator has moved on to the status form:
            # when it lands, it must not take the keyboard away from where the moderator now is.
            held, release = asyncio.Event(), asyncio.Event()

            async def hold_the_ideas(route: Any) -> None:
                if not held.is_set() and '"PAIRWISE"' in (route.request.post_data or ""):
                    held.set()
                    await release.wait()
                await route.continue_()

            await context.route(GRAPHQL, hold_the_ideas)
            await page.keyboard.press("Enter")
            await expect(unmerge).to_have_count(0)
            await asyncio.wait_for(held.wait(), 10)
            back = await state(api, site, ideas[DUPLICATE])
            assert (back["status"], back["mergedInto"]) == ("SUBMITTED", None), back

            # The status form begun before every decision above (each reloaded the ideas) is as it was left.
            await expect(status).to_have_value("LAUNCHED")
            await expect(note).to_have_value("We are sketching a darker palette.")
            # A status change the lifecycle refuses is explained beside the status; one it allows goes with a note.
            await dark.get_by_role("button", name="Save status").click()
            await expect(dark.locator(".ie-error").first).to_have_text(
                "This idea cannot go from Submitted to Launched."
            )
            await expect(status).to_have_attribute("aria-invalid", "true")
            await expect(status).to_be_focused()
            release.set()
            await expect(board.locator("#ie-live")).to_have_text(f"“{DUPLICATE}” is back on the board as Submitted.")
            await context.unroute(GRAPHQL, hold_the_ideas)
            await expect(status).to_be_focused()
            await status.select_option(label="Being considered")
            await dark.get_by_role("button", name="Save status").click()
            await expect(dark.locator(".ie-badge")).to_have_text("Being considered")
            await expect(dark.get_by_role("button", name=re.compile("^Change status"))).to_be_focused()
            history = (await state(api, site, ideas["Dark mode for the app"]))["statusHistory"]
            assert history[-1] == {"to": "UNDER_REVIEW", "note": "We are sketching a darker palette."}, history
            assert not await axe_violations(frame), "moderator view after decisions"
    finally:
        host.stop()
    print(f"screenshots in {tmp_path}")


async def test_a_member_sees_no_moderator_view_and_an_admin_key_opens_it(site: Site, moderation: Moderation) -> None:
    from playwright.async_api import expect

    member = site.host()
    try:
        async with chromium() as context:
            page = await context.new_page()
            await page.goto(member.url)
            board = page.frame_locator("#ideas")
            await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
            await expect(board.locator(".ie-idea").first).to_be_visible()
            await expect(board.get_by_role("button", name="Moderate")).to_be_hidden()
            assert await board.get_by_role("button", name="Moderate").count() == 0  # hidden from assistive tech too
    finally:
        member.stop()

    admin = staff_host(site, api_key=True)
    requested: list[str] = []
    try:
        async with chromium() as context, http_api(site.server) as api:
            context.on("request", lambda request: requested.append(request.url))
            page = await context.new_page()
            await page.goto(admin.url)
            board = page.frame_locator("#ideas")
            await expect(board.locator("#ie-who")).to_have_text("Signed in as workspace admin")
            await board.get_by_role("button", name="Moderate", exact=True).click()
            await expect(board.get_by_role("heading", name=re.compile(r"^Duplicates \(\d+\)$"))).to_be_visible()
            await expect(board.get_by_role("heading", name=re.compile(r"^Moderation queue \(\d+\)$"))).to_be_visible()
            # The key writes too: a status change with a note.
            quiet = board.locator(f'.ie-mod-idea[data-id="{moderation.ideas[REPORTED]}"]')
            opener = quiet.get_by_role("button", name=f"Change status of “{REPORTED}”")
            await opener.click()
            await expect(opener).to_have_attribute("aria-expanded", "true")
            await page.keyboard.press("Escape")  # closes the form, back on its button
            await expect(quiet.get_by_label("New status")).to_be_hidden()
            await expect(opener).to_be_focused()
            await page.keyboard.press("Enter")
            await quiet.get_by_label("New status").select_option("UNDER_REVIEW")
            await quiet.get_by_label("Note for followers (optional)").fill("Asking the stores.")
            await quiet.get_by_role("button", name="Save status").click()
            await expect(quiet.locator(".ie-badge")).to_have_text("Being considered")
            history = (await state(api, site, moderation.ideas[REPORTED]))["statusHistory"]
            assert history[-1] == {"to": "UNDER_REVIEW", "note": "Asking the stores."}, history
    finally:
        admin.stop()
    # The key went by postMessage only, never in a URL.
    assert requested and not [url for url in requested if site.keys.api_key in url]
