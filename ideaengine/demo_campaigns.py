"""The demo's campaigns: a running contest (VOTING, with finalists) and a participatory budget (VOTING).

Seeded through the services like the rest of the demo, and idempotent: a campaign whose title is already on
the board is left alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import ballots, campaigns, ideas, votes
from ideaengine.identity import Actor
from ideaengine.platform.models import BallotKind, Board, Campaign, CampaignPhase, utcnow


@dataclass(frozen=True)
class Entry:
    author: int
    "Index into the demo's members."
    title: str
    body: str
    cost: float | None = None


CONTEST = "Name our winter drink"
CONTEST_ENTRIES = (
    Entry(0, "Maple chai latte", "Chai, steamed milk and a spoon of maple syrup: cosy, not too sweet."),
    Entry(3, "Gingerbread cold brew", "Cold brew with gingerbread syrup and a cinnamon foam on top."),
    Entry(6, "Orange mocha", "Dark chocolate mocha with a twist of orange zest, like the Christmas chocolates."),
    Entry(9, "Salted caramel oat flat white", "A flat white on oat milk with salted caramel."),
)
CONTEST_FINALISTS = 3
"The first entries become finalists; the last one is left out of the vote."
CONTEST_VOTES = ((0, 1, 2, 4, 5, 7), (3, 8, 10), (6, 11, 12, 13))
"Members voting UP on each finalist."

BUDGET = "Neighbourhood fund 2027"
BUDGET_EUROS = 5000.0
BUDGET_ENTRIES = (
    Entry(1, "Bike racks outside every store", "Room for ten bikes in front of each café.", 1200.0),
    Entry(4, "Free coffee for litter pickers", "A monthly clean-up of the park; volunteers drink free.", 800.0),
    Entry(7, "A community noticeboard", "A cork wall in each store for local events and lost cats.", 300.0),
    Entry(11, "Solar panels on the roastery", "Cut the roastery's power bill and its carbon.", 4500.0),
)
BUDGET_BALLOTS = ((0, 1, 2), (0, 2), (3,), (1, 2), (0, 1), (2,), (0, 2), (3,))
"Each ballot: positions in BUDGET_ENTRIES; member n casts ballot n."


async def seed(session: AsyncSession, board: Board, moderator: Actor, members: Sequence[Actor]) -> None:
    titles = set((await session.execute(select(Campaign.title).where(Campaign.board_id == board.id))).scalars())
    if CONTEST not in titles:
        await _contest(session, board, moderator, members)
    if BUDGET not in titles:
        await _budget(session, board, moderator, members)


async def _open(
    session: AsyncSession,
    board: Board,
    moderator: Actor,
    members: Sequence[Actor],
    campaign: Campaign,
    entries: Sequence[Entry],
) -> list[int]:
    await campaigns.update(session, moderator, campaign.id, phase=CampaignPhase.SUBMISSION)
    ids = []
    for entry in entries:
        idea = await ideas.submit(session, members[entry.author], board.id, entry.title, entry.body, (), campaign.id)
        ids.append(idea.id)
        if entry.cost is not None:
            await campaigns.set_cost(session, moderator, idea.id, entry.cost)
    return ids


async def _contest(session: AsyncSession, board: Board, moderator: Actor, members: Sequence[Actor]) -> None:
    description = "Four baristas, one winter special. Vote for the finalist you'd order."
    campaign = await campaigns.create(session, moderator, board.id, CONTEST, description, BallotKind.VOTES)
    ids = await _open(session, board, moderator, members, campaign, CONTEST_ENTRIES)
    await campaigns.update(session, moderator, campaign.id, phase=CampaignPhase.SHORTLIST)
    await campaigns.set_finalists(session, moderator, campaign.id, ids[:CONTEST_FINALISTS])
    ends = {"voting_ends_at": utcnow() + timedelta(days=14)}
    await campaigns.update(session, moderator, campaign.id, phase=CampaignPhase.VOTING, dates=ends)
    for idea_id, voters in zip(ids, CONTEST_VOTES, strict=False):
        for member in voters:
            await votes.cast_vote(session, members[member], idea_id, votes.UP)


async def _budget(session: AsyncSession, board: Board, moderator: Actor, members: Sequence[Actor]) -> None:
    description = "€5,000 for the neighbourhoods our cafés are in. Pick what you'd fund; it must fit the budget."
    campaign = await campaigns.create(
        session, moderator, board.id, BUDGET, description, BallotKind.BUDGET, budget=BUDGET_EUROS, currency="EUR"
    )
    ids = await _open(session, board, moderator, members, campaign, BUDGET_ENTRIES)
    ends = {"voting_ends_at": utcnow() + timedelta(days=21)}
    await campaigns.update(session, moderator, campaign.id, phase=CampaignPhase.VOTING, dates=ends)
    for member, picks in enumerate(BUDGET_BALLOTS):
        await ballots.cast(session, members[member], campaign.id, [ids[k] for k in picks])
