"""Campaigns on the embeddable board, in headless Chromium framed by a brand's page on another origin: a signed-in
visitor follows a campaign from entries to results while an admin moves it on through the API, and casts an
approval ballot and a budget ballot whose running total refuses to overspend."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.browser.conftest import Site
from tests.browser.test_embed import NARROW, WIDE, axe_violations, board_frame, chromium
from tests.conftest import eventually
from tests.realtime.conftest import http_api

ERRORS = "userErrors { code field message }"
CREATE = f"mutation($i: CreateCampaignInput!) {{ createCampaign(input: $i) {{ campaign {{ id }} {ERRORS} }} }}"
UPDATE = f"mutation($i: UpdateCampaignInput!) {{ updateCampaign(input: $i) {{ campaign {{ phase }} {ERRORS} }} }}"
FINALISTS = f"mutation($i: SetFinalistsInput!) {{ setFinalists(input: $i) {{ campaign {{ id }} {ERRORS} }} }}"
COST = f"mutation($i: SetIdeaCostInput!) {{ setIdeaCost(input: $i) {{ idea {{ id }} {ERRORS} }} }}"
ENTER = f"mutation($i: SubmitIdeaInput!) {{ submitIdea(input: $i) {{ idea {{ id }} {ERRORS} }} }}"
BALLOT = f"mutation($i: CastBallotInput!) {{ castBallot(input: $i) {{ campaign {{ id }} {ERRORS} }} }}"
VIEWER_BALLOT = "query($id: ID!) { node(id: $id) { ... on Campaign { viewerBallot { id } } } }"
IDEA_VOTE = "query($id: ID!) { idea(id: $id) { viewerVote } }"
COMPARISONS = (
    "query($id: ID!) { node(id: $id) { ... on Campaign { ideas { edges { node { score { comparisons } } } } } } }"
)
IDEA_CAMPAIGN = "query($id: ID!) { idea(id: $id) { title campaign { id } } }"


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def ok(api: Any, auth: str, document: str, **input: Any) -> dict[str, Any]:
    """One mutation's payload, which must have been accepted."""
    body = await api(document, {"i": input}, auth=auth)
    payload: dict[str, Any] = next(iter(body["data"].values()))
    assert payload["userErrors"] == [], payload
    return payload


async def entries(api: Any, site: Site, campaign: str, titles: list[str]) -> dict[str, str]:
    """The members enter these ideas into the campaign; title -> id."""
    found = {}
    for n, title in enumerate(titles):
        member = site.keys.token(f"member{n % 4}")
        done = await ok(api, member, ENTER, boardId=site.board_id, title=title, campaignId=campaign)
        found[title] = done["idea"]["id"]
    return found


async def ballot_of(api: Any, campaign: str, auth: str) -> set[str]:
    body = await api(VIEWER_BALLOT, {"id": campaign}, auth=auth)
    return {idea["id"] for idea in body["data"]["node"]["viewerBallot"]}


COSTS = {
    "Bike racks outside every store": 1200.0,
    "Free coffee for litter pickers": 800.0,
    "A community noticeboard": 300.0,
    "Solar panels on the roastery": 4500.0,
}


async def two_campaigns(api: Any, site: Site) -> tuple[str, dict[str, str], str, dict[str, str]]:
    """An APPROVAL campaign taking ideas and a BUDGET one in VOTING, made by the brand's admin; their ids and
    entries (title -> id)."""
    admin = site.keys.api_key
    approval = (
        await ok(
            api,
            admin,
            CREATE,
            boardId=site.board_id,
            title="Pick the summer menu",
            description="Three drinks make the summer menu. Enter yours, then pick your two favourites.",
            ballot="APPROVAL",
            maxChoices=2,
            winnerCount=2,
        )
    )["campaign"]["id"]
    await ok(api, admin, UPDATE, campaignId=approval, phase="SUBMISSION", submissionEndsAt=later(days=2, hours=5))
    menu = await entries(api, site, approval, ["Iced matcha latte", "Lemonade on tap", "Cold brew floats"])

    fund = (
        await ok(
            api,
            admin,
            CREATE,
            boardId=site.board_id,
            title="Neighbourhood fund",
            description="€5,000 for the streets our cafés are in.",
            ballot="BUDGET",
            budget=5000.0,
            currency="EUR",
        )
    )["campaign"]["id"]
    await ok(api, admin, UPDATE, campaignId=fund, phase="SUBMISSION")
    projects = await entries(api, site, fund, list(COSTS))
    for title, cost in COSTS.items():
        await ok(api, admin, COST, ideaId=projects[title], cost=cost)
    await ok(api, admin, UPDATE, campaignId=fund, phase="VOTING", votingEndsAt=later(days=3, hours=5))
    return approval, menu, fund, projects


async def test_a_visitor_enters_a_campaign_casts_approval_and_budget_ballots_and_sees_finalists_and_results(
    site: Site, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    host = site.host()
    admin = site.keys.api_key
    ballots_sent: list[str] = []
    async with http_api(site.server) as api:
        try:
            async with chromium() as context:

                def record(request: Any) -> None:
                    if "castBallot" in (request.post_data or ""):
                        ballots_sent.append(request.url)

                context.on("request", record)
                page = await context.new_page()
                await page.goto(host.url)
                board = page.frame_locator("#ideas")
                await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
                frame = board_frame(page)
                await frame.evaluate("window.__sameDocument = true")
                vera = host.issued[-1]

                # No campaign yet: no tab for them. Once the brand runs some, the board shows their tab: both,
                # newest first, with phase and deadline.
                await expect(board.locator(".ie-idea")).to_have_count(20)
                await expect(board.locator("[data-view=campaign]")).to_be_hidden()
                approval, menu, fund, projects = await two_campaigns(api, site)
                await board.get_by_role("button", name="Ideas", exact=True).click()
                await board.get_by_role("button", name="Campaigns").click()
                cards = board.locator(".ie-campaign-card")
                await expect(cards).to_have_count(2)
                await expect(cards.first).to_contain_text("Neighbourhood fund")
                await expect(cards.first).to_contain_text("Voting")
                await expect(cards.first).to_contain_text(re.compile(r"Voting closes .+ \(in 3 days [45] hours\)"))
                await expect(cards.last).to_contain_text("Taking ideas")
                await expect(cards.last).to_contain_text(re.compile(r"Entries close .+ \(in 2 days [45] hours\)"))
                assert not await axe_violations(frame), "campaign list"
                await page.screenshot(path=tmp_path / "embed-campaigns-1400.png", full_page=True)

                # In SUBMISSION the visitor enters an idea into the campaign.
                await cards.last.get_by_role("button", name="Pick the summer menu").click()
                await expect(board.locator("#ie-campaign-title")).to_be_focused()
                await expect(board.locator(".ie-phases [aria-current=step]")).to_have_text("Taking ideas")
                deadline = board.locator(".ie-deadline time")
                when = await deadline.get_attribute("datetime")
                assert when and datetime.fromisoformat(when) > datetime.now(UTC) + timedelta(days=2), when
                await expect(board.locator(".ie-entries h3")).to_have_text("Entries (3)")
                await board.get_by_role("button", name="Enter an idea").click()
                await expect(board.locator("#ie-submit-heading")).to_have_text(
                    "Enter an idea in “Pick the summer menu”"
                )
                await board.get_by_label("Your idea").fill("Affogato with oat ice cream")
                await board.get_by_role("button", name="Submit idea").click()
                await expect(board.locator("#ie-idea-title")).to_have_text("Affogato with oat ice cream")
                await board.get_by_role("button", name="Campaigns").click()
                await board.get_by_role("button", name="Pick the summer menu").click()
                await expect(board.locator("#ie-campaign-title")).to_have_text("Pick the summer menu")
                await expect(board.locator(".ie-entries h3")).to_have_text("Entries (4)")
                body = await api(
                    "query($id: ID!) { node(id: $id) { ... on Campaign { ideas(first: 10) { edges { node {"
                    " id title } } } } } }",
                    {"id": approval},
                )
                menu |= {e["node"]["title"]: e["node"]["id"] for e in body["data"]["node"]["ideas"]["edges"]}
                affogato = menu["Affogato with oat ice cream"]
                entered = (await api(IDEA_CAMPAIGN, {"id": affogato}))["data"]["idea"]
                assert entered["campaign"] == {"id": approval}

                # The admin closes the entries: the phase moves on in the page, live.
                await ok(api, admin, UPDATE, campaignId=approval, phase="SHORTLIST")
                await expect(board.locator(".ie-phases [aria-current=step]")).to_have_text("Picking finalists")
                await expect(board.locator(".ie-campaign .ie-note")).to_have_text(
                    "Entries are closed: the team is picking the finalists."
                )
                await expect(board.locator("#ie-live")).to_have_text("“Pick the summer menu” is now picking finalists.")
                finalists = [menu["Iced matcha latte"], menu["Lemonade on tap"], affogato]
                await ok(api, admin, FINALISTS, campaignId=approval, ideaIds=finalists)
                await ok(api, admin, UPDATE, campaignId=approval, phase="VOTING", votingEndsAt=later(days=4, hours=7))

                # VOTING: the finalists alone are on the ballot; pick up to 2, a third is refused in the page.
                await expect(board.locator(".ie-phases [aria-current=step]")).to_have_text("Voting")
                await expect(board.locator(".ie-deadline")).to_contain_text(
                    re.compile(r"Voting closes .+ \(in 4 days [67] hours\)")
                )
                ballot = board.locator(".ie-ballot")
                await expect(ballot.locator("legend")).to_have_text("The finalists · Pick up to 2.")
                await expect(ballot.get_by_role("checkbox")).to_have_count(3)
                await expect(ballot).not_to_contain_text("Cold brew floats")
                tally = ballot.locator(".ie-tally")
                await expect(tally).to_have_text("0 of 2 picked.")
                await ballot.get_by_label("Iced matcha latte").focus()
                await page.keyboard.press("Space")
                await ballot.get_by_label("Lemonade on tap").check()
                await expect(tally).to_have_text("2 of 2 picked. Not cast yet.")
                await ballot.get_by_label("Affogato with oat ice cream").click()
                await expect(ballot.get_by_label("Affogato with oat ice cream")).not_to_be_checked()
                await expect(ballot.locator(".ie-error")).to_have_text(
                    "You can pick up to 2. Take one off before adding “Affogato with oat ice cream”."
                )
                await expect(tally).to_have_text("2 of 2 picked. Not cast yet.")
                assert ballots_sent == []
                await ballot.get_by_role("button", name="Cast my ballot").click()
                await expect(tally).to_have_text("2 of 2 picked. Your ballot is in.")
                assert await ballot_of(api, approval, vera) == {menu["Iced matcha latte"], menu["Lemonade on tap"]}
                assert not await axe_violations(frame), "approval ballot"

                # The budget ballot: a running total; a pick that would overspend is refused before the API is asked.
                await board.get_by_role("button", name="← All campaigns").click()
                await board.get_by_role("button", name="Neighbourhood fund").click()
                await expect(board.locator("#ie-campaign-title")).to_have_text("Neighbourhood fund")
                ballot = board.locator(".ie-ballot")
                tally = ballot.locator(".ie-tally")
                await expect(tally).to_have_text("€0 of €5,000 spent, €5,000 left.")
                for title in ("Bike racks outside every store", "Free coffee for litter pickers"):
                    await ballot.get_by_label(title).check()
                await ballot.get_by_label("A community noticeboard").focus()
                await page.keyboard.press("Space")
                await expect(tally).to_have_text("€2,300 of €5,000 spent, €2,700 left. Not cast yet.")
                sent = len(ballots_sent)
                solar = ballot.get_by_label("Solar panels on the roastery")
                await solar.click()
                await expect(solar).not_to_be_checked()
                await expect(ballot.locator(".ie-error")).to_have_text(
                    "“Solar panels on the roastery” costs €4,500: your picks would come to €6,800, over the €5,000"
                    " budget. Take something off first."
                )
                assert len(ballots_sent) == sent
                await expect(tally).to_have_text("€2,300 of €5,000 spent, €2,700 left. Not cast yet.")
                await ballot.get_by_role("button", name="Cast my ballot").click()
                await expect(tally).to_have_text("€2,300 of €5,000 spent, €2,700 left. Your ballot is in.")
                picked = {projects[t] for t in list(COSTS)[:3]}
                assert await ballot_of(api, fund, vera) == picked
                assert len(ballots_sent) == sent + 1
                await expect(board.locator(".ie-ballot meter")).to_have_attribute("value", "2300")
                assert not await axe_violations(frame), "budget ballot"
                await page.evaluate("scrollTo(0, 0)")
                await page.screenshot(path=tmp_path / "embed-campaign-1400.png", full_page=True)
                await page.set_viewport_size(NARROW)
                assert await frame.evaluate("document.documentElement.scrollWidth <= innerWidth")
                await page.screenshot(path=tmp_path / "embed-campaign-360.png", full_page=True)
                await page.set_viewport_size(WIDE)

                # A ballot the page did not stop (here ticked behind its back) is refused by the API: its words show
                # beside the ballot, and the ballot cast before stands.
                await frame.evaluate(
                    f"document.getElementById('ie-pick-{projects['Solar panels on the roastery']}').checked = true"
                )
                await ballot.get_by_role("button", name="Update my ballot").click()
                await expect(ballot.locator(".ie-error")).to_have_text(
                    "Over budget: the ideas on this ballot cost 6800 EUR, the budget is 5000 EUR."
                )
                await expect(ballot.locator(".ie-error")).to_be_focused()
                assert await ballot_of(api, fund, vera) == picked

                # Withdrawn, the ballot is empty again, in the page and in the API.
                await ballot.get_by_role("button", name="Withdraw my ballot").click()
                await expect(tally).to_have_text("€0 of €5,000 spent, €5,000 left.")
                await expect(ballot.get_by_role("checkbox", checked=True)).to_have_count(0)
                assert await ballot_of(api, fund, vera) == set()

                # Others vote; the admin closes the campaign: the results come in, the winners first.
                for member in ("member0", "member1"):
                    await ok(api, site.keys.token(member), BALLOT, campaignId=approval, ideaIds=finalists[:1])
                await board.get_by_role("button", name="← All campaigns").click()
                await board.get_by_role("button", name="Pick the summer menu").click()
                await expect(board.locator("#ie-campaign-title")).to_have_text("Pick the summer menu")
                await expect(board.locator(".ie-ballot .ie-tally")).to_have_text("2 of 2 picked. Your ballot is in.")
                await ok(api, admin, UPDATE, campaignId=approval, phase="CLOSED")
                results = board.locator(".ie-results li")
                await expect(results).to_have_count(3, timeout=60_000)
                await expect(results.nth(0)).to_contain_text(
                    re.compile(r"1\s*Iced matcha latte\s*Winner\s*3 approvals")
                )
                await expect(results.nth(1)).to_contain_text(re.compile(r"2\s*Lemonade on tap\s*Winner\s*1 approval"))
                await expect(results.nth(2)).to_contain_text(
                    re.compile(r"3\s*Affogato with oat ice cream\s*0 approvals")
                )
                await expect(board.locator(".ie-phases [aria-current=step]")).to_have_text("Closed")
                assert not await axe_violations(frame), "results"
                await page.set_viewport_size(NARROW)
                assert await frame.evaluate("document.documentElement.scrollWidth <= innerWidth")
                await page.screenshot(path=tmp_path / "embed-campaign-results-360.png", full_page=True)
                assert await frame.evaluate("window.__sameDocument") is True  # all of it without a reload
        finally:
            host.stop()
    print(f"screenshots in {tmp_path}")


async def test_a_visitor_votes_on_a_contest_s_finalists_and_compares_the_entries_of_a_pairwise_campaign(
    site: Site,
) -> None:
    from playwright.async_api import expect

    host = site.host()
    admin = site.keys.api_key
    async with http_api(site.server) as api:
        contest = (await ok(api, admin, CREATE, boardId=site.board_id, title="Name our winter drink", ballot="VOTES"))[
            "campaign"
        ]["id"]
        await ok(api, admin, UPDATE, campaignId=contest, phase="SUBMISSION")
        drinks = await entries(api, site, contest, ["Maple chai latte", "Gingerbread cold brew", "Orange mocha"])
        await ok(api, admin, UPDATE, campaignId=contest, phase="SHORTLIST")
        finalists = [drinks["Maple chai latte"], drinks["Gingerbread cold brew"]]
        await ok(api, admin, FINALISTS, campaignId=contest, ideaIds=finalists)
        await ok(api, admin, UPDATE, campaignId=contest, phase="VOTING")
        pastry = (await ok(api, admin, CREATE, boardId=site.board_id, title="Our next pastry", ballot="PAIRWISE"))[
            "campaign"
        ]["id"]
        await ok(api, admin, UPDATE, campaignId=pastry, phase="SUBMISSION")
        buns = await entries(api, site, pastry, ["Cardamom bun", "Pistachio croissant", "Almond twist"])
        await ok(api, admin, UPDATE, campaignId=pastry, phase="VOTING")
        try:
            async with chromium() as context:
                page = await context.new_page()
                await page.goto(host.url)
                board = page.frame_locator("#ideas")
                await expect(board.locator("#ie-who")).to_have_text("Signed in as Vera Visitor")
                frame = board_frame(page)
                vera = host.issued[-1]

                # VOTES: the finalists alone, each with up and down votes; no date set says so.
                await board.get_by_role("button", name="Campaigns").click()
                await board.get_by_role("button", name="Name our winter drink").click()
                await expect(board.locator("#ie-campaign-title")).to_have_text("Name our winter drink")
                await expect(board.locator(".ie-deadline")).to_have_text(
                    "Voting closes when the team moves it on; no date is set."
                )
                await expect(board.locator("#ie-ballot-heading")).to_have_text(
                    "The finalists: vote for the ones you want"
                )
                rows = board.locator(".ie-campaign .ie-idea")
                await expect(rows).to_have_count(2)
                await expect(board.locator(".ie-campaign")).not_to_contain_text("Orange mocha")
                up = rows.filter(has_text="Gingerbread cold brew").locator("[data-action=vote-UP]")
                await up.focus()
                await page.keyboard.press("Enter")
                await expect(up).to_have_attribute("aria-pressed", "true")
                await expect(up).to_be_focused()
                voted = await api(IDEA_VOTE, {"id": drinks["Gingerbread cold brew"]}, auth=vera)
                assert voted["data"]["idea"]["viewerVote"] == "UP"
                assert not await axe_violations(frame), "contest"

                # PAIRWISE: "which is better?" between the campaign's entries alone; a choice is a comparison.
                await board.get_by_role("button", name="← All campaigns").click()
                await board.get_by_role("button", name="Our next pastry").click()
                await expect(board.locator("#ie-campaign-title")).to_have_text("Our next pastry")
                choices = board.locator(".ie-campaign .ie-choice strong")
                await expect(choices).to_have_count(2)
                assert set(await choices.all_text_contents()) <= set(buns)
                await choices.first.click()
                await expect(board.locator(".ie-progress")).to_have_text("1 of 10 comparisons")
                await expect(choices).to_have_count(2)
                assert set(await choices.all_text_contents()) <= set(buns)

                async def compared() -> bool:
                    body = await api(COMPARISONS, {"id": pastry})
                    edges = body["data"]["node"]["ideas"]["edges"]
                    total: int = sum(e["node"]["score"]["comparisons"] for e in edges)
                    return total == 2

                await eventually(compared, 30, "the comparison in the entries' scores", site.server.output)
                assert not await axe_violations(frame), "pairwise"
        finally:
            host.stop()
