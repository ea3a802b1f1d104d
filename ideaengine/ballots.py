"""Ballots of APPROVAL and BUDGET campaigns: a voter's set of entries, replaced whole by castBallot.

VOTES and PAIRWISE campaigns have no ballot rows: their ballots are the ordinary votes and comparisons on
the entries, which `campaigns.require_ballot` holds to the same phase and finalist rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, campaigns, visibility
from ideaengine.errors import DomainError, ErrorCode, invalid
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import (
    BallotKind,
    Board,
    Campaign,
    CampaignBallot,
    CampaignPhase,
    Idea,
    utcnow,
)

FIELD = "ideaIds"
BALLOT_MAX = 100
"Most ideas one ballot may name, whatever maxChoices says: a bound on what one request makes the database read."
SET_BALLOTS = (BallotKind.APPROVAL, BallotKind.BUDGET)
"The kinds whose voters cast a set of ideas with castBallot."


async def cast(session: AsyncSession, actor: Actor, campaign_id: int, idea_ids: Sequence[int]) -> Campaign:
    """Members and above replace their whole ballot (an empty list withdraws it). Refused whole, naming the
    rule: not a set ballot (INVALID), not VOTING (WRONG_PHASE), an idea not a candidate (NOT_IN_CAMPAIGN,
    NOT_A_FINALIST), more than maxChoices (TOO_MANY_CHOICES), costs over the budget or not yet set (OVER_BUDGET,
    INVALID)."""
    campaign, board = await campaigns.get_for_write(session, actor, campaign_id, lock=True)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "vote")
    boards.require_active(board, "campaignId")
    if campaign.ballot not in SET_BALLOTS:
        how = "vote on its ideas" if campaign.ballot == BallotKind.VOTES else "compare its ideas"
        raise invalid(f"This is a {campaign.ballot.value} campaign: {how} instead of casting a ballot.", "campaignId")
    if campaign.phase != CampaignPhase.VOTING:
        raise DomainError(
            ErrorCode.WRONG_PHASE,
            f"Ballots are cast while the campaign is open for voting; it is {campaigns.PHRASES[campaign.phase]}.",
            "campaignId",
        )
    chosen = list(dict.fromkeys(idea_ids))
    limit = min(campaign.max_choices or BALLOT_MAX, BALLOT_MAX)
    if len(chosen) > limit:
        raise DomainError(
            ErrorCode.TOO_MANY_CHOICES,
            f"Too many choices: a ballot names at most {limit} ideas, this one {len(chosen)}.",
            FIELD,
        )
    picked = await _candidates(session, actor, campaign, board, chosen)
    if campaign.ballot == BallotKind.BUDGET:
        _within_budget(campaign, picked)
    await session.execute(
        delete(CampaignBallot).where(CampaignBallot.campaign_id == campaign.id, CampaignBallot.user_id == user_id)
    )
    now = utcnow()
    session.add_all(
        [CampaignBallot(campaign_id=campaign.id, user_id=user_id, idea_id=i.id, created_at=now) for i in picked]
    )
    await session.flush()
    return campaign


async def _candidates(
    session: AsyncSession, actor: Actor, campaign: Campaign, board: Board, chosen: list[int]
) -> list[Idea]:
    """The chosen ideas, each a candidate of the campaign (an idea the actor cannot see is not one either)."""
    if not chosen:
        return []
    found = {
        i.id: i
        for i in (
            await session.execute(
                select(Idea)
                .join(Board, Board.id == Idea.board_id)
                .where(Idea.id.in_(chosen), visibility.ideas_clause(actor))
            )
        ).scalars()
    }
    offered = {i.id for i in await campaigns.candidates(session, campaign)}
    for idea_id in chosen:
        idea = found.get(idea_id)
        if idea is None or idea.campaign_id != campaign.id:
            raise DomainError(ErrorCode.NOT_IN_CAMPAIGN, "An idea on the ballot is not in this campaign.", FIELD)
        if idea_id not in offered:
            if not idea.finalist and await campaigns.has_finalists(session, campaign.id):
                raise DomainError(ErrorCode.NOT_A_FINALIST, f"“{idea.title}” is not a finalist.", FIELD)
            raise invalid(f"“{idea.title}” no longer takes votes.", FIELD)
    return [found[i] for i in chosen]


def _within_budget(campaign: Campaign, picked: list[Idea]) -> None:
    uncosted = [i for i in picked if i.cost is None]
    if uncosted:
        raise invalid(f"“{uncosted[0].title}” has no cost yet, so it cannot be funded.", FIELD)
    total = sum(i.cost or 0.0 for i in picked)
    budget = campaign.budget or 0.0
    if total > budget:
        unit = f" {campaign.currency}" if campaign.currency else ""
        raise DomainError(
            ErrorCode.OVER_BUDGET,
            f"Over budget: the ideas on this ballot cost {total:g}{unit}, the budget is {budget:g}{unit}.",
            FIELD,
        )


async def viewer_ballots(session: AsyncSession, user_id: int, campaign_ids: Sequence[int]) -> dict[int, list[int]]:
    """The ideas on one user's ballot in each campaign, in the order of their ids."""
    out: dict[int, list[int]] = {c: [] for c in campaign_ids}
    rows = await session.execute(
        select(CampaignBallot.campaign_id, CampaignBallot.idea_id)
        .where(CampaignBallot.user_id == user_id, CampaignBallot.campaign_id.in_(campaign_ids))
        .order_by(CampaignBallot.campaign_id, CampaignBallot.idea_id)
    )
    for campaign_id, idea_id in rows:
        out.setdefault(campaign_id or 0, []).append(idea_id)
    return out


async def finalists_many(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each campaign's finalists (ids, in submission order); visibility is the idea loader's."""
    out: dict[int, list[int]] = {c: [] for c in campaign_ids}
    rows = await session.execute(
        select(Idea.campaign_id, Idea.id)
        .where(Idea.campaign_id.in_(campaign_ids), Idea.finalist.is_(True))
        .order_by(Idea.created_at, Idea.id)
    )
    for campaign_id, idea_id in rows:
        out.setdefault(campaign_id or 0, []).append(idea_id)
    return out
