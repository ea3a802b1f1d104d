"""A campaign's results: computed once after it CLOSED, from the source of truth, by the workers.

`standings` reads the ballots (votes, ballot rows or comparisons of the candidates) and ranks with the pure
rules of `ranking.campaigns`; it writes nothing, so recomputing gives the same ranks. `advance` is what the
job runs: it moves a campaign to the phase its dates say, and when it is CLOSED without results, writes them,
announces the winners (CAMPAIGN_RESULT) and moves each winning idea to PLANNED through the lifecycle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine import campaigns, lifecycle, webhooks
from ideaengine.errors import DomainError
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform.models import (
    BallotKind,
    Board,
    Campaign,
    CampaignBallot,
    CampaignPhase,
    CampaignResult,
    Comparison,
    FreshAccounts,
    Idea,
    IdeaStatus,
    NotificationKind,
    Role,
    User,
    Vote,
    utcnow,
)

log = logging.getLogger("ideaengine.campaigns")


@dataclass(frozen=True)
class Standing:
    idea: Idea
    rank: int
    support: float
    winner: bool
    fresh_support: float | None = None
    "SEPARATE: the same measure from fresh accounts' ballots alone."


async def standings(session: AsyncSession, campaign: Campaign) -> list[Standing]:
    """Every candidate's rank, support and whether it wins, best first. Support: Wilson lower bound (VOTES),
    ballots naming it (APPROVAL, BUDGET) or Bradley-Terry strength (PAIRWISE). Ties go to the earlier
    submission. Only candidates with some support win: an up vote, a ballot, a comparison won; BUDGET funds
    them in rank order while the money lasts, skipping any that no longer fits. Ballots of accounts first seen
    once voting had opened count or not as the campaign's `fresh_accounts` says (`ranking.fresh_split`)."""
    entries = await campaigns.candidates(session, campaign)  # in submission order: the tie-break
    n = len(entries)
    if n == 0:
        return []
    kind = campaign.ballot.value
    first, second, seen = await _ballots(session, campaign, {idea.id: k for k, idea in enumerate(entries)})
    opened = None if campaign.voting_opened_at is None else campaign.voting_opened_at.timestamp()
    counted, apart = ranking.fresh_split(seen, opened, campaign.fresh_accounts.value)
    support, eligible = ranking.ballot_support(kind, n, first[counted], second[counted])
    costs = [np.nan if i.cost is None else i.cost for i in entries]
    order, won = ranking.outcome(kind, support, eligible, campaign.winner_count, costs, campaign.budget or 0.0)
    fresh: list[float | None] = [None] * n
    if campaign.fresh_accounts == FreshAccounts.SEPARATE:
        fresh = ranking.ballot_support(kind, n, first[apart], second[apart])[0].tolist()
    return [
        Standing(entries[k], rank, float(support[k]), bool(won[k]), fresh[k])
        for rank, k in enumerate(order.tolist(), start=1)
    ]


async def _ballots(
    session: AsyncSession, campaign: Campaign, position: dict[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidates' ballots as `ranking.ballot_support` reads them (entry positions in `first`, the vote's
    value or the loser in `second`), with when each voter's account was first seen (seconds since the epoch)."""
    ids = list(position)
    stmt: Select[int, int, datetime]
    if campaign.ballot == BallotKind.VOTES:
        stmt = (
            select(Vote.idea_id, Vote.value, User.created_at)
            .join(User, User.id == Vote.user_id)
            .where(Vote.idea_id.in_(ids))
            .order_by(Vote.id)
        )
    elif campaign.ballot == BallotKind.PAIRWISE:
        stmt = (
            select(Comparison.winner_id, Comparison.loser_id, User.created_at)
            .join(User, User.id == Comparison.voter_id)
            .where(Comparison.winner_id.in_(ids), Comparison.loser_id.in_(ids))
            .order_by(Comparison.id)
        )
    else:
        stmt = (
            select(CampaignBallot.idea_id, literal(0), User.created_at)  # a set ballot has no second
            .join(User, User.id == CampaignBallot.user_id)
            .where(CampaignBallot.campaign_id == campaign.id, CampaignBallot.idea_id.in_(ids))
            .order_by(CampaignBallot.user_id, CampaignBallot.idea_id)
        )
    rows = (await session.execute(stmt)).all()
    pairwise = campaign.ballot == BallotKind.PAIRWISE
    first = np.array([position[a] for a, _, _ in rows], dtype=np.int64)
    second = np.array([position[b] if pairwise else b for _, b, _ in rows], dtype=np.int64)
    seen = np.array([at.timestamp() for _, _, at in rows], dtype=np.float64)
    return first, second, seen


async def advance(session: AsyncSession, campaign_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Move the campaign to the later of its phase and the phase its dates say at `now`; once CLOSED, compute
    its results if it has none. Idempotent: the row lock and `results_at` make a second run do nothing."""
    now = now or utcnow()
    row = (
        await session.execute(
            select(Campaign, Board)
            .join(Board, Board.id == Campaign.board_id)
            .where(Campaign.id == campaign_id)
            .with_for_update(of=Campaign)
        )
    ).first()
    if row is None:
        return {"skipped": "campaign no longer exists"}
    campaign, board = row[0], row[1]
    done: dict[str, Any] = {}
    target = campaigns.later(campaign.phase, campaigns.phase_at(campaigns.Windows.of(campaign), now))
    if target != campaign.phase:
        done["phase"] = f"{campaign.phase.value}->{target.value}"
        await campaigns.move(session, campaign, board, target)
    if campaign.phase == CampaignPhase.CLOSED and campaign.results_at is None:
        done["results"] = await finish(session, campaign, board, now)
    return done


async def finish(session: AsyncSession, campaign: Campaign, board: Board, now: datetime) -> int:
    """Write the results, announce them, and move the winners to PLANNED; returns how many candidates."""
    found = await standings(session, campaign)
    session.add_all(
        [
            CampaignResult(
                campaign_id=campaign.id,
                idea_id=s.idea.id,
                rank=s.rank,
                support=s.support,
                winner=s.winner,
                cost=s.idea.cost,
                fresh_support=s.fresh_support,
            )
            for s in found
        ]
    )
    campaign.results_at = now
    await session.flush()
    winners = [s.idea for s in found if s.winner]
    named = ", ".join(f"“{i.title}”" for i in winners) or "no winner"
    message = f"The campaign “{campaign.title}” has closed. Winners: {named}."
    await campaigns.notify(session, campaign, NotificationKind.CAMPAIGN_RESULT, message, None)
    await webhooks.emit(
        session,
        board,
        webhooks.WebhookEvent.CAMPAIGN_RESULTS,
        {
            "campaign": campaigns.ref(campaign, board),
            "results": [
                {
                    "idea": webhooks.idea_ref(s.idea, board),
                    "rank": s.rank,
                    "support": s.support,
                    "winner": s.winner,
                    "cost": s.idea.cost,
                    "freshSupport": s.fresh_support,
                }
                for s in found
            ],
        },
        about=[],
    )
    await _plan_winners(session, campaign, board, winners)
    return len(found)


PATH_TO_PLANNED = {IdeaStatus.SUBMITTED: IdeaStatus.UNDER_REVIEW, IdeaStatus.UNDER_REVIEW: IdeaStatus.PLANNED}
"The lifecycle's steps a winner takes to PLANNED; one already PLANNED or beyond stays where it is."


async def _plan_winners(session: AsyncSession, campaign: Campaign, board: Board, winners: Sequence[Idea]) -> None:
    """Each winner moves to PLANNED through `lifecycle.change_status` (its followers hear it like any change),
    in the name of the campaign's creator, or else of an admin of the workspace."""
    actor = await _acting_moderator(session, campaign, board)
    if actor is None:
        log.warning("campaign %s: no moderator to move its winners to PLANNED", campaign.id)
        return
    note = f"Won the campaign “{campaign.title}”."
    for idea in winners:
        while (step := PATH_TO_PLANNED.get(idea.status)) is not None:
            try:
                await lifecycle.change_status(session, actor, idea.id, step, note)
            except DomainError as exc:  # refused before writing (an archived board): the results stand
                log.warning("campaign %s: idea %s stays %s: %s", campaign.id, idea.id, idea.status.value, exc)
                break


async def _acting_moderator(session: AsyncSession, campaign: Campaign, board: Board) -> Actor | None:
    staff = (Role.MODERATOR, Role.ADMIN)
    stmt = select(User).where(User.workspace_id == board.workspace_id, User.role.in_(staff), User.erased_at.is_(None))
    creator = None
    if campaign.created_by_id is not None:
        creator = (await session.execute(stmt.where(User.id == campaign.created_by_id))).scalar_one_or_none()
    user = creator or (await session.execute(stmt.where(User.role == Role.ADMIN).order_by(User.id))).scalars().first()
    if user is None:
        return None
    role = ActorRole.ADMIN if user.role == Role.ADMIN else ActorRole.MODERATOR
    return Actor(workspace_id=board.workspace_id, user_id=user.id, role=role)


async def results_many(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, list[CampaignResult]]:
    """Each campaign's stored results, best first (empty until computed); visibility is the idea loader's."""
    out: dict[int, list[CampaignResult]] = {c: [] for c in campaign_ids}
    rows = await session.execute(
        select(CampaignResult)
        .join(Campaign, and_(Campaign.id == CampaignResult.campaign_id, Campaign.phase == CampaignPhase.CLOSED))
        .where(CampaignResult.campaign_id.in_(campaign_ids))
        .order_by(CampaignResult.campaign_id, CampaignResult.rank)
    )
    for result in rows.scalars():
        out[result.campaign_id].append(result)
    return out
