"""Votes and pairwise comparisons: vote, compareIdeas, pairwiseMatchup."""

from __future__ import annotations

import strawberry

from ideaengine import boards, campaigns, comparisons, votes
from schema import relay
from schema.context import Info
from schema.enums import VoteValue
from schema.errors import DomainErrors, UserError
from schema.ideas import IdeaNode


@strawberry.type(description="Two ideas to show a voter side by side.")
class Matchup:
    left: IdeaNode
    right: IdeaNode

    @classmethod
    def of(cls, found: comparisons.Matchup | None) -> Matchup | None:
        return None if found is None else cls(left=IdeaNode(model=found.left), right=IdeaNode(model=found.right))


@strawberry.input(
    description="value null withdraws the viewer's vote. One vote per user per idea; voting again replaces it."
)
class VoteInput:
    idea_id: strawberry.ID
    value: VoteValue | None = None


@strawberry.type
class VotePayload:
    idea: IdeaNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CompareIdeasInput:
    winner_id: strawberry.ID = strawberry.field(description="The idea preferred; open.")
    loser_id: strawberry.ID = strawberry.field(description="The other idea: open, on the same board, not the winner.")


@strawberry.type
class CompareIdeasPayload:
    winner: IdeaNode | None = None
    loser: IdeaNode | None = None
    next: Matchup | None = strawberry.field(
        default=None, description="The next pair to show; null if fewer than two open ideas."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class VoteQueries:
    @strawberry.field(
        description="The next two ideas to show a voter for a pairwise comparison; null if fewer "
        "than two open ideas, or the board is archived. Under-compared ideas come first, then close, uncertain pairs. "
        "With `campaignId` (a campaign of the board): two of its candidates (its finalists, if picked), and null "
        "unless it is VOTING."
    )
    async def pairwise_matchup(
        self, info: Info, board_id: strawberry.ID, campaign_id: strawberry.ID | None = None
    ) -> Matchup | None:
        pk = relay.query_id(board_id, "Board", "boardId")
        campaign_pk = None if campaign_id is None else relay.query_id(campaign_id, "Campaign", "campaignId")
        async with info.context.read() as session:
            board = (await boards.get_visible_many(session, info.context.actor, [pk])).get(pk)
            if board is None:
                return None
            campaign = None
            if campaign_pk is not None:
                campaign = (await campaigns.get_visible_many(session, info.context.actor, [campaign_pk])).get(
                    campaign_pk
                )
                if campaign is None:
                    return None
            return Matchup.of(await comparisons.next_matchup(session, info.context.actor, board, campaign=campaign))


@strawberry.type
class VoteMutations:
    @strawberry.mutation(
        extensions=[DomainErrors(rate="vote")],
        description=(
            "Vote UP or DOWN on an open idea, or withdraw with null. Members, moderators and admins. The tally in "
            "the answer is exact. Codes: UNAUTHENTICATED (naming the workspace to another workspace's caller), "
            "NOT_FOUND (ideaId), INVALID (ideaId: a launched, declined or merged idea), RATE_LIMITED."
        ),
    )
    async def vote(self, info: Info, input: VoteInput) -> VotePayload:
        idea_id = relay.decode_id(input.idea_id, "Idea", "ideaId")
        value = None if input.value is None else input.value.value
        actor = info.context.actor
        idea = await info.context.write(
            lambda work: votes.cast_vote_at_once(work, actor, idea_id, value),
            lambda work: votes.cast_vote_on_driver(work, actor, idea_id, value),
            lambda session: votes.cast_vote(session, actor, idea_id, value),
        )
        return VotePayload(idea=IdeaNode(model=idea))

    @strawberry.mutation(
        extensions=[DomainErrors(rate="compare")],
        description=(
            "Say which of two open ideas on one board the viewer prefers; judging the same pair again replaces the "
            "earlier verdict. Members, moderators and admins. Codes: UNAUTHENTICATED (naming the workspace to another "
            "workspace's caller), NOT_FOUND (winnerId, loserId), INVALID (the same idea twice, different boards, a "
            "closed idea), RATE_LIMITED."
        ),
    )
    async def compare_ideas(self, info: Info, input: CompareIdeasInput) -> CompareIdeasPayload:
        winner_id = relay.decode_id(input.winner_id, "Idea", "winnerId")
        loser_id = relay.decode_id(input.loser_id, "Idea", "loserId")
        async with info.context.transaction() as session:
            winner, loser = await comparisons.compare(session, info.context.actor, winner_id, loser_id)
            board = (await boards.get_visible_many(session, info.context.actor, [winner.board_id]))[winner.board_id]
        async with info.context.read() as session:
            following = await comparisons.next_matchup(session, info.context.actor, board)
        return CompareIdeasPayload(
            winner=IdeaNode(model=winner), loser=IdeaNode(model=loser), next=Matchup.of(following)
        )
