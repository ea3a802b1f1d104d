"""The caller's workspace: rotateSsoSecret. Admins only."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ideaengine import workspaces
from schema.context import Info
from schema.errors import DomainErrors, UserError


@strawberry.type
class RotateSsoSecretPayload:
    sso_secret: str | None = strawberry.field(
        default=None,
        description="The new secret to sign SSO tokens with (HS256), shown this once: it is stored encrypted.",
    )
    previous_secret_valid_until: datetime | None = strawberry.field(
        default=None,
        description="Until when tokens signed with the replaced secret still verify "
        "(IDEAENGINE_SSO_ROTATION_GRACE_SECONDS after the rotation); after it only the new secret does.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WorkspaceMutations:
    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Replace the caller's workspace's SSO secret. During a grace period (24 hours unless the server says "
            "otherwise) tokens signed with either secret verify, so the host app can switch without signing "
            "anyone out; a secret replaced earlier stops at once. Admins (API keys) only. Codes: "
            "UNAUTHENTICATED, FORBIDDEN."
        ),
    )
    async def rotate_sso_secret(self, info: Info) -> RotateSsoSecretPayload:
        services = info.context.services
        async with info.context.transaction() as session:
            rotated = await workspaces.rotate_sso_secret_for(
                session, info.context.actor, services.box, services.settings.sso_rotation_grace_seconds
            )
        return RotateSsoSecretPayload(
            sso_secret=rotated.sso_secret, previous_secret_valid_until=rotated.previous_valid_until
        )
