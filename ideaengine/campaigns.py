"""Campaigns: time-boxed contests on a board, their phases, entries, finalists and costs.

A campaign moves SCHEDULED -> SUBMISSION -> SHORTLIST -> VOTING -> CLOSED and never back. Where it should be
at a time is `phase_at`, a pure function of its windows; the workers (`workers.campaigns.advance_campaign`,
found by the periodic sweep) move it there, and moderators may move it on sooner. Ballots and results are in
`ideaengine.ballots` and `ideaengine.campaign_results`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, func, literal, or_, select, union
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, mail, validation, visibility, webhooks
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform import events, jobs
from ideaengine.platform.ids import global_id
from ideaengine.platform.models import (
    BallotKind,
    Board,
    Campaign,
    CampaignPhase,
    Follow,
    FreshAccounts,
    Idea,
    IdeaStatus,
    Notification,
    NotificationKind,
    open_idea_clause,
    utcnow,
)
from ideaengine.platform.queries import Page, SortKey, Window, lock_in_order, pages

ADVANCE = "workers.campaigns.advance_campaign"
"The job that moves a campaign to the phase its dates say and computes its results once CLOSED."
PHASES = tuple(CampaignPhase)
"In order: a campaign only ever moves to a later one."
P = CampaignPhase
PHRASES = {
    P.SCHEDULED: "scheduled",
    P.SUBMISSION: "open for entries",
    P.SHORTLIST: "choosing its finalists",
    P.VOTING: "open for voting",
    P.CLOSED: "closed",
}
CURRENCY = re.compile(r"[A-Z]{3}")
FINALISTS_MAX = 100
"Most finalists a campaign may have (a bound on what one request makes the database read)."
ORDER = (SortKey(Campaign.created_at, descending=True), SortKey(Campaign.id, descending=True))
"Newest first."


def later(a: CampaignPhase, b: CampaignPhase) -> CampaignPhase:
    return a if PHASES.index(a) >= PHASES.index(b) else b


@dataclass(frozen=True)
class Windows:
    """A campaign's dates; None leaves that move to a moderator."""

    submission_starts_at: datetime | None = None
    submission_ends_at: datetime | None = None
    voting_starts_at: datetime | None = None
    voting_ends_at: datetime | None = None

    @classmethod
    def of(cls, campaign: Campaign) -> Windows:
        return cls(
            campaign.submission_starts_at,
            campaign.submission_ends_at,
            campaign.voting_starts_at,
            campaign.voting_ends_at,
        )


FIELDS = (
    ("submission_starts_at", "submissionStartsAt", P.SUBMISSION),
    ("submission_ends_at", "submissionEndsAt", P.SHORTLIST),
    ("voting_starts_at", "votingStartsAt", P.VOTING),
    ("voting_ends_at", "votingEndsAt", P.CLOSED),
)
"Each date, its input field, and the phase a campaign is in from that date on."


def phase_at(windows: Windows, t: datetime) -> CampaignPhase:
    """The phase the dates put a campaign in at `t`: the phase of the latest date passed (SCHEDULED before any).
    Pure: the workers move a campaign to the later of this and the phase it has."""
    phase = P.SCHEDULED
    for attribute, _, starts in FIELDS:
        at = getattr(windows, attribute)
        if at is not None and at <= t:
            phase = later(phase, starts)
    return phase


def check_windows(windows: Windows) -> None:
    """Dates given must come in order: submission opens, closes, voting opens, closes (INVALID on the later)."""
    given = [(getattr(windows, attribute), name) for attribute, name, _ in FIELDS]
    for at, name in given:
        if at is None:
            continue
        if at.tzinfo is None:
            raise invalid(f"{name} needs a time zone offset, e.g. 2027-03-01T09:00:00Z.", name)
        try:
            at.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first instant Python can hold in UTC
            raise invalid(f"{name} is out of range.", name) from None
    for n, (at, name) in enumerate(given):
        for before, before_name in given[:n]:
            if at is not None and before is not None and at < before:
                raise invalid(f"{name} must not be before {before_name}.", name)
    if windows.submission_starts_at is not None and windows.submission_ends_at == windows.submission_starts_at:
        raise invalid(
            "The submission window must not be empty: submissionEndsAt after submissionStartsAt.", FIELDS[1][1]
        )
    if windows.voting_starts_at is not None and windows.voting_ends_at == windows.voting_starts_at:
        raise invalid("The voting window must not be empty: votingEndsAt after votingStartsAt.", FIELDS[3][1])


def voting_opened(windows: Windows, now: datetime) -> datetime:
    """When voting opened for a campaign entering VOTING (or beyond) at `now`: its votingStartsAt if that has
    passed (the workers move it up to a sweep later), else now (a moderator moved it on early). Accounts first
    seen from then on are fresh (`Campaign.fresh_accounts`)."""
    at = windows.voting_starts_at
    return at if at is not None and at <= now else now


def money(value: float | None, field: str, label: str) -> float | None:
    """A budget or cost: finite and not negative (INVALID on `field`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise invalid(f"{label} must be a finite amount of at least 0.", field)
    return float(value)


def _title(value: str) -> str:
    return validation.text(value, "title", min_len=1, max_len=validation.NAME_MAX, label="A title")


def _description(value: str) -> str:
    return validation.text(value, "description", max_len=validation.DESCRIPTION_MAX, label="A description")


async def create(
    session: AsyncSession,
    actor: Actor,
    board_id: int,
    title: str,
    description: str = "",
    ballot: BallotKind = BallotKind.VOTES,
    windows: Windows = Windows(),
    max_choices: int | None = None,
    budget: float | None = None,
    currency: str | None = None,
    winner_count: int = 1,
    fresh_accounts: FreshAccounts = FreshAccounts.COUNT,
) -> Campaign:
    """Moderators and admins of the board's workspace. It starts in the phase its dates put it in now (no one
    has entered it yet, so no one is told); the workers move it on from there."""
    board = await boards.require_visible(session, actor, board_id)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "create campaigns")
    boards.require_active(board, "boardId")
    title, description = _title(title), _description(description)
    check_windows(windows)
    if max_choices is not None and max_choices < 1:
        raise invalid("maxChoices must be at least 1.", "maxChoices")
    if winner_count < 1:
        raise invalid("winnerCount must be at least 1.", "winnerCount")
    budget = money(budget, "budget", "A budget")
    if ballot == BallotKind.BUDGET and budget is None:
        raise invalid("A BUDGET campaign needs a budget.", "budget")
    if currency is not None and not CURRENCY.fullmatch(currency):
        raise invalid("A currency is a three-letter ISO 4217 code in capitals, e.g. EUR.", "currency")
    now = utcnow()
    phase = phase_at(windows, now)
    campaign = Campaign(
        board_id=board.id,
        title=title,
        description=description,
        phase=phase,
        ballot=ballot,
        max_choices=max_choices,
        budget=budget,
        currency=currency,
        winner_count=winner_count,
        fresh_accounts=fresh_accounts,
        voting_opened_at=voting_opened(windows, now) if PHASES.index(phase) >= PHASES.index(P.VOTING) else None,
        created_by_id=user_id,
        created_at=now,
        phase_changed_at=now,
        **{attribute: getattr(windows, attribute) for attribute, _, _ in FIELDS},
    )
    session.add(campaign)
    await session.flush()
    jobs.after_commit(session, ADVANCE, campaign.id)  # created already CLOSED: its (empty) results
    return campaign


async def update(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    *,
    title: str | None = None,
    description: str | None = None,
    phase: CampaignPhase | None = None,
    dates: Mapping[str, datetime | None] | None = None,
    fresh_accounts: FreshAccounts | None = None,
) -> Campaign:
    """Moderators and admins: text and dates (None leaves a field as it is; `dates` maps the attributes it
    changes, a None value clears that date), and `phase` moves it on by hand: never backward
    (INVALID_TRANSITION). Dates alone never move it back either; a date now passed moves it on within a
    sweep (a job is queued at once). `fresh_accounts` may change until the campaign is CLOSED (WRONG_PHASE
    then: its results are being or were computed), e.g. when a brigade shows up during the vote."""
    campaign, board = await get_for_write(session, actor, campaign_id, lock=True)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "edit campaigns")
    boards.require_active(board, "campaignId")
    new_title = campaign.title if title is None else _title(title)
    new_description = campaign.description if description is None else _description(description)
    windows = replace(Windows.of(campaign), **(dates or {}))
    check_windows(windows)
    if phase is not None and PHASES.index(phase) < PHASES.index(campaign.phase):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"A campaign never moves backward: it is {campaign.phase.value}, not before {phase.value}.",
            "phase",
        )
    if fresh_accounts is not None and fresh_accounts != campaign.fresh_accounts and campaign.phase == P.CLOSED:
        raise DomainError(
            ErrorCode.WRONG_PHASE,
            "The campaign is closed: its results count the ballots as they were set to.",
            "freshAccounts",
        )
    campaign.title, campaign.description = new_title, new_description
    if fresh_accounts is not None:
        campaign.fresh_accounts = fresh_accounts
    for attribute, _, _ in FIELDS:
        setattr(campaign, attribute, getattr(windows, attribute))
    if phase is not None and phase != campaign.phase:
        await move(session, campaign, board, phase, user_id)
    await session.flush()
    jobs.after_commit(session, ADVANCE, campaign.id)
    return campaign


async def move(
    session: AsyncSession,
    campaign: Campaign,
    board: Board,
    to: CampaignPhase,
    actor_id: int | None = None,
) -> None:
    """Move the campaign on (the caller checked it is forward): entrants and followers of its entries are told
    (CAMPAIGN_PHASE_CHANGED; not the moderator who moved it), and it is a board event and a webhook. Leaving
    VOTING queues the results (`ADVANCE`)."""
    previous, now = campaign.phase, utcnow()
    campaign.phase, campaign.phase_changed_at = to, now
    if campaign.voting_opened_at is None and PHASES.index(to) >= PHASES.index(P.VOTING):
        campaign.voting_opened_at = voting_opened(Windows.of(campaign), now)
    await session.flush()
    message = f"The campaign “{campaign.title}” is now {PHRASES[to]}."
    await notify(session, campaign, NotificationKind.CAMPAIGN_PHASE_CHANGED, message, actor_id)
    changed = {"campaignId": campaign.id, "from": previous.value, "to": to.value}
    events.board_event(session, board.id, events.CAMPAIGN_PHASE_CHANGED, now, **changed)
    await webhooks.emit(
        session,
        board,
        webhooks.WebhookEvent.CAMPAIGN_PHASE_CHANGED,
        {"campaign": ref(campaign, board), "from": previous.value, "to": to.value},
        about=[],
    )
    if to == P.CLOSED:
        jobs.after_commit(session, ADVANCE, campaign.id)


def ref(campaign: Campaign, board: Board) -> dict[str, Any]:
    """How webhooks name a campaign."""
    return {
        "id": global_id("Campaign", campaign.id),
        "title": campaign.title,
        "phase": campaign.phase.value,
        "ballot": campaign.ballot.value,
        "board": {"id": global_id("Board", board.id), "slug": board.slug},
    }


async def notify(
    session: AsyncSession, campaign: Campaign, kind: NotificationKind, message: str, skip_user: int | None
) -> None:
    """One notification per entrant and follower of an entry (but `skip_user`), about their own entry or the
    entry they follow (the lowest id if several): notifications are about an idea. One INSERT ... SELECT in
    the caller's transaction (DECISIONS.md 11), with their emails (`mail.queue`)."""
    entry = and_(Idea.campaign_id == campaign.id, Idea.status != IdeaStatus.MERGED)
    pairs = union(
        select(Follow.user_id.label("user_id"), Follow.idea_id.label("idea_id"))
        .join(Idea, Idea.id == Follow.idea_id)
        .where(entry),
        select(Idea.author_id.label("user_id"), Idea.id.label("idea_id")).where(entry, Idea.author_id.is_not(None)),
    ).subquery()
    rows = select(
        pairs.c.user_id,
        func.min(pairs.c.idea_id),
        literal(kind.value),
        literal(message),
        literal(False),
        literal(utcnow(), type_=Notification.created_at.type),
    ).group_by(pairs.c.user_id)
    if skip_user is not None:
        rows = rows.where(pairs.c.user_id != skip_user)
    written = await session.execute(
        Notification.__table__.insert()  # type: ignore[attr-defined]
        .from_select(["user_id", "idea_id", "kind", "message", "read", "created_at"], rows)
        .returning(Notification.id)
    )
    await mail.queue(session, list(written.scalars()))


async def get_for_write(
    session: AsyncSession, actor: Actor, campaign_id: int, *, lock: bool = False, field: str = "campaignId"
) -> tuple[Campaign, Board]:
    """A campaign the actor can see, with its board (NOT_FOUND on `field` otherwise); `lock` takes its row lock."""
    stmt = (
        select(Campaign, Board)
        .join(Board, Board.id == Campaign.board_id)
        .where(Campaign.id == campaign_id, boards.visible_to(actor))
    )
    if lock:
        stmt = stmt.with_for_update(of=Campaign)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise not_found("No such campaign.", field)
    return row[0], row[1]


async def get_visible_many(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Campaign]:
    """Campaigns are as visible as their boards."""
    rows = await session.execute(
        select(Campaign)
        .join(Board, Board.id == Campaign.board_id)
        .where(Campaign.id.in_(ids), boards.visible_to(actor))
    )
    return {c.id: c for c in rows.scalars()}


async def list_many(
    session: AsyncSession,
    actor: Actor,
    board_ids: Sequence[int],
    phases: Sequence[CampaignPhase] | None,
    window: Window,
) -> dict[int, Page[Campaign]]:
    """One window of each visible board's campaigns, newest first, in `phases` if given."""
    stmt = select(Campaign).join(Board, Board.id == Campaign.board_id).where(boards.visible_to(actor))
    if phases is not None:
        stmt = stmt.where(Campaign.phase.in_(list(phases)))
    return await pages(session, stmt, Campaign.board_id, board_ids, ORDER, window)


async def entry_for(session: AsyncSession, actor: Actor, campaign_id: int, board: Board) -> Campaign:
    """The campaign a new idea on `board` enters: on the same board (INVALID) and in SUBMISSION (WRONG_PHASE)."""
    campaign = (await get_visible_many(session, actor, [campaign_id])).get(campaign_id)
    if campaign is None:
        raise not_found("No such campaign.", "campaignId")
    if campaign.board_id != board.id:
        raise invalid("This campaign is on another board: enter it on its own board.", "campaignId")
    if campaign.phase != P.SUBMISSION:
        raise DomainError(
            ErrorCode.WRONG_PHASE,
            f"The campaign “{campaign.title}” takes entries only while open for entries; "
            f"it is {PHRASES[campaign.phase]}.",
            "campaignId",
        )
    return campaign


async def has_finalists(session: AsyncSession, campaign_id: int) -> bool:
    found = await session.execute(select(exists().where(Idea.campaign_id == campaign_id, Idea.finalist.is_(True))))
    return bool(found.scalar())


async def require_ballot(session: AsyncSession, idea: Idea, ballot: BallotKind, field: str) -> None:
    """An entry of a campaign whose ballot is `ballot` (VOTES: votes; PAIRWISE: comparisons) takes it only in
    VOTING (WRONG_PHASE), and only as a finalist when the campaign has finalists (NOT_A_FINALIST). Ideas of no
    such campaign are not concerned: one statement more, and only for campaign entries."""
    if idea.campaign_id is None:
        return
    campaign = await session.get(Campaign, idea.campaign_id)
    if campaign is None or campaign.ballot != ballot:
        return
    if campaign.phase != P.VOTING:
        raise DomainError(
            ErrorCode.WRONG_PHASE,
            f"This idea is an entry of “{campaign.title}”, which takes ballots only while open for voting; "
            f"it is {PHRASES[campaign.phase]}.",
            field,
        )
    if not idea.finalist and await has_finalists(session, campaign.id):
        raise DomainError(ErrorCode.NOT_A_FINALIST, f"This idea is not a finalist of “{campaign.title}”.", field)


async def set_finalists(session: AsyncSession, actor: Actor, campaign_id: int, idea_ids: Sequence[int]) -> Campaign:
    """Moderators and admins, in SHORTLIST only (WRONG_PHASE): the ideas given become the finalists, every other
    entry stops being one; an empty list clears them (VOTING then offers every entry)."""
    campaign, board = await get_for_write(session, actor, campaign_id, lock=True)
    await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "pick finalists")
    boards.require_active(board, "campaignId")
    if campaign.phase != P.SHORTLIST:
        raise DomainError(
            ErrorCode.WRONG_PHASE,
            f"Finalists are picked while the campaign is choosing them; it is {PHRASES[campaign.phase]}.",
            "campaignId",
        )
    chosen = set(idea_ids)
    if len(chosen) > FINALISTS_MAX:
        raise invalid(f"A campaign has at most {FINALISTS_MAX} finalists.", "ideaIds")
    entries = set(
        (
            await session.execute(
                select(Idea.id).where(
                    Idea.id.in_(chosen), Idea.campaign_id == campaign.id, Idea.status != IdeaStatus.MERGED
                )
            )
        ).scalars()
    )
    if chosen - entries:
        raise DomainError(ErrorCode.NOT_IN_CAMPAIGN, "Finalists must be entries of this campaign.", "ideaIds")
    await lock_in_order(session, Idea.id, Idea.campaign_id == campaign.id)
    await session.execute(
        sql_update(Idea)
        .where(Idea.campaign_id == campaign.id)
        .values(finalist=Idea.id.in_(chosen) if chosen else False)
    )
    await session.flush()
    return campaign


async def set_cost(session: AsyncSession, actor: Actor, idea_id: int, cost: float | None) -> Idea:
    """Moderators and admins set the cost of an entry of a BUDGET campaign (INVALID otherwise), before VOTING
    (WRONG_PHASE: ballots already cast were checked against the costs they saw); None clears it."""
    row = (
        await session.execute(
            select(Idea, Board)
            .join(Board, Board.id == Idea.board_id)
            .where(Idea.id == idea_id, visibility.ideas_clause(actor))
            .with_for_update(of=Idea)
        )
    ).first()
    if row is None:
        raise not_found("No such idea.", "ideaId")
    idea, board = row[0], row[1]
    await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "set costs")
    boards.require_active(board, "ideaId")
    value = money(cost, "cost", "A cost")
    campaign = None if idea.campaign_id is None else await session.get(Campaign, idea.campaign_id)
    if campaign is None or campaign.ballot != BallotKind.BUDGET:
        raise invalid("Only entries of a BUDGET campaign have a cost.", "ideaId")
    if PHASES.index(campaign.phase) >= PHASES.index(P.VOTING):
        raise DomainError(
            ErrorCode.WRONG_PHASE,
            f"Costs are set before voting; “{campaign.title}” is {PHRASES[campaign.phase]}.",
            "ideaId",
        )
    idea.cost = value
    await session.flush()
    return idea


def _due(now: datetime) -> Any:
    """Campaigns whose dates say they should be in a later phase than they are, or CLOSED without results."""
    before = (
        (Campaign.submission_starts_at, (P.SCHEDULED,)),
        (Campaign.submission_ends_at, (P.SCHEDULED, P.SUBMISSION)),
        (Campaign.voting_starts_at, (P.SCHEDULED, P.SUBMISSION, P.SHORTLIST)),
        (Campaign.voting_ends_at, (P.SCHEDULED, P.SUBMISSION, P.SHORTLIST, P.VOTING)),
    )
    late = [and_(at <= now, Campaign.phase.in_(list(phases))) for at, phases in before]
    return and_(Campaign.results_at.is_(None), or_(Campaign.phase == P.CLOSED, *late))


async def due(session: AsyncSession, now: datetime, limit: int = 1000) -> list[int]:
    """What the sweep hands to `ADVANCE`: ids of campaigns to move on, or to compute the results of."""
    rows = await session.execute(select(Campaign.id).where(_due(now)).order_by(Campaign.id).limit(limit))
    return list(rows.scalars())


async def candidates(session: AsyncSession, campaign: Campaign) -> list[Idea]:
    """What VOTING offers and results rank: the finalists if any were picked, else every entry; open and
    published ones only, in submission order (the tie-break of results)."""
    stmt = select(Idea).where(Idea.campaign_id == campaign.id, open_idea_clause())
    if await has_finalists(session, campaign.id):
        stmt = stmt.where(Idea.finalist.is_(True))
    return list((await session.execute(stmt.order_by(Idea.created_at, Idea.id))).scalars())
