"""Users and the viewer: who is asking, what they follow, what they were told."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from ideaengine import follows, users
from ideaengine.identity import ActorRole
from ideaengine.platform.models import User
from schema import relay
from schema.context import Info
from schema.enums import Role

if TYPE_CHECKING:
    from schema.follows import NotificationConnection
    from schema.ideas import IdeaConnection


@strawberry.type(name="User", description="A person on the boards (or an API key's service user).")
class UserNode(relay.Node):
    model: strawberry.Private[User]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return relay.encode_id("User", self.model.id)

    @strawberry.field(
        description="Display name from the host app's SSO token (an API key's user: the key's name); null if "
        "none was given."
    )
    def name(self) -> str | None:
        return self.model.name

    @strawberry.field(
        description="The host app's id for this user: visible to moderators, admins and the user; null for others."
    )
    def external_id(self, info: Info) -> str | None:
        return self.model.external_id if users.can_see_external_id(info.context.actor, self.model) else None


async def load_user(info: Info, user_id: int | None) -> UserNode | None:
    if user_id is None:
        return None
    user = await info.context.loaders.user.load(user_id)
    return None if user is None else UserNode(model=user)


@strawberry.type(description="The caller: their role, their follows and their notifications.")
class Viewer:
    @strawberry.field(
        description="The caller's role in its own workspace; ANONYMOUS without credentials (or with rejected ones). "
        "In any other workspace the caller is anonymous."
    )
    def role(self, info: Info) -> Role:
        return info.context.actor.role

    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def user(self, info: Info) -> UserNode | None:
        return await load_user(info, info.context.actor.user_id)

    @strawberry.field(description="Ideas the viewer follows, most recently followed first.")
    async def following(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> Annotated[IdeaConnection, strawberry.lazy("schema.ideas")]:
        from schema.ideas import IdeaConnection, IdeaNode

        scope = relay.scope("Viewer.following", info.context.actor.user_id)
        window = relay.window(info, scope, follows.FOLLOWING_ORDER, first, after, last, before)
        async with info.context.read() as session:
            page = await follows.following(session, info.context.actor, window)
        for idea in page.rows:
            info.context.loaders.idea.prime(idea.id, idea)
        return relay.connection(IdeaConnection, scope, window, page, lambda row: IdeaNode(model=row))

    @strawberry.field(description="The viewer's notifications, newest first.")
    async def notifications(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        unread_only: bool | None = False,
        last: relay.Last = None,
        before: relay.Before = None,
    ) -> Annotated[NotificationConnection, strawberry.lazy("schema.follows")]:
        from schema.follows import NotificationConnection, NotificationNode

        scope = relay.scope("Viewer.notifications", info.context.actor.user_id, bool(unread_only))
        window = relay.window(info, scope, follows.NOTIFICATIONS_ORDER, first, after, last, before)
        async with info.context.read() as session:
            page = await follows.notifications(session, info.context.actor, window, bool(unread_only))
        return relay.connection(NotificationConnection, scope, window, page, lambda row: NotificationNode(model=row))

    @strawberry.field(description="How many of the viewer's notifications are unread.")
    async def unread_notification_count(self, info: Info) -> int:
        if info.context.actor.role == ActorRole.ANONYMOUS:
            return 0
        async with info.context.read() as session:
            return await follows.unread_count(session, info.context.actor)
