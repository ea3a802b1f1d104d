"""Campaigns: entries, phases that only move forward, ballots of every kind, results and bad input.

Every refusal is checked to have written nothing; results are read back through the API once the in-process
worker computed them."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import ranking
from ideaengine import campaign_results, campaigns
from ideaengine.errors import DomainError
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform import events
from ideaengine.platform.models import BallotKind, Campaign, WebhookDelivery
from schema.relay import encode_id
from tests.api.conftest import Api, Workspace, make_workspace
from tests.api.ops import compare, create_board, drain, idea_id, pk, vote
from tests.conftest import eventually

CREATE = """mutation($i: CreateCampaignInput!) { createCampaign(input: $i) {
  campaign { id title phase ballot maxChoices budget currency winnerCount board { slug } }
  userErrors { code field message } } }"""
UPDATE = """mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) {
  campaign { id phase title submissionStartsAt votingEndsAt freshAccounts } userErrors { code field message } } }"""
FINALISTS = """mutation($i: SetFinalistsInput!) { setFinalists(input: $i) {
  campaign { finalists { id } } userErrors { code field message } } }"""
COST = """mutation($i: SetIdeaCostInput!) { setIdeaCost(input: $i) {
  idea { id cost } userErrors { code field message } } }"""
BALLOT = """mutation($i: CastBallotInput!) { castBallot(input: $i) {
  campaign { viewerBallot { id } } userErrors { code field message } } }"""
SUBMIT = """mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) {
  idea { id campaign { id title } } userErrors { code field message } } }"""
CAMPAIGN = """query($id: ID!) { node(id: $id) { ... on Campaign { id phase title finalists { id }
  viewerBallot { id } freshAccounts votingOpenedAt
  results { rank support freshSupport winner cost idea { id title status statusHistory { to note } } } } } }"""
IDEAS = """query($id: ID!, $sort: IdeaSort) { node(id: $id) { ... on Campaign {
  ideas(sort: $sort) { totalCount edges { node { id campaign { id } } } } } } }"""
BOARD = """query($slug: String!, $phases: [CampaignPhase!]) { board(workspace: "acme", slug: $slug) {
  ideas { totalCount } campaigns(phases: $phases) { totalCount edges { node { id phase } } } } }"""
NOTIFICATIONS = "{ viewer { notifications { edges { node { kind message idea { id } } } } } }"
MATCHUP = "query($b: ID!, $c: ID) { pairwiseMatchup(boardId: $b, campaignId: $c) { left { id } right { id } } }"
SORTS = ["TOP", "TRENDING", "PAIRWISE", "ELO", "MOST_VOTES", "NEWEST"]


async def run(api: Api, document: str, auth: str | None, **input: Any) -> dict[str, Any]:
    body = await api(document, {"i": input}, auth=auth)
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


async def errors(api: Api, document: str, auth: str | None, **input: Any) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in (await run(api, document, auth, **input))["userErrors"]]


async def new_campaign(api: Api, ws: Workspace, board: str, **extra: Any) -> str:
    payload = await run(api, CREATE, ws.api_key, boardId=board, title="Crash the Super Bowl", **extra)
    assert payload["userErrors"] == [], payload
    return str(payload["campaign"]["id"])


async def to_phase(api: Api, ws: Workspace, campaign: str, phase: str) -> None:
    payload = await run(api, UPDATE, ws.token("mod", role="moderator"), campaignId=campaign, phase=phase)
    assert payload["userErrors"] == [] and payload["campaign"]["phase"] == phase, payload


async def enter(api: Api, auth: str, board: str, campaign: str, title: str) -> str:
    payload = await run(api, SUBMIT, auth, boardId=board, title=title, campaignId=campaign)
    assert payload["userErrors"] == [], payload
    return str(payload["idea"]["id"])


async def read(api: Api, campaign: str, auth: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = (await api(CAMPAIGN, {"id": campaign}, auth=auth))["data"]["node"]
    return found


async def board_view(api: Api, slug: str = "ideas", phases: list[str] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = (await api(BOARD, {"slug": slug, "phases": phases}))["data"]["board"]
    return found


async def notifications(api: Api, auth: str) -> list[tuple[str, str]]:
    edges = (await api(NOTIFICATIONS, auth=auth))["data"]["viewer"]["notifications"]["edges"]
    return [(e["node"]["kind"], e["node"]["idea"]["id"]) for e in edges]


async def test_moderators_run_a_campaign_whose_entries_the_board_still_lists(
    api: Api, ws: Workspace, services: Any
) -> None:
    board = await create_board(api, ws.api_key)
    other_board = await create_board(api, ws.api_key, slug="other")
    alice, mod = ws.token("alice"), ws.token("mod", role="moderator")
    assert await errors(api, CREATE, alice, boardId=board, title="X") == [("FORBIDDEN", [])]
    assert await errors(api, CREATE, None, boardId=board, title="X") == [("UNAUTHENTICATED", [])]
    assert (await board_view(api))["campaigns"]["totalCount"] == 0
    payload = await run(api, CREATE, mod, boardId=board, title=" Summer menu ", ballot="APPROVAL", maxChoices=2)
    assert payload["userErrors"] == []
    campaign = payload["campaign"]
    assert {k: campaign[k] for k in ("title", "phase", "ballot", "maxChoices", "winnerCount")} == {
        "title": "Summer menu",
        "phase": "SCHEDULED",
        "ballot": "APPROVAL",
        "maxChoices": 2,
        "winnerCount": 1,
    }
    cid = campaign["id"]
    elsewhere = await new_campaign(api, ws, other_board)
    await to_phase(api, ws, elsewhere, "SUBMISSION")

    # Entries only in SUBMISSION, only on the campaign's board; refused ones write nothing.
    assert await errors(api, SUBMIT, alice, boardId=board, title="Too early", campaignId=cid) == [
        ("WRONG_PHASE", ["input", "campaignId"])
    ]
    assert await errors(api, UPDATE, alice, campaignId=cid, phase="SUBMISSION") == [("FORBIDDEN", [])]
    await to_phase(api, ws, cid, "SUBMISSION")
    assert await errors(api, SUBMIT, alice, boardId=board, title="Wrong board", campaignId=elsewhere) == [
        ("INVALID", ["input", "campaignId"])
    ]
    assert await errors(api, SUBMIT, alice, boardId=board, title="Bad id", campaignId=board) == [
        ("INVALID", ["input", "campaignId"])
    ]
    assert (await board_view(api))["ideas"]["totalCount"] == 0
    entries = [await enter(api, ws.token(u), board, cid, f"Idea of {u}") for u in ("alice", "bob", "carol")]
    plain = await idea_id(api, alice, board, "Not in any campaign")

    for sort in SORTS:
        listed = (await api(IDEAS, {"id": cid, "sort": sort}))["data"]["node"]["ideas"]
        assert listed["totalCount"] == 3
        assert sorted(e["node"]["id"] for e in listed["edges"]) == sorted(entries)
        assert {e["node"]["campaign"]["id"] for e in listed["edges"]} == {cid}
    newest = (await api(IDEAS, {"id": cid, "sort": "NEWEST"}))["data"]["node"]["ideas"]["edges"]
    assert [e["node"]["id"] for e in newest] == entries[::-1]
    view = await board_view(api, phases=["SUBMISSION"])
    assert view["ideas"]["totalCount"] == 4 and view["campaigns"]["totalCount"] == 1
    assert (await board_view(api, phases=["VOTING"]))["campaigns"]["totalCount"] == 0
    plain_idea = await api("query($id: ID!) { idea(id: $id) { campaign { id } cost } }", {"id": plain})
    assert plain_idea["data"]["idea"] == {"campaign": None, "cost": None}

    # Never backward, by hand or by dates; forward by hand skips what it likes.
    assert await errors(api, UPDATE, mod, campaignId=cid, phase="SCHEDULED") == [
        ("INVALID_TRANSITION", ["input", "phase"])
    ]
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    moved = await run(api, UPDATE, mod, campaignId=cid, submissionStartsAt=future, title="Summer menu 2027")
    assert moved["campaign"]["phase"] == "SUBMISSION" and moved["campaign"]["title"] == "Summer menu 2027"
    await drain(services)
    assert (await read(api, cid))["phase"] == "SUBMISSION"
    await to_phase(api, ws, cid, "VOTING")
    assert (await read(api, cid))["phase"] == "VOTING"


async def test_bad_input_is_refused_with_its_field_and_writes_nothing(api: Api, ws: Workspace, services: Any) -> None:
    board = await create_board(api, ws.api_key)
    now = datetime.now(UTC)
    at = [(now + timedelta(days=d)).isoformat() for d in range(5)]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"submissionStartsAt": at[2], "submissionEndsAt": at[1]}, "submissionEndsAt"),
        ({"submissionEndsAt": at[3], "votingStartsAt": at[2]}, "votingStartsAt"),
        ({"votingStartsAt": at[2], "votingEndsAt": at[2]}, "votingEndsAt"),
        ({"votingEndsAt": "2027-01-01T00:00:00"}, "votingEndsAt"),
        ({"ballot": "BUDGET", "budget": -1.0}, "budget"),
        ({"ballot": "BUDGET"}, "budget"),
        ({"ballot": "APPROVAL", "maxChoices": 0}, "maxChoices"),
        ({"winnerCount": 0}, "winnerCount"),
        ({"currency": "euro"}, "currency"),
        ({"title": "   "}, "title"),
    ]
    for extra, field in cases:
        assert await errors(api, CREATE, ws.api_key, **{"boardId": board, "title": "T", **extra}) == [
            ("INVALID", ["input", field])
        ], extra
    other = await make_workspace(services, "globex")
    assert await errors(api, CREATE, other.api_key, boardId=board, title="T") == [("UNAUTHENTICATED", [])]
    # An infinite literal (1e999) reaches the domain, which refuses it like a negative amount.
    infinite = await api(
        'mutation($b: ID!) { createCampaign(input: {boardId: $b, title: "T", ballot: BUDGET, budget: 1e999}) {'
        " userErrors { code field } } }",
        {"b": board},
        auth=ws.api_key,
    )
    assert infinite["data"]["createCampaign"]["userErrors"] == [{"code": "INVALID", "field": ["input", "budget"]}]
    async with services.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Campaign))).scalar_one() == 0
    actor = Actor(workspace_id=1, user_id=1, role=ActorRole.ADMIN)
    for bad in (math.inf, math.nan, -0.5):
        with pytest.raises(DomainError) as refused:
            async with services.transaction() as session:
                await campaigns.create(session, actor, pk(board), "T", ballot=BallotKind.BUDGET, budget=bad)
        assert refused.value.field == ["budget"]

    cid = await new_campaign(api, ws, board, submissionStartsAt=at[1], votingEndsAt=at[3])
    assert await errors(api, UPDATE, ws.api_key, campaignId=cid, votingStartsAt=at[4]) == [
        ("INVALID", ["input", "votingEndsAt"])
    ]
    assert await errors(api, UPDATE, ws.api_key, campaignId=cid, title="", phase="VOTING") == [
        ("INVALID", ["input", "title"])
    ]
    unchanged = await read(api, cid)
    assert (unchanged["phase"], unchanged["title"]) == ("SCHEDULED", "Crash the Super Bowl")
    cleared = await run(api, UPDATE, ws.api_key, campaignId=cid, submissionStartsAt=None)
    assert cleared["campaign"]["submissionStartsAt"] is None and cleared["campaign"]["votingEndsAt"] is not None


async def test_phase_changes_notify_entrants_and_followers_and_are_events_and_webhooks(
    api: Api, ws: Workspace, services: Any
) -> None:
    from schema import Context, build_schema

    board = await create_board(api, ws.api_key)
    hook = await api(
        """mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { userErrors { code } } }""",
        {"i": {"url": "https://93.184.215.14/hooks", "events": ["CAMPAIGN_PHASE_CHANGED"]}},
        auth=ws.api_key,
    )
    assert hook["data"]["createWebhook"]["userErrors"] == []
    cid = await new_campaign(api, ws, board)
    await to_phase(api, ws, cid, "SUBMISSION")
    a = await enter(api, ws.token("alice"), board, cid, "Alice's entry")
    b = await enter(api, ws.token("bob"), board, cid, "Bob's entry")
    follow = "mutation($i: FollowIdeaInput!) { followIdea(input: $i) { userErrors { code } } }"
    await api(follow, {"i": {"ideaId": b, "follow": True}}, auth=ws.token("carol"))

    schema = build_schema()
    stream = await schema.subscribe(
        """subscription($b: ID!) { boardActivity(boardId: $b) { __typename
          ... on CampaignPhaseChangedEvent { campaign { id phase } from to } } }""",
        variable_values={"b": board},
        context_value=Context(services=services, actor=Actor()),
    )
    assert isinstance(stream, AsyncGenerator)
    first = asyncio.ensure_future(anext(stream))

    async def listening() -> bool:
        return events.board_channel(pk(board)) in services.broker.channels()

    await eventually(listening, 10, "the subscription to listen")
    await to_phase(api, ws, cid, "SHORTLIST")
    while True:  # score refreshes of the entries may come first
        heard = (await asyncio.wait_for(first, 10)).data
        assert heard is not None
        event = heard["boardActivity"]
        if event["__typename"] != "ScoresUpdatedEvent":
            break
        first = asyncio.ensure_future(anext(stream))
    assert event == {
        "__typename": "CampaignPhaseChangedEvent",
        "campaign": {"id": cid, "phase": "SHORTLIST"},
        "from": "SUBMISSION",
        "to": "SHORTLIST",
    }
    await stream.aclose()

    assert await notifications(api, ws.token("alice")) == [("CAMPAIGN_PHASE_CHANGED", a)]
    assert await notifications(api, ws.token("bob")) == [("CAMPAIGN_PHASE_CHANGED", b)]
    assert await notifications(api, ws.token("carol")) == [("CAMPAIGN_PHASE_CHANGED", b)]
    assert await notifications(api, ws.token("mod", role="moderator")) == []
    async with services.db.read() as session:
        in_order = select(WebhookDelivery.event, WebhookDelivery.payload).order_by(WebhookDelivery.id)
        sent = (await session.execute(in_order)).all()  # a heap's order is no order: an update moves a row
    assert [event for event, _ in sent] == ["campaign.phase_changed", "campaign.phase_changed"]
    assert '"from":"SUBMISSION","to":"SHORTLIST"' in sent[-1][1]


async def test_finalists_are_picked_in_shortlist_and_votes_count_only_in_voting(
    api: Api, ws: Workspace, services: Any
) -> None:
    board = await create_board(api, ws.api_key)
    mod = ws.token("mod", role="moderator")
    cid = await new_campaign(api, ws, board, winnerCount=1)
    await to_phase(api, ws, cid, "SUBMISSION")
    a, b, c = [await enter(api, ws.token(u), board, cid, f"Entry of {u}") for u in ("alice", "bob", "carol")]
    assert (await vote(api, ws.token("dave"), a, "UP"))["userErrors"][0]["code"] == "WRONG_PHASE"
    assert await errors(api, FINALISTS, mod, campaignId=cid, ideaIds=[a, b]) == [
        ("WRONG_PHASE", ["input", "campaignId"])
    ]
    await to_phase(api, ws, cid, "SHORTLIST")
    plain = await idea_id(api, ws.token("alice"), board, "Not an entry")
    assert await errors(api, FINALISTS, mod, campaignId=cid, ideaIds=[a, plain]) == [
        ("NOT_IN_CAMPAIGN", ["input", "ideaIds"])
    ]
    assert await errors(api, FINALISTS, ws.token("alice"), campaignId=cid, ideaIds=[a]) == [("FORBIDDEN", [])]
    picked = await run(api, FINALISTS, mod, campaignId=cid, ideaIds=[b, a])
    assert picked["userErrors"] == [] and [i["id"] for i in picked["campaign"]["finalists"]] == [a, b]
    await to_phase(api, ws, cid, "VOTING")
    assert await errors(api, FINALISTS, mod, campaignId=cid, ideaIds=[c]) == [("WRONG_PHASE", ["input", "campaignId"])]
    assert (await vote(api, ws.token("dave"), c, "UP"))["userErrors"][0]["code"] == "NOT_A_FINALIST"
    # Ties break by the earlier submission: a and b both get one UP vote, a was entered first.
    assert (await vote(api, ws.token("dave"), b, "UP"))["idea"]["votes"] == {"up": 1, "down": 0}
    assert (await vote(api, ws.token("erin"), a, "UP"))["idea"]["votes"] == {"up": 1, "down": 0}
    await to_phase(api, ws, cid, "CLOSED")
    assert (await vote(api, ws.token("frank"), a, "DOWN"))["userErrors"][0]["code"] == "WRONG_PHASE"
    await drain(services)
    found = await read(api, cid)
    assert [(r["idea"]["id"], r["rank"], r["winner"]) for r in found["results"]] == [(a, 1, True), (b, 2, False)]
    assert found["results"][0]["support"] == pytest.approx(float(ranking.wilson_lower_bound([1], [0])[0]))
    winner = found["results"][0]["idea"]
    assert winner["status"] == "PLANNED"
    assert winner["statusHistory"][-1] == {"to": "PLANNED", "note": "Won the campaign “Crash the Super Bowl”."}
    assert ("CAMPAIGN_RESULT", a) in await notifications(api, ws.token("alice"))

    # Computed once: another run changes nothing, and recomputing gives the same ranks.
    async with services.transaction() as session:
        assert await campaign_results.advance(session, pk(cid)) == {}
        campaign = await session.get(Campaign, pk(cid))
        assert campaign is not None
        again = await campaign_results.standings(session, campaign)
    assert [(f"{s.idea.id}", s.rank) for s in again] == [(str(pk(a)), 1), (str(pk(b)), 2)]
    assert len((await read(api, cid))["results"]) == 2


async def test_approval_ballots_replace_each_other_and_are_refused_whole(
    api: Api, ws: Workspace, services: Any
) -> None:
    board = await create_board(api, ws.api_key)
    cid = await new_campaign(api, ws, board, ballot="APPROVAL", maxChoices=2, winnerCount=2)
    other = await new_campaign(api, ws, board)
    await to_phase(api, ws, cid, "SUBMISSION")
    await to_phase(api, ws, other, "SUBMISSION")
    a, b, c = [await enter(api, ws.token(u), board, cid, f"Entry of {u}") for u in ("alice", "bob", "carol")]
    foreign = await enter(api, ws.token("alice"), board, other, "Elsewhere")
    dave = ws.token("dave")
    assert await errors(api, BALLOT, dave, campaignId=cid, ideaIds=[a]) == [("WRONG_PHASE", ["input", "campaignId"])]
    await to_phase(api, ws, cid, "VOTING")
    assert await errors(api, BALLOT, dave, campaignId=cid, ideaIds=[a, b, c]) == [
        ("TOO_MANY_CHOICES", ["input", "ideaIds"])
    ]
    assert await errors(api, BALLOT, dave, campaignId=cid, ideaIds=[a, foreign]) == [
        ("NOT_IN_CAMPAIGN", ["input", "ideaIds"])
    ]
    assert await errors(api, BALLOT, dave, campaignId=other, ideaIds=[]) == [("INVALID", ["input", "campaignId"])]
    assert await errors(api, BALLOT, None, campaignId=cid, ideaIds=[a]) == [("UNAUTHENTICATED", [])]
    assert (await read(api, cid, dave))["viewerBallot"] == []
    cast = await run(api, BALLOT, dave, campaignId=cid, ideaIds=[a, b, a])
    assert cast["userErrors"] == [] and cast["campaign"]["viewerBallot"] == [{"id": a}, {"id": b}]
    assert await errors(api, BALLOT, dave, campaignId=cid, ideaIds=[c, a, b]) == [
        ("TOO_MANY_CHOICES", ["input", "ideaIds"])
    ]
    replaced = await run(api, BALLOT, dave, campaignId=cid, ideaIds=[c])
    assert replaced["campaign"]["viewerBallot"] == [{"id": c}]
    for voter, picks in (("erin", [b, c]), ("frank", [b]), ("gina", [a]), ("hal", [])):
        assert (await run(api, BALLOT, ws.token(voter), campaignId=cid, ideaIds=picks))["userErrors"] == []
    await to_phase(api, ws, cid, "CLOSED")
    await drain(services)
    results = (await read(api, cid))["results"]
    # b and c have two approvals each (b entered first wins the tie), a one; two winners.
    assert [(r["idea"]["id"], r["rank"], r["support"], r["winner"]) for r in results] == [
        (b, 1, 2.0, True),
        (c, 2, 2.0, True),
        (a, 3, 1.0, False),
    ]


async def test_budget_ballots_fit_the_budget_and_fund_in_rank_order_skipping_what_no_longer_fits(
    api: Api, ws: Workspace, services: Any
) -> None:
    board = await create_board(api, ws.api_key)
    mod = ws.token("mod", role="moderator")
    cid = await new_campaign(api, ws, board, ballot="BUDGET", budget=100.0, currency="EUR")
    await to_phase(api, ws, cid, "SUBMISSION")
    a, b, c, d = [await enter(api, ws.token(u), board, cid, f"Project {u}") for u in ("ann", "ben", "cat", "dan")]
    plain = await idea_id(api, ws.token("ann"), board, "No campaign")
    assert await errors(api, COST, ws.token("ann"), ideaId=a, cost=10.0) == [("FORBIDDEN", [])]
    assert await errors(api, COST, mod, ideaId=a, cost=-1.0) == [("INVALID", ["input", "cost"])]
    assert await errors(api, COST, mod, ideaId=plain, cost=1.0) == [("INVALID", ["input", "ideaId"])]
    for idea, cost in ((a, 60.0), (b, 50.0), (c, 30.0), (d, 20.0)):
        assert (await run(api, COST, mod, ideaId=idea, cost=cost))["idea"]["cost"] == cost
    await to_phase(api, ws, cid, "VOTING")
    assert await errors(api, COST, mod, ideaId=a, cost=1.0) == [("WRONG_PHASE", ["input", "ideaId"])]
    voter = ws.token("v0")
    assert await errors(api, BALLOT, voter, campaignId=cid, ideaIds=[a, b]) == [("OVER_BUDGET", ["input", "ideaIds"])]
    many = [str(encode_id("Idea", n)) for n in range(1, 102)]  # no maxChoices: still at most 100 per ballot
    assert await errors(api, BALLOT, voter, campaignId=cid, ideaIds=many) == [
        ("TOO_MANY_CHOICES", ["input", "ideaIds"])
    ]
    assert (await read(api, cid, voter))["viewerBallot"] == []
    ballots = [[a, c], [a, d], [a], [b, c], [b, d], [d], [c]]  # a 3, b 2, c 3, d 3: ties go to the earlier entry
    for n, picks in enumerate(ballots):
        assert (await run(api, BALLOT, ws.token(f"v{n}"), campaignId=cid, ideaIds=picks))["userErrors"] == []
    await to_phase(api, ws, cid, "CLOSED")
    await drain(services)
    results = (await read(api, cid))["results"]
    # a (60) is funded, c (30) fits, d (20) no longer fits after 90, b (50) neither.
    assert [(r["idea"]["id"], r["rank"], r["support"], r["winner"], r["cost"]) for r in results] == [
        (a, 1, 3.0, True, 60.0),
        (c, 2, 3.0, True, 30.0),
        (d, 3, 3.0, False, 20.0),
        (b, 4, 2.0, False, 50.0),
    ]


async def test_pairwise_campaigns_draw_matchups_from_their_entries_and_rank_by_bradley_terry(
    api: Api, ws: Workspace, services: Any
) -> None:
    board = await create_board(api, ws.api_key)
    cid = await new_campaign(api, ws, board, ballot="PAIRWISE")
    await to_phase(api, ws, cid, "SUBMISSION")
    a, b, c = [await enter(api, ws.token(u), board, cid, f"Ad by {u}") for u in ("alice", "bob", "carol")]
    await idea_id(api, ws.token("alice"), board, "Outside the contest")
    assert (await api(MATCHUP, {"b": board, "c": cid}))["data"]["pairwiseMatchup"] is None
    assert (await compare(api, ws.token("dave"), a, b))["userErrors"][0]["code"] == "WRONG_PHASE"
    await to_phase(api, ws, cid, "VOTING")
    for _ in range(3):
        pair = (await api(MATCHUP, {"b": board, "c": cid}, auth=ws.token("dave")))["data"]["pairwiseMatchup"]
        assert {pair["left"]["id"], pair["right"]["id"]} <= {a, b, c}
    for n, (winner, loser) in enumerate([(c, a), (c, b), (b, a), (c, a), (b, a)]):
        assert (await compare(api, ws.token(f"v{n}"), winner, loser))["userErrors"] == []
    await to_phase(api, ws, cid, "CLOSED")
    await drain(services)
    results = (await read(api, cid))["results"]
    assert [(r["idea"]["id"], r["winner"]) for r in results] == [(c, True), (b, False), (a, False)]
    assert results[0]["support"] > results[1]["support"] > results[2]["support"]


async def test_a_brigade_of_fresh_accounts_flips_the_winner_only_where_fresh_accounts_count(
    api: Api, ws: Workspace, services: Any
) -> None:
    board = await create_board(api, ws.api_key)
    mod = ws.token("mod", role="moderator")
    unknown = await api(
        CREATE, {"i": {"boardId": board, "title": "T", "freshAccounts": "SOMETIMES"}}, auth=mod, expect_errors=True
    )
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await board_view(api))["campaigns"]["totalCount"] == 0
    hook = await api(
        """mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { userErrors { code } } }""",
        {"i": {"url": "https://93.184.215.14/hooks", "events": ["CAMPAIGN_RESULTS"]}},
        auth=ws.api_key,
    )
    assert hook["data"]["createWebhook"]["userErrors"] == []
    made = {
        "off": await new_campaign(api, ws, board),
        "apart": await new_campaign(api, ws, board, freshAccounts="SEPARATE"),
        "approval": await new_campaign(api, ws, board, ballot="APPROVAL"),
        "pairwise": await new_campaign(api, ws, board, ballot="PAIRWISE", freshAccounts="IGNORE"),
    }
    assert {k: (await read(api, made["off"]))[k] for k in ("freshAccounts", "votingOpenedAt")} == {
        "freshAccounts": "COUNT",
        "votingOpenedAt": None,
    }
    entries: dict[str, tuple[str, str]] = {}
    for name, cid in made.items():
        await to_phase(api, ws, cid, "SUBMISSION")
        good = await enter(api, ws.token("ann"), board, cid, f"The best entry ({name})")
        weak = await enter(api, ws.token("ben"), board, cid, f"A weak entry ({name})")
        entries[name] = (good, weak)
    honest = [ws.token(u) for u in ("alice", "bob")]
    for auth in honest:  # first seen before voting opens
        assert (await api("{ viewer { user { id } } }", auth=auth))["data"]["viewer"]["user"] is not None
    for cid in made.values():
        await to_phase(api, ws, cid, "VOTING")
    opened = await read(api, made["apart"])
    assert opened["freshAccounts"] == "SEPARATE" and opened["votingOpenedAt"] is not None
    brigade = [ws.token(f"sock{n}") for n in range(3)]  # accounts first seen during the vote

    for name in ("off", "apart"):
        good, weak = entries[name]
        for auth in honest:
            assert (await vote(api, auth, good, "UP"))["userErrors"] == []
        for auth in brigade:
            assert (await vote(api, auth, weak, "UP"))["userErrors"] == []
            assert (await vote(api, auth, good, "DOWN"))["userErrors"] == []
    good, weak = entries["approval"]
    for auth, picks in [*((a, [good]) for a in honest), *((a, [weak]) for a in brigade)]:
        assert (await run(api, BALLOT, auth, campaignId=made["approval"], ideaIds=picks))["userErrors"] == []
    good, weak = entries["pairwise"]
    for auth, (winner, loser) in [*((a, (good, weak)) for a in honest), *((a, (weak, good)) for a in brigade)]:
        assert (await compare(api, auth, winner, loser))["userErrors"] == []
    # The moderator sees the brigade during the vote and switches it off; null leaves the switch as it is.
    switched = await run(api, UPDATE, mod, campaignId=made["approval"], freshAccounts="IGNORE")
    assert switched["campaign"]["freshAccounts"] == "IGNORE"
    kept = await run(api, UPDATE, mod, campaignId=made["approval"], freshAccounts=None, title="Approve")
    assert kept["campaign"]["freshAccounts"] == "IGNORE"
    for cid in made.values():
        await to_phase(api, ws, cid, "CLOSED")
    await drain(services)

    standings = {}
    for name, cid in made.items():
        rows = (await read(api, cid))["results"]
        standings[name] = [(r["idea"]["id"], r["winner"], r["support"], r["freshSupport"]) for r in rows]
    # Wilson lower bounds of 2 up 3 down, 3 up, 2 up, 0 up 3 down.
    wilson = [pytest.approx(float(x)) for x in ranking.wilson_lower_bound([2, 3, 2, 0], [3, 0, 0, 3])]
    good, weak = entries["off"]  # every ballot counts: the brigade's entry wins
    assert standings["off"] == [(weak, True, wilson[1], None), (good, False, wilson[0], None)]
    good, weak = entries["apart"]  # fresh ballots are left out and reported apart
    assert standings["apart"] == [(good, True, wilson[2], wilson[3]), (weak, False, 0.0, wilson[1])]
    async with services.db.read() as session:
        sent = [json.loads(p) for p in (await session.execute(select(WebhookDelivery.payload))).scalars()]
    apart = next(p["data"]["results"] for p in sent if p["data"]["campaign"]["id"] == made["apart"])
    assert [(r["idea"]["id"], r["freshSupport"]) for r in apart] == [(good, wilson[3]), (weak, wilson[1])]
    good, weak = entries["approval"]
    assert standings["approval"] == [(good, True, 2.0, None), (weak, False, 0.0, None)]
    good, weak = entries["pairwise"]
    assert [(i, won, f) for i, won, _, f in standings["pairwise"]] == [(good, True, None), (weak, False, None)]

    # Once CLOSED, the results stand as they were counted.
    assert await errors(api, UPDATE, mod, campaignId=made["off"], freshAccounts="IGNORE") == [
        ("WRONG_PHASE", ["input", "freshAccounts"])
    ]
    assert (await read(api, made["off"]))["freshAccounts"] == "COUNT"
