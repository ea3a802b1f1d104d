"""Users and the viewer: who is asking, what they follow, what they were told."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from ideaengine import bans, erasure, follows, users
from ideaengine.identity import ActorRole, active_ban
from ideaengine.platform.models import User
from schema import relay
from schema.context import Info
from schema.enums import Role
from schema.errors import DomainErrors, UserError
from schema.notification_settings import NotificationSettings, viewer_settings

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
        if erasure.is_erased(self.model):
            return None
        return self.model.external_id if users.can_see_external_id(info.context.actor, self.model) else None

    @strawberry.field(
        description="True once an admin erased the user (eraseUser): name, email and external id are gone for "
        "good; their ideas and comments stay, shown as by a deleted user, and their votes stay counted."
    )
    def erased(self) -> bool:
        return erasure.is_erased(self.model)

    @strawberry.field(
        description="The user's ban while one holds (banUser); null when not banned. Moderators and admins of the "
        "user's workspace only: null for everyone else."
    )
    def ban(self, info: Info) -> UserBan | None:
        if not bans.can_see_ban(info.context.actor, self.model) or active_ban(self.model) is None:
            return None
        assert self.model.banned_at is not None
        return UserBan(at=self.model.banned_at, until=self.model.banned_until, reason=self.model.ban_reason)

    @strawberry.field(
        description="What the user helped build, counted over the ideas the viewer can see (hidden and pending "
        "ideas, and private boards, count only for those who may read them)."
    )
    async def contributions(self, info: Info) -> Contributions:
        found = await info.context.loaders.contributions.load(self.model.id)
        return Contributions(
            ideas_submitted=found.ideas_submitted,
            ideas_launched=found.ideas_launched,
            supported_launched=found.supported_launched,
        )


@strawberry.type(name="UserConnection")
class UserConnection(relay.Connection[UserNode]):
    pass


@strawberry.type(description="Credit for what a user helped build.")
class Contributions:
    ideas_submitted: int = strawberry.field(description="Ideas they wrote (any status, merged ones included).")
    ideas_launched: int = strawberry.field(description="Ideas they wrote that launched.")
    supported_launched: int = strawberry.field(
        description="Launched ideas this user supported (an UP vote, kept through merges) before launch."
    )


@strawberry.type(description="A ban: the user reads like anonymous and every write is FORBIDDEN until it ends.")
class UserBan:
    at: datetime = strawberry.field(description="When the ban was given (or last replaced).")
    until: datetime | None = strawberry.field(description="When it ends by itself; null: until unbanUser lifts it.")
    reason: str | None = strawberry.field(description="The moderator's reason, if one was given.")


async def load_user(info: Info, user_id: int | None) -> UserNode | None:
    if user_id is None:
        return None
    return user_node(await info.context.loaders.user.load(user_id))


def user_node(user: User | None) -> UserNode | None:
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
        from schema.ideas import idea_connection

        scope = relay.scope("Viewer.following", info.context.actor.user_id)
        window = relay.window(info, scope, follows.FOLLOWING_ORDER, first, after, last, before)
        async with info.context.read() as session:
            page = await follows.following(session, info.context.actor, window)
        return await idea_connection(info, scope, window, page)

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

    @strawberry.field(description="The viewer's notification settings; null when anonymous (or banned).")
    async def notification_settings(self, info: Info) -> NotificationSettings | None:
        return await viewer_settings(info)

    @strawberry.field(description="How many of the viewer's notifications are unread.")
    async def unread_notification_count(self, info: Info) -> int:
        if info.context.actor.role == ActorRole.ANONYMOUS:
            return 0
        async with info.context.read() as session:
            return await follows.unread_count(session, info.context.actor)


@strawberry.input(
    description="until null bans until lifted; a banned user reads like anonymous and writes nothing in the workspace."
)
class BanUserInput:
    user_id: strawberry.ID
    until: datetime | None = strawberry.field(
        default=None,
        description="When the ban ends by itself, in the future (no zone: UTC). Null: until lifted.",
    )
    reason: str | None = strawberry.field(default=None, description="Up to 1,000 characters, shown to moderators.")


@strawberry.type
class BanUserPayload:
    user: UserNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UnbanUserInput:
    user_id: strawberry.ID


@strawberry.type
class UnbanUserPayload:
    user: UserNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class EraseUserInput:
    user_id: strawberry.ID


@strawberry.type
class EraseUserPayload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _forget(info: Info, user_id: int) -> None:
    """After the commit: this server's cache of callers must not keep serving the user as they were."""
    if info.context.actors is not None:
        info.context.actors.forget_user(user_id)


@strawberry.type
class UserMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Ban a user of the caller's workspace, until a time or until lifted; banning again replaces the ban. "
            "The user then reads like anonymous and every write answers FORBIDDEN saying they are banned (this "
            "server at once, others within 10 seconds). Moderators and admins; only admins ban moderators. Codes: "
            "UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (userId), INVALID (userId: malformed, an API key's user, "
            "yourself; until: not in the future; reason)."
        ),
    )
    async def ban_user(self, info: Info, input: BanUserInput) -> BanUserPayload:
        user_id = relay.decode_id(input.user_id, "User", "userId")
        async with info.context.transaction() as session:
            user = await bans.ban_user(session, info.context.actor, user_id, input.until, input.reason)
        _forget(info, user.id)
        return BanUserPayload(user=UserNode(model=user))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Lift a user's ban at once. Moderators and admins; only admins unban moderators. Codes: "
            "UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (userId), INVALID (userId: malformed, an API key's user, "
            "yourself, not banned)."
        ),
    )
    async def unban_user(self, info: Info, input: UnbanUserInput) -> UnbanUserPayload:
        user_id = relay.decode_id(input.user_id, "User", "userId")
        async with info.context.transaction() as session:
            user = await bans.unban_user(session, info.context.actor, user_id)
        _forget(info, user.id)
        return UnbanUserPayload(user=UserNode(model=user))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Erase a user's personal data for good: name, email and external id are removed, their follows and "
            "notifications deleted; their ideas and comments stay, shown as by a deleted user (User.erased), and "
            "their votes stay counted, tied to no one. Signing in again with the same SSO subject makes a new "
            "user. Admins (API keys) of the user's workspace only. Codes: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND "
            "(userId), INVALID (userId: malformed, an API key's user, already erased)."
        ),
    )
    async def erase_user(self, info: Info, input: EraseUserInput) -> EraseUserPayload:
        user_id = relay.decode_id(input.user_id, "User", "userId")
        async with info.context.transaction() as session:
            user = await erasure.erase_user(session, info.context.actor, user_id)
        _forget(info, user.id)
        return EraseUserPayload()
