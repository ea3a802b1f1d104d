"""index_board: a board's similar-idea index and duplicate clusters, rebuilt from its ideas' texts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine.duplicates import EMBEDDING_DTYPE, StoredIndex, idea_text
from ideaengine.platform import embeddings
from ideaengine.platform.db import Database
from ideaengine.platform.models import Board, BoardIndex, DuplicateCluster, DuplicateLink, Idea, IdeaStatus, utcnow
from ideaengine.platform.upsert import insert_for
from workers.base import run


def index_board(board_id: int) -> dict[str, Any]:
    """Rebuild one board's text index and duplicate clusters. Idempotent."""
    return run("index_board", board_id, lambda db: _index(db, board_id))


async def _index(db: Database, board_id: int) -> dict[str, Any]:
    embedded = await _embed_missing(db, board_id)
    async with db.read() as session:
        board = (
            await session.execute(select(Board.text_seq, Board.duplicate_sensitivity).where(Board.id == board_id))
        ).first()
        if board is None:
            return {"skipped": "board no longer exists"}
        seq = board.text_seq
        rows = (
            await session.execute(
                select(Idea.id, Idea.title, Idea.body, Idea.embedding, Idea.status)
                .where(Idea.board_id == board_id, Idea.status != IdeaStatus.MERGED)
                .order_by(Idea.id)
            )
        ).all()
    texts = [idea_text(r.title, r.body) for r in rows]
    vectors = _vectors(rows)
    index = ranking.TextIndex(texts, vectors)
    level = board.duplicate_sensitivity.value
    # The same index serves lookups and clustering: built once.
    labels = ranking.cluster_index(index, ranking.SENSITIVITY_THRESHOLDS[level], ranking.SENSITIVITY_MUTUAL[level])
    clusters = _clusters(index, labels, [r.id for r in rows])
    payload = StoredIndex(index, [r.id for r in rows]).to_bytes()
    async with db.write() as session:
        written = await _write_index(session, board_id, seq, max((r.id for r in rows), default=0), payload)
        if written:
            await _write_clusters(session, board_id, clusters)
    return {"ideas": len(rows), "clusters": len(clusters), "embedded": embedded, "seq": seq, "written": written}


async def _embed_missing(db: Database, board_id: int) -> int:
    """Embed the board's ideas that have no vector yet (the `semantic` extra): once per idea and text, since
    an edit clears the vector; a reindex never embeds again."""
    if not embeddings.available():
        return 0
    async with db.read() as session:
        missing = (
            await session.execute(
                select(Idea.id, Idea.title, Idea.body)
                .where(Idea.board_id == board_id, Idea.status != IdeaStatus.MERGED, Idea.embedding.is_(None))
                .order_by(Idea.id)  # the updates below lock the rows in this order: ascending, as every writer does
            )
        ).all()
    if not missing:
        return 0
    vectors = embeddings.embed([idea_text(r.title, r.body) for r in missing])
    if vectors is None:
        return 0
    async with db.write() as session:
        for row, vector in zip(missing, vectors, strict=True):
            # Only where the text is still the one embedded: an edit meanwhile cleared it and changed the text.
            await session.execute(
                update(Idea)
                .where(Idea.id == row.id, Idea.title == row.title, Idea.body == row.body, Idea.embedding.is_(None))
                .values(embedding=vector.astype(EMBEDDING_DTYPE).tobytes())
            )
    return len(missing)


def _vectors(rows: Sequence[Any]) -> np.ndarray | None:
    """Stored embeddings when every idea has one; the lexical index alone otherwise."""
    if not rows or any(r.embedding is None for r in rows):
        return None
    return np.vstack([np.frombuffer(r.embedding, dtype=EMBEDDING_DTYPE) for r in rows]).astype(float)


def _clusters(
    index: ranking.TextIndex, labels: np.ndarray, idea_ids: list[int]
) -> list[tuple[float, list[tuple[int, float]]]]:
    """(cohesion, [(idea id, mean similarity to the rest)]) for each group of two or more."""
    out = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.size < 2:
            continue
        sims = index.similarity_matrix(members)
        off = sims[~np.eye(members.size, dtype=bool)].reshape(members.size, members.size - 1)
        centrality = off.mean(axis=1)
        out.append((float(off.min()), [(idea_ids[m], float(c)) for m, c in zip(members, centrality, strict=True)]))
    return out


async def _write_index(session: AsyncSession, board_id: int, seq: int, max_idea_id: int, payload: bytes) -> bool:
    """Store the index unless a newer one is there already; True when written."""
    stmt = insert_for(session, BoardIndex).values(
        board_id=board_id,
        text_seq=seq,
        max_idea_id=max_idea_id,
        format_version=ranking.INDEX_FORMAT,
        payload=payload,
        built_at=utcnow(),
    )
    columns = ("text_seq", "max_idea_id", "format_version", "payload", "built_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["board_id"],
        set_={c: stmt.excluded[c] for c in columns},
        where=BoardIndex.text_seq <= stmt.excluded.text_seq,
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _write_clusters(
    session: AsyncSession, board_id: int, clusters: list[tuple[float, list[tuple[int, float]]]]
) -> None:
    await session.execute(delete(DuplicateCluster).where(DuplicateCluster.board_id == board_id))
    now = utcnow()
    for cohesion, members in clusters:
        cluster = DuplicateCluster(board_id=board_id, cohesion=cohesion, size=len(members), computed_at=now)
        session.add(cluster)
        await session.flush()
        session.add_all([DuplicateLink(cluster_id=cluster.id, idea_id=i, similarity=s) for i, s in members])
    await session.flush()
