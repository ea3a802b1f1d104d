"""Similar ideas ("did you mean") and duplicate clusters, read from the index `index_board` builds.

Ideas newer than the stored index are matched per request against a small index of their own, so
a fresh idea is found at once without scanning the board. The index is stored as numeric arrays
(`ranking.TextIndex.to_arrays` in an npz blob, never a pickle): a blob that is not one this version
wrote is ignored, so the board is answered as if it had no index yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine import boards
from ideaengine.errors import not_found
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform import embeddings, npz
from ideaengine.platform.models import Board, BoardIndex, DuplicateCluster, DuplicateLink, Idea, IdeaStatus

INDEX_CACHE_SIZE = 64
"Board indexes kept loaded per process, keyed by board and build (a refused blob too, so it is logged once)."
QUERY_MAX_CHARS = 2_000
EMBEDDING_DTYPE = np.float32
"How embeddings are computed and stored (Idea.embedding, and the vectors of a stored index)."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredIndex:
    """What `workers.duplicates.index_board` stores: the index and the idea id of each of its rows."""

    index: ranking.TextIndex
    idea_ids: list[int]

    def to_bytes(self) -> bytes:
        arrays = self.index.to_arrays()
        if "vectors" in arrays:  # float32, as computed: half the size, and no precision the model had
            arrays["vectors"] = arrays["vectors"].astype(EMBEDDING_DTYPE)
        return npz.dumps({**arrays, "idea_ids": np.asarray(self.idea_ids, dtype=np.int64)})

    @classmethod
    def from_bytes(cls, payload: bytes) -> StoredIndex:
        """The index `to_bytes` wrote; ValueError for any other blob (garbage, a pickle, another format)."""
        arrays = npz.loads(payload)
        idea_ids = arrays.pop("idea_ids", None)
        if idea_ids is None:
            raise ValueError("idea_ids is missing")
        index = ranking.TextIndex.from_arrays(arrays)
        if idea_ids.dtype.kind not in "iu" or idea_ids.shape != (len(index),):
            raise ValueError(f"idea_ids must be {len(index)} integers, one per indexed text")
        return cls(index, idea_ids.tolist())


def readable() -> ColumnElement[bool]:
    """Stored indexes of the format this version reads; the sweep rebuilds boards that have none."""
    return BoardIndex.format_version == ranking.INDEX_FORMAT


@dataclass(frozen=True)
class Cluster:
    idea_ids: list[int]
    cohesion: float


_cache: OrderedDict[tuple[str, int, int, object], StoredIndex | None] = OrderedDict()


def idea_text(title: str, body: str) -> str:
    return f"{title}\n{body}".strip()


async def _stored(session: AsyncSession, board_id: int) -> tuple[StoredIndex | None, int]:
    """The board's index (cached) and the highest idea id it covers; (None, 0) without a usable one."""
    row = (
        await session.execute(
            select(
                BoardIndex.text_seq,
                BoardIndex.max_idea_id,
                BoardIndex.built_at,
                BoardIndex.format_version,
                readable().label("readable"),
            ).where(BoardIndex.board_id == board_id)
        )
    ).first()
    if row is None:
        return None, 0
    # The database is part of the key: one process may serve several (tests do, one per test).
    key = (str(session.get_bind().engine.url), board_id, row.text_seq, row.built_at)
    if key not in _cache:
        _cache[key] = await _load(session, board_id, row)
        while len(_cache) > INDEX_CACHE_SIZE:
            _cache.popitem(last=False)
    _cache.move_to_end(key)
    stored = _cache[key]
    return (None, 0) if stored is None else (stored, int(row.max_idea_id))


async def _load(session: AsyncSession, board_id: int, row: Row[int, int, datetime, int, bool]) -> StoredIndex | None:
    """None, with a log line, for an index this version cannot use: the board is then served as if it had none."""
    if not row.readable:
        why = f"format {row.format_version} is not {ranking.INDEX_FORMAT} (the sweep rebuilds it)"
    else:
        payload = (
            await session.execute(select(BoardIndex.payload).where(BoardIndex.board_id == board_id))
        ).scalar_one_or_none()
        if payload is None:  # deleted since the row was read
            return None
        try:
            return StoredIndex.from_bytes(payload)
        except ValueError as exc:
            why = f"{exc} (rebuilt at the board's next text change)"
    log.warning("board %s: stored duplicate index (text_seq %s) ignored: %s", board_id, row.text_seq, why)
    return None


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
    vector = None if idea.embedding is None else np.frombuffer(idea.embedding, dtype=EMBEDDING_DTYPE).astype(float)
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
