"""Lifecycle: status changes, merges and duplicate clusters (subscriptions live in schema/subscriptions.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ideaengine import lifecycle, unmerge
from ideaengine.duplicates import Cluster
from ideaengine.platform.models import StatusChange
from schema import relay
from schema.context import Info
from schema.enums import IdeaStatus
from schema.errors import DomainErrors, UserError
from schema.ideas import IdeaNode, load_idea
from schema.users import UserNode, load_user


@strawberry.type(name="StatusChange", description="One move of an idea through its lifecycle.")
class StatusChangeType:
    model: strawberry.Private[StatusChange]

    @strawberry.field
    async def idea(self, info: Info) -> IdeaNode:
        node = await load_idea(info, self.model.idea_id)
        assert node is not None  # reached through the visible idea
        return node

    @strawberry.field(
        name="from",
        description="The status before; null for the idea's first status, the entry every history starts with.",
    )
    def from_(self) -> IdeaStatus | None:
        return self.model.from_status

    @strawberry.field(description="The status after; in the first entry, the status the idea was submitted in.")
    def to(self) -> IdeaStatus:
        return self.model.to_status

    @strawberry.field(description="The public note the team left with the change; a merge's names its target.")
    def note(self) -> str | None:
        return self.model.note

    @strawberry.field(
        description="Who made the change (the author, for the first entry); null if their account is gone."
    )
    async def actor(self, info: Info) -> UserNode | None:
        return await load_user(info, self.model.actor_id)

    @strawberry.field(description="When; the first entry's is the idea's createdAt.")
    def at(self) -> datetime:
        return self.model.created_at


@strawberry.type(description="Ideas that say the same thing, for a moderator to merge.")
class DuplicateCluster:
    cluster: strawberry.Private[Cluster]

    @strawberry.field(description="Members, most central first.")
    async def ideas(self, info: Info) -> list[IdeaNode]:
        loaded = await info.context.loaders.idea.load_many(self.cluster.idea_ids)
        return [IdeaNode(model=idea) for idea in loaded if idea is not None]

    @strawberry.field(description="Lowest pairwise similarity inside the cluster.")
    def cohesion(self) -> float:
        return self.cluster.cohesion


@strawberry.type(name="DuplicateClusterConnection")
class DuplicateClusterConnection(relay.Connection[DuplicateCluster]):
    pass


@strawberry.input
class ChangeIdeaStatusInput:
    idea_id: strawberry.ID
    status: IdeaStatus = strawberry.field(
        description="Where to move it: along the lifecycle one step, DECLINED from an open status, or UNDER_REVIEW "
        "from DECLINED. Never MERGED (mergeIdeas does that) nor the status it has."
    )
    note: str | None = strawberry.field(default=None, description="Shown to followers; up to 5,000 characters.")


@strawberry.type
class ChangeIdeaStatusPayload:
    idea: IdeaNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Folds source into target: votes move (one per user), comments and followers move, "
    "source becomes MERGED."
)
class MergeIdeasInput:
    source_id: strawberry.ID
    target_id: strawberry.ID


@strawberry.type
class MergeIdeasPayload:
    target: IdeaNode | None = None
    source: IdeaNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="The merged idea to bring back.")
class UnmergeIdeaInput:
    idea_id: strawberry.ID


@strawberry.type
class UnmergeIdeaPayload:
    source: IdeaNode | None = None
    target: IdeaNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LifecycleMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Move an idea along SUBMITTED -> UNDER_REVIEW -> PLANNED -> IN_PROGRESS -> LAUNCHED, decline an open "
            "idea, or reopen a declined one (to UNDER_REVIEW); followers are notified. Moderators and admins. "
            "Codes: UNAUTHENTICATED (naming the workspace to another workspace's caller), FORBIDDEN, NOT_FOUND "
            "(ideaId), INVALID_TRANSITION (status), INVALID (note)."
        ),
    )
    async def change_idea_status(self, info: Info, input: ChangeIdeaStatusInput) -> ChangeIdeaStatusPayload:
        idea_id = relay.decode_id(input.idea_id, "Idea", "ideaId")
        async with info.context.transaction() as session:
            idea = await lifecycle.change_status(session, info.context.actor, idea_id, input.status, input.note)
        return ChangeIdeaStatusPayload(idea=IdeaNode(model=idea))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Merge a duplicate (source) into target, in one step: each voter keeps one vote on target (an existing "
            "target vote wins), comparisons, comments and followers move, source becomes MERGED. Moderators and "
            "admins. Codes: UNAUTHENTICATED (naming the workspace to another workspace's caller), FORBIDDEN, "
            "NOT_FOUND (sourceId, targetId), INVALID (itself, another board, an already merged idea)."
        ),
    )
    async def merge_ideas(self, info: Info, input: MergeIdeasInput) -> MergeIdeasPayload:
        source_id = relay.decode_id(input.source_id, "Idea", "sourceId")
        target_id = relay.decode_id(input.target_id, "Idea", "targetId")
        async with info.context.transaction() as session:
            source, target = await lifecycle.merge_ideas(session, info.context.actor, source_id, target_id)
        return MergeIdeasPayload(target=IdeaNode(model=target), source=IdeaNode(model=source))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Undo a merge in one step: the source (ideaId) gets back its status before the merge and the votes, "
            "comments, followers and comparisons the merge moved or dropped (a voter who had voted on both has "
            "both votes again). What was added to the target since stays on the target; a moved vote changed since "
            "keeps its new value, one withdrawn stays withdrawn. Moderators and admins. Codes: UNAUTHENTICATED "
            "(naming the workspace to another workspace's caller), FORBIDDEN, NOT_FOUND (ideaId), BOARD_ARCHIVED "
            "(ideaId), INVALID (ideaId: not merged, merged before merges were recorded, or its target was merged "
            "since: unmerge that first)."
        ),
    )
    async def unmerge_idea(self, info: Info, input: UnmergeIdeaInput) -> UnmergeIdeaPayload:
        idea_id = relay.decode_id(input.idea_id, "Idea", "ideaId")
        async with info.context.transaction() as session:
            source, target = await unmerge.unmerge_idea(session, info.context.actor, idea_id)
        return UnmergeIdeaPayload(source=IdeaNode(model=source), target=IdeaNode(model=target))
