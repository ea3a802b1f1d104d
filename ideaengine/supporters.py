"""Supporters and credit: who backed an idea (an UP vote, kept through merges), the thank-you they get when
it launches, and what each user helped build (`contributions_many`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import mail, visibility, webhooks
from ideaengine.errors import DomainError, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.ids import global_id
from ideaengine.platform.models import (
    Board,
    Idea,
    IdeaStatus,
    ModerationState,
    Notification,
    NotificationKind,
    User,
    Vote,
    utcnow,
)
from ideaengine.platform.queries import Page, SortKey, Window, pages

UP = 1
ORDER = (SortKey(Vote.created_at), SortKey(Vote.id))
"Earliest supporters first (a vote moved by a merge keeps the time it was cast)."
QUOTE = 280
"Characters of the idea's own words quoted in the launch thank-you."


async def supporters_many(
    session: AsyncSession, actor: Actor, idea_ids: Sequence[int], window: Window
) -> dict[int, Page[User] | DomainError]:
    """One window of each idea's supporters, or why the actor may not see them: moderators and admins of the
    idea's workspace only (product teams contact supporters; members see only `Idea.up_count`)."""
    out: dict[int, Page[User] | DomainError] = {}
    rows = await session.execute(select(Idea.id, Board.workspace_id).join(Board).where(Idea.id.in_(idea_ids)))
    workspaces: dict[int, int] = {idea_id: workspace_id for idea_id, workspace_id in rows}
    refusals: dict[int, DomainError | None] = {}
    for workspace_id in set(workspaces.values()):
        try:
            await require_in(session, actor, workspace_id, ActorRole.MODERATOR, "see an idea's supporters")
            refusals[workspace_id] = None
        except DomainError as exc:
            refusals[workspace_id] = exc
    allowed = []
    for idea_id in idea_ids:
        refusal = not_found("No such idea.") if idea_id not in workspaces else refusals[workspaces[idea_id]]
        if refusal is None:
            allowed.append(idea_id)
        else:
            out[idea_id] = refusal
    stmt = select(User).join(Vote, Vote.user_id == User.id).where(Vote.value == UP)
    out.update(await pages(session, stmt, Vote.idea_id, allowed, ORDER, window))
    return out


@dataclass(frozen=True)
class Contributions:
    ideas_submitted: int = 0
    ideas_launched: int = 0
    supported_launched: int = 0


async def contributions_many(session: AsyncSession, actor: Actor, user_ids: Sequence[int]) -> dict[int, Contributions]:
    """What each user helped build, counted over the ideas the actor can see (hidden or pending ideas and
    private boards count only for those who may read them). Two statements for any number of users."""
    launched = Idea.status == IdeaStatus.LAUNCHED
    authored = (
        select(Idea.author_id, func.count(), func.coalesce(func.sum(case((launched, 1), else_=0)), 0))
        .join(Board, Board.id == Idea.board_id)
        .where(Idea.author_id.in_(user_ids), visibility.ideas_clause(actor))
        .group_by(Idea.author_id)
    )
    supported = (
        select(Vote.user_id, func.count())
        .join(Idea, Idea.id == Vote.idea_id)
        .join(Board, Board.id == Idea.board_id)
        .where(Vote.user_id.in_(user_ids), Vote.value == UP, launched, visibility.ideas_clause(actor))
        .group_by(Vote.user_id)
    )
    counts: dict[int, list[int]] = {u: [0, 0, 0] for u in user_ids}
    for user_id, submitted, done in await session.execute(authored):
        counts[user_id][0:2] = [int(submitted), int(done)]
    for user_id, backed in await session.execute(supported):
        counts[user_id][2] = int(backed)
    return {u: Contributions(*c) for u, c in counts.items()}


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE else text[: QUOTE - 1] + "…"


def thanks(idea: Idea, note: str | None, authored: bool) -> str:
    """The launch thank-you, in the idea's own words and with the team's note."""
    opening = (
        f"Your idea “{idea.title}” has launched. Thank you for suggesting it: you helped build this."
        if authored
        else f"“{idea.title}” has launched, and you helped build it. Thank you for your support!"
    )
    words = f" The idea: “{_quote(idea.body)}”" if idea.body.strip() else ""
    team = f" From the team: {note}" if note else ""
    return opening + words + team


async def credit_launch(session: AsyncSession, actor: Actor, idea: Idea, board: Board, note: str | None) -> set[int]:
    """Thank the author and every supporter (UP votes, merged ones included) of an idea that just launched:
    one SUPPORTED_IDEA_LAUNCHED notification each, in the caller's transaction, and one webhook. The actor and
    erased users are not notified; supporters only while the idea is VISIBLE (they could not read it
    otherwise). Returns who was notified, so followers among them are not told twice."""
    voters = select(User).join(Vote, Vote.user_id == User.id)
    voters = voters.where(Vote.idea_id == idea.id, Vote.value == UP, User.erased_at.is_(None)).order_by(Vote.id)
    people = list((await session.execute(voters)).scalars())
    supporters = [u.id for u in people]
    author: User | None = None if idea.author_id is None else await session.get(User, idea.author_id)
    if author is not None and author.erased_at is not None:
        author = None
    visible = idea.moderation_state == ModerationState.VISIBLE
    credited = ([author.id] if author is not None else []) + (supporters if visible else [])
    recipients = [u for u in dict.fromkeys(credited) if u != actor.user_id]
    now = utcnow()
    if recipients:
        written = await session.execute(
            insert(Notification).returning(Notification.id),
            [
                {
                    "user_id": user_id,
                    "idea_id": idea.id,
                    "kind": NotificationKind.SUPPORTED_IDEA_LAUNCHED,
                    "message": thanks(idea, note, authored=author is not None and user_id == author.id),
                    "read": False,
                    "created_at": now,
                }
                for user_id in recipients
            ],
        )
        await mail.queue(session, list(written.scalars()))
    await webhooks.emit(
        session,
        board,
        webhooks.WebhookEvent.IDEA_LAUNCH_CREDITED,
        {
            "idea": webhooks.idea_ref(idea, board),
            "body": idea.body,
            "note": note,
            "author": None if author is None else _person(author),
            "supporters": [_person(u) for u in people],
        },
        about=[idea],
    )
    return set(recipients)


def _person(user: User) -> dict[str, Any]:
    return {"id": global_id("User", user.id), "externalId": user.external_id, "name": user.name}
