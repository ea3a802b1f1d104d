"""Workspaces: a brand's tenancy, with its SSO secret and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import identity, validation
from ideaengine.errors import DomainError, ErrorCode
from ideaengine.platform.models import Workspace
from ideaengine.platform.secrets_box import SecretBox
from ideaengine.platform.upsert import insert_ignore


@dataclass(frozen=True)
class NewWorkspace:
    workspace: Workspace
    api_key: str
    sso_secret: str
    "Both shown once: the key is stored hashed, the secret encrypted."


async def create_workspace(session: AsyncSession, box: SecretBox, slug: str, name: str | None = None) -> NewWorkspace:
    """Create a workspace with a first admin API key; a taken slug is a CONFLICT."""
    slug = validation.slug(slug)
    name = validation.text(name or slug, "name", min_len=1, max_len=validation.NAME_MAX, label="A name")
    secret = identity.new_sso_secret()
    created = await insert_ignore(
        session, Workspace, dict(slug=slug, name=name, sso_secret_encrypted=box.seal(secret)), ["slug"]
    )
    if not created:
        raise DomainError(ErrorCode.CONFLICT, f"The workspace slug {slug!r} is already taken.", "slug")
    workspace = (await session.execute(select(Workspace).where(Workspace.slug == slug))).scalar_one()
    key = await identity.issue_api_key(session, workspace, name="workspace admin")
    return NewWorkspace(workspace, key, secret)


async def get_by_slug(session: AsyncSession, slug: str) -> Workspace | None:
    return (await session.execute(select(Workspace).where(Workspace.slug == slug))).scalar_one_or_none()
