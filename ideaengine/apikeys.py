"""API keys: an admin lists, creates and revokes the workspace's keys; the CLI does the same as the operator.

A key acts through a service user of its own (DECISIONS.md 2), is shown once and stored as SHA-256, so a
listing shows its prefix, never the key. Revoking is final and keeps the row (and what its user wrote).
The functions that take an Actor are the API's (admins only); those that take a workspace id are the
operator's, who holds the database and needs no key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import identity, validation
from ideaengine.errors import not_found
from ideaengine.identity import Actor
from ideaengine.platform.models import ApiKey, Workspace, utcnow
from ideaengine.platform.queries import Page, SortKey, Window, pages

ORDER = (SortKey(ApiKey.created_at), SortKey(ApiKey.id))
"Oldest first, like boards and webhooks."


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str
    "The key itself (`iek_...`), shown once: only its SHA-256 is stored."


async def list_for(session: AsyncSession, actor: Actor, window: Window) -> Page[ApiKey]:
    """One window of the admin's workspace's keys, revoked ones included (they say when)."""
    workspace_id = actor.require_admin("read API keys")
    return (await pages(session, select(ApiKey), ApiKey.workspace_id, [workspace_id], ORDER, window))[workspace_id]


async def create_for(session: AsyncSession, actor: Actor, name: str | None) -> NewApiKey:
    """Admins: a new admin key for their workspace."""
    return await create(session, actor.require_admin("create API keys"), name)


async def revoke_for(session: AsyncSession, actor: Actor, key_id: int) -> ApiKey:
    """Admins: revoke one of their workspace's keys (the one they call with too, if they ask)."""
    return await revoke(session, actor.require_admin("revoke API keys"), key_id)


async def all_keys(session: AsyncSession, workspace_id: int) -> Sequence[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.created_at, ApiKey.id)
    return (await session.execute(stmt)).scalars().all()


async def create(session: AsyncSession, workspace_id: int, name: str | None) -> NewApiKey:
    """A new admin key and its service user; the name (up to 200 characters) tells keys apart."""
    label = validation.text(name or "", "name", max_len=validation.NAME_MAX, label="A key name")
    workspace = await session.get_one(Workspace, workspace_id)
    secret = await identity.issue_api_key(session, workspace, name=label)
    key = (await session.execute(select(ApiKey).where(ApiKey.key_hash == identity.hash_api_key(secret)))).scalar_one()
    return NewApiKey(key, secret)


async def revoke(session: AsyncSession, workspace_id: int, key_id: int, field: str = "id") -> ApiKey:
    """The key stops working: at once on the server that revokes it, within the actor cache's life elsewhere.
    Revoking a revoked key changes nothing; another workspace's key is NOT_FOUND."""
    key = (
        await session.execute(select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id))
    ).scalar_one_or_none()
    if key is None:
        raise not_found("No such API key in this workspace.", field)
    if key.revoked_at is None:
        # Guarded by revoked_at IS NULL: of two revokes at once, the first one's time stands.
        await session.execute(
            update(ApiKey).where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
        await session.refresh(key)
    return key


async def reissue(session: AsyncSession, workspace_id: int, name: str) -> NewApiKey:
    """The workspace's live key of this name, with a new secret (the old one stops working), or a new key if
    there is none; any other live key of the name is revoked. So a tool that needs a fresh key on every run
    (`ideaengine demo`) keeps one key and one service user, not one per run."""
    live = (
        (
            await session.execute(
                select(ApiKey)
                .where(ApiKey.workspace_id == workspace_id, ApiKey.name == name, ApiKey.revoked_at.is_(None))
                .order_by(ApiKey.id.desc())
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if not live:
        return await create(session, workspace_id, name)
    key, *older = live
    for stale in older:
        stale.revoked_at = utcnow()
    secret = identity.new_api_key()
    key.key_hash, key.prefix, key.created_at = identity.hash_api_key(secret), identity.key_prefix(secret), utcnow()
    await session.flush()
    return NewApiKey(key, secret)
