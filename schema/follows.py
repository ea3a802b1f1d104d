"""Follows and notifications: followIdea, markNotificationsRead, the Notification type."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ideaengine import follows
from ideaengine.platform.models import Notification
from schema import relay
from schema.context import Info
from schema.enums import NotificationKind
from schema.errors import DomainErrors, UserError
from schema.ideas import IdeaNode


@strawberry.type(name="Notification", description="Something that happened to an idea the viewer follows.")
class NotificationNode(relay.Node):
    model: strawberry.Private[Notification]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return relay.encode_id("Notification", self.model.id)

    @strawberry.field(
        description="The idea it is about. Its author reads it here even once it is HIDDEN (and nowhere else), "
        "so a CONTENT_HIDDEN notification names what was taken down."
    )
    async def idea(self, info: Info) -> IdeaNode:
        idea = await info.context.loaders.notified_idea.load(self.model.idea_id)
        assert idea is not None  # notifications are listed only with an idea the viewer may read here
        return IdeaNode(model=idea)

    @strawberry.field
    def kind(self) -> NotificationKind:
        return self.model.kind

    @strawberry.field(
        description="What happened, for people; a status change's carries the team's note, an official answer's "
        "its first 140 characters."
    )
    def message(self) -> str:
        return self.model.message

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="False until markNotificationsRead marks it.")
    def read(self) -> bool:
        return self.model.read


@strawberry.type(name="NotificationConnection")
class NotificationConnection(relay.Connection[NotificationNode]):
    pass


@strawberry.input
class FollowIdeaInput:
    idea_id: strawberry.ID
    follow: bool = strawberry.field(description="true follows, false unfollows; either is a no-op if already so.")


@strawberry.type
class FollowIdeaPayload:
    idea: IdeaNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="ids null marks all of the viewer's notifications read.")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = None


@strawberry.type
class MarkNotificationsReadPayload:
    unread_count: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FollowMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Follow (true) or unfollow (false) an idea: followers are notified of status changes, merges and "
            "official answers. Members, moderators and admins. Codes: UNAUTHENTICATED (naming the workspace to "
            "another workspace's caller), NOT_FOUND (ideaId)."
        ),
    )
    async def follow_idea(self, info: Info, input: FollowIdeaInput) -> FollowIdeaPayload:
        idea_id = relay.decode_id(input.idea_id, "Idea", "ideaId")
        async with info.context.transaction() as session:
            idea = await follows.follow(session, info.context.actor, idea_id, input.follow)
        return FollowIdeaPayload(idea=IdeaNode(model=idea))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Mark some (ids) or all (null) of the viewer's notifications read; ids of others' notifications are "
            "ignored. Signed-in users. Codes: UNAUTHENTICATED, INVALID (ids)."
        ),
    )
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        ids = (
            None
            if input.ids is None
            else [relay.decode_id(i, "Notification", ["ids", str(n)]) for n, i in enumerate(input.ids)]
        )
        async with info.context.transaction() as session:
            unread = await follows.mark_read(session, info.context.actor, ids)
        return MarkNotificationsReadPayload(unread_count=unread)
