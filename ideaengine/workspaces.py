"""Workspaces: a brand's tenancy, with its SSO secret and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import identity, validation
from ideaengine.errors import DomainError, ErrorCode, not_found
from ideaengine.identity import Actor
from ideaengine.platform.models import Board, Workspace, utcnow
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


async def require_by_slug(session: AsyncSession, slug: str, field: str = "workspace") -> Workspace:
    workspace = await get_by_slug(session, slug) if validation.SLUG.fullmatch(slug) else None
    if workspace is None:
        raise not_found(f"No workspace {slug!r}.", field)
    return workspace


@dataclass(frozen=True)
class WorkspaceSummary:
    workspace: Workspace
    boards: int


async def list_all(session: AsyncSession) -> list[WorkspaceSummary]:
    """Every workspace, oldest first, with its number of boards: the operator's view (the CLI)."""
    boards = select(func.count()).where(Board.workspace_id == Workspace.id).scalar_subquery()
    rows = await session.execute(select(Workspace, boards).order_by(Workspace.created_at, Workspace.id))
    return [WorkspaceSummary(workspace, int(count)) for workspace, count in rows]


@dataclass(frozen=True)
class RotatedSecret:
    workspace: Workspace
    sso_secret: str
    "The new secret, shown once (stored encrypted)."
    previous_valid_until: datetime
    "Until when tokens signed with the replaced secret still verify."


async def rotate_sso_secret_for(
    session: AsyncSession, actor: Actor, box: SecretBox, grace_seconds: float
) -> RotatedSecret:
    """Admins: rotate their workspace's SSO secret."""
    return await rotate_sso_secret(session, box, actor.require_admin("rotate the SSO secret"), grace_seconds)


async def rotate_sso_secret(
    session: AsyncSession, box: SecretBox, workspace_id: int, grace_seconds: float
) -> RotatedSecret:
    """A new SSO secret; tokens signed with the one it replaces verify for `grace_seconds` more, so the host
    app can switch without signing anyone out. One row changes, so a rotation happens whole or not at all. A
    secret still in the grace period of an earlier rotation stops working now: only one secret is kept."""
    workspace = (
        await session.execute(
            select(Workspace)
            .where(Workspace.id == workspace_id)
            .with_for_update()  # two rotations at once: the second replaces the first's secret, not the same one
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    secret = identity.new_sso_secret()
    until = utcnow() + timedelta(seconds=grace_seconds)
    workspace.previous_sso_secret_encrypted = workspace.sso_secret_encrypted
    workspace.previous_sso_secret_until = until
    workspace.sso_secret_encrypted = box.seal(secret)
    await session.flush()
    return RotatedSecret(workspace, secret, until)
