"""Pairwise comparisons: one verdict per voter per pair, and which pair to show next."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine import boards, campaigns, ideas
from ideaengine.errors import invalid
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import (
    SCORED,
    BallotKind,
    Board,
    Campaign,
    CampaignPhase,
    Comparison,
    Idea,
    IdeaScore,
    utcnow,
)
from ideaengine.platform.upsert import insert_for

MATCHUP_ATTEMPTS = 8
"How many draws to try for a pair the voter has not judged yet before showing a repeat."


@dataclass(frozen=True)
class Matchup:
    left: Idea
    right: Idea


async def compare(session: AsyncSession, actor: Actor, winner_id: int, loser_id: int) -> tuple[Idea, Idea]:
    """Record that the actor prefers winner over loser; judging the same pair again replaces the verdict."""
    winner, board = await ideas.get_for_write(session, actor, winner_id, field="winnerId")
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "compare ideas")
    boards.require_active(board, "winnerId")
    if winner_id == loser_id:
        raise invalid("An idea cannot be compared with itself.", "loserId")
    loser, _ = await ideas.get_for_write(session, actor, loser_id, field="loserId")
    if loser.board_id != winner.board_id:
        raise invalid("Both ideas must be on the same board.", "loserId")
    ideas.require_open(winner, "winnerId")
    ideas.require_open(loser, "loserId")
    await campaigns.require_ballot(session, winner, BallotKind.PAIRWISE, "winnerId")
    await campaigns.require_ballot(session, loser, BallotKind.PAIRWISE, "loserId")
    now = utcnow()
    low, high = sorted((winner.id, loser.id))
    stmt = insert_for(session, Comparison).values(
        board_id=board.id,
        winner_id=winner.id,
        loser_id=loser.id,
        low_id=low,
        high_id=high,
        voter_id=user_id,
        created_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["voter_id", "low_id", "high_id"],
            set_={"winner_id": winner.id, "loser_id": loser.id, "created_at": now},
        )
    )
    await boards.changed(session, board.id, winner.id, at=now)
    return winner, loser


async def comparison_counts(session: AsyncSession, board_id: int) -> dict[int, int]:
    sides = union_all(
        select(Comparison.winner_id.label("idea_id")).where(Comparison.board_id == board_id),
        select(Comparison.loser_id.label("idea_id")).where(Comparison.board_id == board_id),
    ).subquery()
    rows = await session.execute(select(sides.c.idea_id, func.count()).group_by(sides.c.idea_id))
    return {idea_id: int(n) for idea_id, n in rows}


async def next_matchup(
    session: AsyncSession,
    actor: Actor,
    board: Board,
    rng: random.Random | None = None,
    campaign: Campaign | None = None,
) -> Matchup | None:
    """Two open ideas to compare: under-compared ideas first, then close and uncertain pairs; none on an
    archived board (it takes no comparisons). With a campaign of the board, two of its candidates, and only
    while it is VOTING (none otherwise)."""
    if not boards.can_read(actor, board) or board.archived_at is not None:
        return None
    if campaign is not None and (campaign.board_id != board.id or campaign.phase != CampaignPhase.VOTING):
        return None
    candidates = await (
        ideas.open_ideas(session, board.id) if campaign is None else campaigns.candidates(session, campaign)
    )
    if len(candidates) < 2:
        return None
    ids = [i.id for i in candidates]
    scores = {
        s.idea_id: s
        for s in (await session.execute(select(IdeaScore).where(IdeaScore.idea_id.in_(ids), SCORED))).scalars()
    }
    counts = await comparison_counts(session, board.id)
    strength = np.array([scores[i].bradley_terry if i in scores else 0.0 for i in ids])
    stderr = np.array([_stderr(scores.get(i)) for i in ids])
    compared = np.array([counts.get(i, 0) for i in ids])
    judged: set[tuple[int, int]] = set()
    if actor.user_id is not None and actor.is_member_of(board.workspace_id):
        judged = {
            (lo, hi)
            for lo, hi in (
                await session.execute(
                    select(Comparison.low_id, Comparison.high_id).where(
                        Comparison.board_id == board.id, Comparison.voter_id == actor.user_id
                    )
                )
            )
        }
    generator = np.random.default_rng((rng or random).getrandbits(64))
    pair = None
    for _ in range(MATCHUP_ATTEMPTS):
        a, b = ranking.next_pair(strength, stderr, compared, rng=generator)
        pair = (candidates[a], candidates[b])
        if tuple(sorted((pair[0].id, pair[1].id))) not in judged:
            break
    assert pair is not None
    return Matchup(*pair)


def _stderr(score: IdeaScore | None) -> float:
    if score is None:
        return float(np.sqrt(1 / (2 * ranking.BT_ALPHA)))  # never compared: the prior's width
    return max((score.bt_high - score.bt_low) / (2 * ranking.Z95), 0.0)
