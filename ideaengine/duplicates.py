"""Similar ideas ("did you mean") and duplicate clusters, read from the index `index_board` builds.

Ideas newer than the stored index are matched per request against a small index of their own, so
a fresh idea is found at once without scanning the board.
"""

from __future__ import annotations

import asyncio
import pickle
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine import boards
from ideaengine.errors import not_found
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform import embeddings
from ideaengine.platform.models import Board, BoardIndex, DuplicateCluster, DuplicateLink, Idea, IdeaStatus

INDEX_CACHE_SIZE = 64
"Unpickled board indexes kept per process, keyed by board and build."
QUERY_MAX_CHARS = 2_000


@dataclass(frozen=True)
class StoredIndex:
    """What `workers.duplicates.index_board` pickles: the index and the idea id of each of its rows."""

    index: ranking.TextIndex
    idea_ids: list[int]


@dataclass(frozen=True)
class Cluster:
    idea_ids: list[int]
    cohesion: float


_cache: OrderedDict[tuple[str, int, int, object], StoredIndex] = OrderedDict()


def idea_text(title: str, body: str) -> str:
    return f"{title}\n{body}".strip()


async def _stored(session: AsyncSession, board_id: int) -> tuple[StoredIndex | None, int]:
    """The board's index (cached) and the highest idea id it covers (0 without one)."""
    row = (
        await session.execute(
            select(BoardIndex.text_seq, BoardIndex.max_idea_id, BoardIndex.built_at).where(
                BoardIndex.board_id == board_id
            )
        )
    ).first()
    if row is None:
        return None, 0
    # The database is part of the key: one process may serve several (tests do, one per test).
    key = (str(session.get_bind().engine.url), board_id, row.text_seq, row.built_at)
    if key not in _cache:
        payload = (await session.execute(select(BoardIndex.payload).where(BoardIndex.board_id == board_id))).scalar()
        if payload is None:
            return None, 0
        _cache[key] = pickle.loads(payload)
        while len(_cache) > INDEX_CACHE_SIZE:
            _cache.popitem(last=False)
    _cache.move_to_end(key)
    return _cache[key], int(row.max_idea_id)


async def similar_to_text(
    session: AsyncSession, actor: Actor, board_id: int, text: str, k: int, exclude: int | None = None
) -> list[tuple[int, float]]:
    """Ideas of a visible board most like `text`, best first; merged ideas are never offered."""
    await boards.require_visible(session, actor, board_id)
    text = text.strip()[:QUERY_MAX_CHARS]
    if not text or k == 0:
        return []
    return await _similar(session, board_id, text, k, exclude)


async def similar_to_idea(session: AsyncSession, idea: Idea, k: int) -> list[tuple[int, float]]:
    if k == 0:
        return []
    vector = None if idea.embedding is None else np.frombuffer(idea.embedding, dtype=np.float32).astype(float)
    return await _similar(session, idea.board_id, idea_text(idea.title, idea.body), k, idea.id, vector)


async def _similar(
    session: AsyncSession, board_id: int, text: str, k: int, exclude: int | None, vector: np.ndarray | None = None
) -> list[tuple[int, float]]:
    stored, covered = await _stored(session, board_id)
    found: dict[int, float] = {}
    if stored is not None:
        if stored.index.vectors is None:
            vector = None
        elif vector is None and embeddings.available():
            # Meaning beats shared words (RANKING.md): the draft is embedded, off the event loop.
            vector = (await asyncio.to_thread(embeddings.embed, [text]))[0]  # type: ignore[index]
        for row, similarity in stored.index.similar(text, k=k + 1, vector=vector):
            found[stored.idea_ids[row]] = similarity
    newer = (
        await session.execute(
            select(Idea.id, Idea.title, Idea.body)
            .where(Idea.board_id == board_id, Idea.id > covered, Idea.status != IdeaStatus.MERGED)
            .order_by(Idea.id)
        )
    ).all()
    if newer:
        fresh = ranking.TextIndex([idea_text(r.title, r.body) for r in newer])
        for row, similarity in fresh.similar(text, k=k + 1):
            found[newer[row].id] = max(similarity, found.get(newer[row].id, 0.0))
    found.pop(exclude, None)  # type: ignore[arg-type]
    if not found:
        return []
    live = set(
        (
            await session.execute(select(Idea.id).where(Idea.id.in_(list(found)), Idea.status != IdeaStatus.MERGED))
        ).scalars()
    )
    ranked = sorted(((i, s) for i, s in found.items() if i in live and s > 0), key=lambda p: (-p[1], -p[0]))
    return ranked[:k]


async def clusters(
    session: AsyncSession, actor: Actor, board: Board, offset: int, limit: int
) -> tuple[list[Cluster], int]:
    """The board's duplicate clusters, largest and tightest first. Moderators and admins only."""
    if not boards.can_read(actor, board):
        raise not_found("No such board.")
    actor.require(board.workspace_id, ActorRole.MODERATOR, "see duplicate clusters")
    where = (DuplicateCluster.board_id == board.id,)
    total = (await session.execute(select(func.count()).select_from(DuplicateCluster).where(*where))).scalar_one()
    rows = (
        (
            await session.execute(
                select(DuplicateCluster)
                .where(*where)
                .order_by(DuplicateCluster.size.desc(), DuplicateCluster.cohesion.desc(), DuplicateCluster.id)
                .offset(offset)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    members = await _members(session, [c.id for c in rows])
    return [Cluster(members.get(c.id, []), c.cohesion) for c in rows], int(total)


async def _members(session: AsyncSession, cluster_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    rows = await session.execute(
        select(DuplicateLink.cluster_id, DuplicateLink.idea_id)
        .where(DuplicateLink.cluster_id.in_(cluster_ids))
        .order_by(DuplicateLink.cluster_id, DuplicateLink.similarity.desc(), DuplicateLink.idea_id)
    )
    for cluster_id, idea_id in rows:
        out.setdefault(cluster_id, []).append(idea_id)
    return out
