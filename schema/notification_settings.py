"""Notification settings: the NotificationSettings type and updateNotificationSettings."""

from __future__ import annotations

import strawberry

from ideaengine import notification_settings
from ideaengine.platform.models import DigestFrequency as DigestFrequencyModel
from schema.context import Info
from schema.enums import DigestFrequency
from schema.errors import DomainErrors, UserError


@strawberry.type(description="How the viewer hears of what happens; a user who never changed them has the defaults.")
class NotificationSettings:
    email: bool = strawberry.field(
        description="Send notifications by email (needs an email address from SSO and a configured mail server). "
        "Default true."
    )
    digest: DigestFrequency = strawberry.field(description="How often email goes out. Default INSTANT.")
    follow_on_vote: bool = strawberry.field(
        description="Voting UP on an idea follows it (withdrawing the vote does not unfollow). Default true."
    )

    @classmethod
    def of(cls, settings: notification_settings.Settings) -> NotificationSettings:
        return cls(email=settings.email, digest=settings.digest, follow_on_vote=settings.follow_on_vote)


@strawberry.input(description="Omitted or null fields stay as they are.")
class UpdateNotificationSettingsInput:
    email: bool | None = None
    digest: DigestFrequency | None = None
    follow_on_vote: bool | None = None


@strawberry.type
class UpdateNotificationSettingsPayload:
    settings: NotificationSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def viewer_settings(info: Info) -> NotificationSettings | None:
    async with info.context.read() as session:
        found = await notification_settings.of_viewer(session, info.context.actor)
    return None if found is None else NotificationSettings.of(found)


@strawberry.type
class NotificationSettingsMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Change the caller's own notification settings (the fields given; the others stay). Signed-in users "
            "of their own workspace, API keys' users included. Codes: UNAUTHENTICATED, FORBIDDEN (banned)."
        ),
    )
    async def update_notification_settings(
        self, info: Info, input: UpdateNotificationSettingsInput
    ) -> UpdateNotificationSettingsPayload:
        digest: DigestFrequencyModel | None = input.digest
        async with info.context.transaction() as session:
            settings = await notification_settings.update(
                session, info.context.actor, email=input.email, digest=digest, follow_on_vote=input.follow_on_vote
            )
        return UpdateNotificationSettingsPayload(settings=NotificationSettings.of(settings))
