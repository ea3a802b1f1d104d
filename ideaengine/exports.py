"""Exports for operators (the CLI): everything stored about one user, and a board's ideas for product teams.

Ideas are read in keyset batches of BATCH ideas (by id), so exporting 100,000 ideas holds one batch in
memory, never the whole set, and the output streams as it is read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import status_labels
from ideaengine.errors import not_found
from ideaengine.platform.ids import global_id
from ideaengine.platform.models import (
    SCORED,
    ApiKey,
    Board,
    BoardScore,
    Comment,
    Comparison,
    Follow,
    Idea,
    IdeaScore,
    IdeaTag,
    Notification,
    NotificationSetting,
    StatusChange,
    User,
    Vote,
)
from ideaengine.scores import Stored

BATCH = 1_000
"Ideas per read: memory stays about one batch, whatever the board's size."
FORMATS = ("csv", "jsonl")
COLUMNS = (
    "board",
    "id",
    "title",
    "status",
    "statusLabel",
    "moderationState",
    "upVotes",
    "downVotes",
    "followers",
    "comments",
    "tags",
    "wilsonLowerBound",
    "trending",
    "elo",
    "bradleyTerry",
    "rank",
    "mergedInto",
    "createdAt",
    "updatedAt",
)
"""One row per idea; scores are blank (null) until the score worker has computed them. Pending and hidden
ideas are exported too (the export is for the brand's own team), with `moderationState` saying so."""


def idea_ref(pk: int) -> str:
    return global_id("Idea", pk)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def user_data(session: AsyncSession, workspace_id: int, external_id: str) -> dict[str, Any]:
    """Everything stored about one user of a workspace, by the host app's id (NOT_FOUND if none)."""
    user = (
        await session.execute(select(User).where(User.workspace_id == workspace_id, User.external_id == external_id))
    ).scalar_one_or_none()
    if user is None:
        raise not_found(f"No user with the external id {external_id!r} in this workspace.", "externalId")

    async def rows(stmt: Any) -> list[Any]:
        return list((await session.execute(stmt)).scalars())

    ideas = await rows(select(Idea).where(Idea.author_id == user.id).order_by(Idea.id))
    tags: dict[int, list[str]] = {}
    for tag in await rows(select(IdeaTag).where(IdeaTag.idea_id.in_([i.id for i in ideas])).order_by(IdeaTag.position)):
        tags.setdefault(tag.idea_id, []).append(tag.tag)
    votes = await rows(select(Vote).where(Vote.user_id == user.id).order_by(Vote.id))
    comments = await rows(select(Comment).where(Comment.author_id == user.id).order_by(Comment.id))
    comparisons = await rows(select(Comparison).where(Comparison.voter_id == user.id).order_by(Comparison.id))
    follows = await rows(select(Follow).where(Follow.user_id == user.id).order_by(Follow.created_at, Follow.idea_id))
    notifications = await rows(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))
    changes = await rows(select(StatusChange).where(StatusChange.actor_id == user.id).order_by(StatusChange.id))
    keys = await rows(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id))
    settings = await session.get(NotificationSetting, user.id)
    return {
        "user": {
            "id": global_id("User", user.id),
            "externalId": user.external_id,
            "name": user.name,
            "email": user.email,
            "role": user.role.value,
            "createdAt": _time(user.created_at),
            "erasedAt": _time(user.erased_at),
            "ban": None
            if user.banned_at is None
            else {"at": _time(user.banned_at), "until": _time(user.banned_until), "reason": user.ban_reason},
        },
        "ideas": [
            {
                "id": idea_ref(i.id),
                "title": i.title,
                "body": i.body,
                "status": i.status.value,
                "tags": tags.get(i.id, []),
                "createdAt": _time(i.created_at),
                "updatedAt": _time(i.updated_at),
            }
            for i in ideas
        ],
        "comments": [
            {
                "id": global_id("Comment", c.id),
                "idea": idea_ref(c.idea_id),
                "body": c.body,
                "official": c.official,
                "createdAt": _time(c.created_at),
            }
            for c in comments
        ],
        "votes": [
            {"idea": idea_ref(v.idea_id), "value": "UP" if v.value > 0 else "DOWN", "updatedAt": _time(v.updated_at)}
            for v in votes
        ],
        "comparisons": [
            {"winner": idea_ref(c.winner_id), "loser": idea_ref(c.loser_id), "createdAt": _time(c.created_at)}
            for c in comparisons
        ],
        "follows": [{"idea": idea_ref(f.idea_id), "createdAt": _time(f.created_at)} for f in follows],
        "notifications": [
            {
                "idea": idea_ref(n.idea_id),
                "kind": n.kind.value,
                "message": n.message,
                "read": n.read,
                "createdAt": _time(n.created_at),
            }
            for n in notifications
        ],
        "statusChanges": [
            {
                "idea": idea_ref(s.idea_id),
                "from": None if s.from_status is None else s.from_status.value,
                "to": s.to_status.value,
                "note": s.note,
                "createdAt": _time(s.created_at),
            }
            for s in changes
        ],
        "apiKeys": [{"name": k.name, "prefix": k.prefix, "createdAt": _time(k.created_at)} for k in keys],
        "notificationSettings": None  # none stored: the defaults
        if settings is None
        else {"email": settings.email, "digest": settings.digest.value, "followOnVote": settings.follow_on_vote},
    }


async def count_ideas(session: AsyncSession, workspace_id: int, board_id: int | None) -> int:
    stmt = select(func.count()).select_from(Idea).join(Board, Board.id == Idea.board_id)
    stmt = stmt.where(Board.workspace_id == workspace_id)
    if board_id is not None:
        stmt = stmt.where(Idea.board_id == board_id)
    return int((await session.execute(stmt)).scalar_one())


async def idea_rows(
    session: AsyncSession, workspace_id: int, board_id: int | None = None, batch: int = BATCH
) -> AsyncIterator[list[dict[str, Any]]]:
    """The workspace's (or one board's) ideas, oldest id first, one batch of rows at a time."""
    last_id = 0
    while True:
        stmt = (
            select(Idea, Board, IdeaScore, BoardScore)
            .join(Board, Board.id == Idea.board_id)
            .outerjoin(IdeaScore, and_(IdeaScore.idea_id == Idea.id, SCORED))
            .outerjoin(BoardScore, BoardScore.board_id == Idea.board_id)
            .where(Board.workspace_id == workspace_id, Idea.id > last_id)
            .order_by(Idea.id)
            .limit(batch)
        )
        if board_id is not None:
            stmt = stmt.where(Idea.board_id == board_id)
        found = (await session.execute(stmt)).all()
        if not found:
            return
        ids = [idea.id for idea, _, _, _ in found]
        counted = select(Comment.idea_id, func.count()).where(Comment.idea_id.in_(ids)).group_by(Comment.idea_id)
        comments: dict[int, int] = {idea_id: n for idea_id, n in await session.execute(counted)}  # a Result has keys()
        tags: dict[int, list[str]] = {}
        for idea_id, tag in await session.execute(
            select(IdeaTag.idea_id, IdeaTag.tag).where(IdeaTag.idea_id.in_(ids)).order_by(IdeaTag.position)
        ):
            tags.setdefault(idea_id, []).append(tag)
        yield [
            _row(idea, board, Stored(score, refresh, False), comments.get(idea.id, 0), tags.get(idea.id, []))
            for idea, board, score, refresh in found
        ]
        last_id = ids[-1]
        session.expunge_all()  # forget the batch: the identity map would otherwise keep every row read


def _row(idea: Idea, board: Board, stored: Stored, comments: int, tags: list[str]) -> dict[str, Any]:
    score = stored.score
    return {
        "board": board.slug,
        "id": global_id("Idea", idea.id),
        "title": idea.title,
        "status": idea.status.value,
        "statusLabel": status_labels.label(board, idea.status),
        "moderationState": idea.moderation_state.value,
        "upVotes": idea.up_count,
        "downVotes": idea.down_count,
        "followers": idea.follower_count,
        "comments": comments,
        "tags": tags,
        "wilsonLowerBound": None if score is None else score.wilson_lower_bound,
        "trending": None if score is None else stored.trending,
        "elo": None if score is None else score.elo,
        "bradleyTerry": None if score is None else score.bradley_terry,
        "rank": None if score is None else score.rank,
        "mergedInto": None if idea.merged_into_id is None else global_id("Idea", idea.merged_into_id),
        "createdAt": _time(idea.created_at),
        "updatedAt": _time(idea.updated_at),
    }


def header(fmt: str) -> str:
    """What comes before the rows: the CSV header line; nothing for JSON Lines."""
    if fmt != "csv":
        return ""
    out = io.StringIO()
    csv.writer(out).writerow(COLUMNS)
    return out.getvalue()


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """A batch of rows as text: CSV (tags joined by ';', nulls empty) or one JSON object a line."""
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([";".join(row[c]) if c == "tags" else "" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()
