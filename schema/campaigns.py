"""Campaigns: the Campaign type, Board.campaigns, and createCampaign, updateCampaign, setFinalists,
setIdeaCost and castBallot."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from ideaengine import ballots, campaigns
from ideaengine import ideas as idea_service
from ideaengine.platform.models import BallotKind as BallotKindModel
from ideaengine.platform.models import Board, Campaign, CampaignResult
from ideaengine.platform.models import FreshAccounts as FreshAccountsModel
from schema import relay
from schema.context import Info
from schema.enums import BallotKind, CampaignPhase, FreshAccounts, IdeaSort
from schema.errors import DomainErrors, UserError
from schema.ideas import IdeaConnection, IdeaNode, idea_connection

if TYPE_CHECKING:
    from schema.boards import BoardNode


@strawberry.type(name="Campaign", description="A time-boxed contest on a board: entries, finalists, ballots, results.")
class CampaignNode(relay.Node):
    model: strawberry.Private[Campaign]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return relay.encode_id("Campaign", self.model.id)

    @strawberry.field
    async def board(self, info: Info) -> Annotated[BoardNode, strawberry.lazy("schema.boards")]:
        from schema.boards import BoardNode

        board = await info.context.loaders.board.load(self.model.board_id)
        assert board is not None  # the campaign was loaded through its board's visibility
        return BoardNode(model=board)

    @strawberry.field(description="1-200 characters.")
    def title(self) -> str:
        return self.model.title

    @strawberry.field(description="Up to 5,000 characters; may be empty.")
    def description(self) -> str:
        return self.model.description

    @strawberry.field(description="Where the campaign is now; it only ever moves forward.")
    def phase(self) -> CampaignPhase:
        return self.model.phase

    @strawberry.field(description="When it moves to SUBMISSION by itself; null: a moderator moves it.")
    def submission_starts_at(self) -> datetime | None:
        return self.model.submission_starts_at

    @strawberry.field(description="When it moves to SHORTLIST by itself; null: a moderator moves it.")
    def submission_ends_at(self) -> datetime | None:
        return self.model.submission_ends_at

    @strawberry.field(description="When it moves to VOTING by itself; null: a moderator moves it.")
    def voting_starts_at(self) -> datetime | None:
        return self.model.voting_starts_at

    @strawberry.field(description="When it moves to CLOSED by itself (then the results are computed).")
    def voting_ends_at(self) -> datetime | None:
        return self.model.voting_ends_at

    @strawberry.field(description="How voters choose.")
    def ballot(self) -> BallotKind:
        return self.model.ballot

    @strawberry.field(description="APPROVAL: how many ideas a voter may pick; null: no limit.")
    def max_choices(self) -> int | None:
        return self.model.max_choices

    @strawberry.field(description="BUDGET: the money to be spent; each voter's ballot may spend up to it.")
    def budget(self) -> float | None:
        return self.model.budget

    @strawberry.field(description="The budget's and costs' ISO 4217 code, e.g. EUR; null when not said.")
    def currency(self) -> str | None:
        return self.model.currency

    @strawberry.field(description="How many ideas win under VOTES, APPROVAL and PAIRWISE.")
    def winner_count(self) -> int:
        return self.model.winner_count

    @strawberry.field(description="Whether ballots from accounts first seen once voting opened count in the results.")
    def fresh_accounts(self) -> FreshAccounts:
        return self.model.fresh_accounts

    @strawberry.field(
        description="When voting opened (votingStartsAt, or when a moderator moved it on earlier); null before. "
        "Accounts first seen from then on are fresh (freshAccounts)."
    )
    def voting_opened_at(self) -> datetime | None:
        return self.model.voting_opened_at

    @strawberry.field(
        description="The campaign's entries, in any order of Board.ideas (the same listing, kept to this campaign)."
    )
    async def ideas(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        sort: IdeaSort | None = idea_service.IdeaSort.TOP,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> IdeaConnection:
        order = sort or idea_service.IdeaSort.TOP
        criteria = idea_service.IdeaFilter(campaign_id=self.model.id)
        scope = relay.scope("Campaign.ideas", self.model.id, order)
        window = relay.window(info, scope, idea_service.sort_keys(order), first, after, last, before)
        page = await relay.load_page(info.context.loaders.board_ideas, (self.model.board_id, (order, criteria, window)))
        return await idea_connection(info, scope, window, page)

    @strawberry.field(description="The entries picked in SHORTLIST, in submission order; empty: every entry competes.")
    async def finalists(self, info: Info) -> list[IdeaNode]:
        ids = await info.context.loaders.campaign_finalists.load(self.model.id)
        return [IdeaNode(model=i) for i in await info.context.loaders.idea.load_many(ids) if i is not None]

    @strawberry.field(description="Empty until CLOSED and computed (within a minute of closing); best first.")
    async def results(self, info: Info) -> list[CampaignResultType]:
        rows = await info.context.loaders.campaign_results.load(self.model.id)
        loaded = await info.context.loaders.idea.load_many([r.idea_id for r in rows])
        return [CampaignResultType(model=r, idea=IdeaNode(model=i)) for r, i in zip(rows, loaded, strict=True) if i]

    @strawberry.field(description="The ideas on the viewer's ballot (APPROVAL, BUDGET); empty when anonymous.")
    async def viewer_ballot(self, info: Info) -> list[IdeaNode]:
        ids = await info.context.loaders.viewer_ballot.load(self.model.id)
        return [IdeaNode(model=i) for i in await info.context.loaders.idea.load_many(ids) if i is not None]


@strawberry.type(name="CampaignResult", description="One candidate's final standing in a closed campaign.")
class CampaignResultType:
    model: strawberry.Private[CampaignResult]
    idea: IdeaNode

    @strawberry.field(description="1-based; ties went to the earlier submission.")
    def rank(self) -> int:
        return self.model.rank

    @strawberry.field(
        description="The measure the ballot ranks by: Wilson lower bound, approvals, ballots, or Bradley-Terry "
        "strength."
    )
    def support(self) -> float:
        return self.model.support

    @strawberry.field(
        description="Won (VOTES, APPROVAL, PAIRWISE: among the winnerCount best with any support) or funded "
        "(BUDGET); winners moved to PLANNED."
    )
    def winner(self) -> bool:
        return self.model.winner

    @strawberry.field(description="BUDGET: the idea's cost; winners are funded in rank order while the budget lasts.")
    def cost(self) -> float | None:
        return self.model.cost

    @strawberry.field(
        description="freshAccounts SEPARATE: the same measure as support from fresh accounts' ballots alone, which "
        "support and the ranks leave out; null otherwise."
    )
    def fresh_support(self) -> float | None:
        return self.model.fresh_support


@strawberry.type(name="CampaignConnection")
class CampaignConnection(relay.Connection[CampaignNode]):
    pass


async def board_campaigns(
    info: Info,
    board: Board,
    first: int | None,
    after: str | None,
    phases: list[Any] | None,
    last: int | None,
    before: str | None,
) -> CampaignConnection:
    chosen = None if phases is None else tuple(sorted(set(phases), key=campaigns.PHASES.index))
    scope = relay.scope("Board.campaigns", board.id, chosen)
    window = relay.window(info, scope, campaigns.ORDER, first, after, last, before)
    page = await relay.load_page(info.context.loaders.campaign_pages, (board.id, (chosen, window)))
    return relay.connection(CampaignConnection, scope, window, page, lambda row: CampaignNode(model=row))


async def load_campaign(info: Info, campaign_id: int | None) -> CampaignNode | None:
    if campaign_id is None:
        return None
    campaign = await info.context.loaders.campaign.load(campaign_id)
    return None if campaign is None else CampaignNode(model=campaign)


@strawberry.input
class CreateCampaignInput:
    board_id: strawberry.ID
    title: str = strawberry.field(description="1-200 characters after trimming.")
    description: str | None = strawberry.field(default="", description="Up to 5,000 characters.")
    ballot: BallotKind | None = strawberry.field(default=BallotKindModel.VOTES)
    submission_starts_at: datetime | None = strawberry.field(
        default=None, description="With a time zone offset; the dates, where given, must be in order."
    )
    submission_ends_at: datetime | None = None
    voting_starts_at: datetime | None = None
    voting_ends_at: datetime | None = None
    max_choices: int | None = strawberry.field(default=None, description="APPROVAL: at least 1; null: no limit.")
    budget: float | None = strawberry.field(default=None, description="BUDGET (required there): at least 0.")
    currency: str | None = strawberry.field(default=None, description="ISO 4217 code in capitals, e.g. EUR.")
    winner_count: int | None = strawberry.field(default=1, description="At least 1.")
    fresh_accounts: FreshAccounts | None = strawberry.field(
        default=FreshAccountsModel.COUNT,
        description="Whether ballots from accounts first seen once voting opened count: a guard against brigades.",
    )


@strawberry.type
class CreateCampaignPayload:
    campaign: CampaignNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="Changes dates or text; phase moves the campaign on by hand (only forward).")
class UpdateCampaignInput:
    campaign_id: strawberry.ID
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Null or omitted: unchanged.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Null or omitted: unchanged.")
    phase: CampaignPhase | None = strawberry.field(
        default=strawberry.UNSET, description="A later phase (INVALID_TRANSITION for an earlier one); null: unchanged."
    )
    submission_starts_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Omitted: unchanged; null clears it (a moderator makes that move)."
    )
    submission_ends_at: datetime | None = strawberry.field(default=strawberry.UNSET, description="As above.")
    voting_starts_at: datetime | None = strawberry.field(default=strawberry.UNSET, description="As above.")
    voting_ends_at: datetime | None = strawberry.field(default=strawberry.UNSET, description="As above.")
    fresh_accounts: FreshAccounts | None = strawberry.field(
        default=strawberry.UNSET, description="Until CLOSED (WRONG_PHASE then); null or omitted: unchanged."
    )


@strawberry.type
class UpdateCampaignPayload:
    campaign: CampaignNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetFinalistsInput:
    campaign_id: strawberry.ID
    idea_ids: list[strawberry.ID] = strawberry.field(
        description="At most 100 entries of the campaign; [] clears the finalists."
    )


@strawberry.type
class SetFinalistsPayload:
    campaign: CampaignNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetIdeaCostInput:
    idea_id: strawberry.ID
    cost: float | None = strawberry.field(default=None, description="At least 0; null clears it.")


@strawberry.type
class SetIdeaCostPayload:
    idea: IdeaNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="Replaces the viewer's whole ballot (APPROVAL, BUDGET); an empty list withdraws it.")
class CastBallotInput:
    campaign_id: strawberry.ID
    idea_ids: list[strawberry.ID] = strawberry.field(
        description="Candidates of the campaign: at most maxChoices of them, and never more than 100."
    )


@strawberry.type
class CastBallotPayload:
    campaign: CampaignNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _ideas(values: list[strawberry.ID]) -> list[int]:
    return [relay.decode_id(v, "Idea", "ideaIds") for v in values]


DATES = tuple(attribute for attribute, _, _ in campaigns.FIELDS)
"updateCampaign's date fields, named as the domain's attributes."


def _given(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Create a campaign on a board; it starts in the phase its dates put it in now. Moderators and admins. "
            "Codes: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (boardId), BOARD_ARCHIVED, INVALID (title, description, "
            "a date out of order or without a time zone, maxChoices or winnerCount below 1, budget negative, not "
            "finite or missing for BUDGET, currency)."
        ),
    )
    async def create_campaign(self, info: Info, input: CreateCampaignInput) -> CreateCampaignPayload:
        board_id = relay.decode_id(input.board_id, "Board", "boardId")
        windows = campaigns.Windows(
            input.submission_starts_at, input.submission_ends_at, input.voting_starts_at, input.voting_ends_at
        )
        async with info.context.transaction() as session:
            campaign = await campaigns.create(
                session,
                info.context.actor,
                board_id,
                input.title,
                input.description or "",
                input.ballot or BallotKindModel.VOTES,
                windows,
                input.max_choices,
                input.budget,
                input.currency,
                1 if input.winner_count is None else input.winner_count,
                input.fresh_accounts or FreshAccountsModel.COUNT,
            )
        return CreateCampaignPayload(campaign=CampaignNode(model=campaign))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Change a campaign's text or dates, or move it on by hand (`phase`, forward only: each move notifies "
            "entrants and followers of entries, and is a boardActivity event and a webhook). Moderators and admins. "
            "Codes: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (campaignId), BOARD_ARCHIVED, INVALID (title, "
            "description, a date out of order), INVALID_TRANSITION (phase: backward), WRONG_PHASE (freshAccounts: "
            "the campaign is CLOSED)."
        ),
    )
    async def update_campaign(self, info: Info, input: UpdateCampaignInput) -> UpdateCampaignPayload:
        campaign_id = relay.decode_id(input.campaign_id, "Campaign", "campaignId")
        dates = {a: getattr(input, a) for a in DATES if getattr(input, a) is not strawberry.UNSET}
        async with info.context.transaction() as session:
            campaign = await campaigns.update(
                session,
                info.context.actor,
                campaign_id,
                title=_given(input.title),
                description=_given(input.description),
                phase=_given(input.phase),
                dates=dates,
                fresh_accounts=_given(input.fresh_accounts),
            )
        return UpdateCampaignPayload(campaign=CampaignNode(model=campaign))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Pick the finalists, in SHORTLIST only: VOTING then offers them alone. Moderators and admins. Codes: "
            "UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (campaignId), WRONG_PHASE, NOT_IN_CAMPAIGN (ideaIds), INVALID."
        ),
    )
    async def set_finalists(self, info: Info, input: SetFinalistsInput) -> SetFinalistsPayload:
        campaign_id = relay.decode_id(input.campaign_id, "Campaign", "campaignId")
        idea_ids = _ideas(input.idea_ids)
        async with info.context.transaction() as session:
            campaign = await campaigns.set_finalists(session, info.context.actor, campaign_id, idea_ids)
        return SetFinalistsPayload(campaign=CampaignNode(model=campaign))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Set the estimated cost of an entry of a BUDGET campaign, before VOTING. Moderators and admins. Codes: "
            "UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (ideaId), INVALID (ideaId: not such an entry; cost: negative "
            "or not finite), WRONG_PHASE."
        ),
    )
    async def set_idea_cost(self, info: Info, input: SetIdeaCostInput) -> SetIdeaCostPayload:
        idea_id = relay.decode_id(input.idea_id, "Idea", "ideaId")
        async with info.context.transaction() as session:
            idea = await campaigns.set_cost(session, info.context.actor, idea_id, input.cost)
        return SetIdeaCostPayload(idea=IdeaNode(model=idea))

    @strawberry.mutation(
        extensions=[DomainErrors(rate="vote")],
        description=(
            "Replace the viewer's whole ballot in an APPROVAL or BUDGET campaign ([] withdraws it); a ballot that "
            "breaks a rule is refused whole and nothing changes. Members, moderators and admins. Codes: "
            "UNAUTHENTICATED, NOT_FOUND (campaignId), INVALID (campaignId: a VOTES or PAIRWISE campaign; ideaIds: "
            "an idea without a cost), WRONG_PHASE (not VOTING), NOT_IN_CAMPAIGN, NOT_A_FINALIST, TOO_MANY_CHOICES, "
            "OVER_BUDGET (ideaIds), RATE_LIMITED."
        ),
    )
    async def cast_ballot(self, info: Info, input: CastBallotInput) -> CastBallotPayload:
        campaign_id = relay.decode_id(input.campaign_id, "Campaign", "campaignId")
        idea_ids = _ideas(input.idea_ids)
        async with info.context.transaction() as session:
            campaign = await ballots.cast(session, info.context.actor, campaign_id, idea_ids)
        return CastBallotPayload(campaign=CampaignNode(model=campaign))
