"""Similar ideas ("did you mean") and duplicate clusters, read from the index `index_board` builds.

Ideas newer than the stored index are matched per request against a small index of their own, so
a fresh idea is found at once without scanning the board. Where the `semantic` extra is installed, that small
index has embeddings too (stored ones, else computed and kept in a small per-process cache), and the draft is
embedded: scores are calibrated (ranking.index), so they are on one scale before and after the board's index
is built, and the same floor (ranking.SUGGESTION_FLOOR) keeps unrelated ideas out of every answer.

The index is stored as numeric arrays (`ranking.TextIndex.to_arrays` in an npz blob, never a pickle): a blob
that is not one this version wrote is ignored, so the board is answered as if it had no index yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import numpy as np
from sqlalchemy import ColumnElement, Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine import boards, ideas
from ideaengine.errors import DomainError, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform import embeddings, npz
from ideaengine.platform.models import OPEN_STATUSES, BoardIndex, DuplicateCluster, DuplicateLink, Idea, IdeaStatus
from ideaengine.platform.queries import Page, SortKey, Window, pages

INDEX_CACHE_SIZE = 64
"""Board indexes kept loaded per process, the latest build of each board (a refused blob too, so it is logged
once)."""
NEWER_EMBED_MAX = 200
"Most ideas newer than the stored index embedded at request time; beyond that the newer ones are matched by words."
VECTOR_CACHE_SIZE = 2_048
"Texts whose embedding a process keeps (newer ideas are looked up again on every keystroke until indexed)."
QUERY_MAX_CHARS = 2_000
UNSEEN_ROOM = 5
"""Candidates first taken from each index beyond the k asked (and the idea itself). Ideas the reader may not see
(hidden, pending) stay in the index and are dropped after its top k (`_offered`, `similar_many`); when more of
them than this rank above the rest, so that places would stay empty while the index has more to give, the room
grows by UNSEEN_GROWTH and the lookup runs again (a wave of hidden spam alike to one another)."""
UNSEEN_GROWTH = 4
UNSEEN_ROOM_MAX = UNSEEN_ROOM * UNSEEN_GROWTH**4
"The widest room tried (1,280): beyond it, places stay empty rather than read thousands of ideas per lookup."
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
_vector_cache: OrderedDict[str, np.ndarray] = OrderedDict()


async def _embed(texts: Sequence[str]) -> list[np.ndarray] | None:
    """Each text's embedding, off the event loop and through the per-process cache; None without the extra."""
    if not embeddings.available():
        return None
    missing = list(dict.fromkeys(t for t in texts if t not in _vector_cache))
    if missing:
        computed = await asyncio.to_thread(embeddings.embed, missing)
        if computed is None:
            return None
        for text, row in zip(missing, computed, strict=True):
            _vector_cache[text] = row.astype(float)
            while len(_vector_cache) > VECTOR_CACHE_SIZE:
                _vector_cache.popitem(last=False)
    out = []
    for text in texts:
        row = _vector_cache.get(text)
        if row is None:  # pushed out by this very call (more texts than the cache holds)
            return None
        _vector_cache.move_to_end(text)
        out.append(row)
    return out


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
        # One build per board: each submission rebuilds the index, and 64 superseded builds of one board with
        # long bodies (tens of MB each, with their matrices) grew a server by gigabytes.
        for superseded in [k for k in _cache if k[:2] == key[:2]]:
            del _cache[superseded]
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
) -> list[tuple[Idea, float]]:
    """Ideas of a visible board most like `text` that the actor may see, best first, loaded; merged ideas are
    never offered.

    Meaning beats shared words (RANKING.md): the draft is embedded off the event loop, and while it is, the
    board's visibility and its index are read, which the embedding does not need (docs/ranking.md, "Through the
    API"). A refusal costs that embedding too; rate limits bound it as they bound every anonymous read."""
    text = text.strip()[:QUERY_MAX_CHARS]
    embedding = asyncio.ensure_future(_embed([text])) if text and k and embeddings.available() else None
    try:
        await boards.require_visible(session, actor, board_id)
        if not text or k == 0:
            return []
        stored, covered = await _stored(session, board_id)
        newer = await _newer(session, board_id, covered)
        vector = None
        if embedding is not None and _wants_vectors(stored, newer):
            embedded = await embedding
            vector = None if embedded is None else embedded[0]
    finally:
        if embedding is not None and not embedding.done():
            embedding.cancel()  # refused, the board has no embeddings, or a read failed: no one waits for it
        elif embedding is not None and not embedding.cancelled():
            embedding.exception()  # retrieved: an unawaited failure is not logged as never retrieved
    return await _offer(session, actor, partial(_candidates, stored, newer, text, k, exclude, vector, None), k)


async def similar_many(
    session: AsyncSession, actor: Actor, idea_ids: Sequence[int], k: int
) -> dict[int, list[tuple[int, float]]]:
    """For each idea the actor can see, the open ideas (OPEN_STATUSES) of its board most like it, best first.

    Closed ideas stay in the board's index (moderators merge duplicates of launched ideas too), so they are
    excluded inside the index's top-k, never filtered out after it: an idea like five launched ones still
    gets its k open neighbours. The board's index is read once per board, and the ideas without a stored
    embedding are embedded in one call, whatever the number of ideas."""
    found = list((await ideas.get_visible_many(session, actor, idea_ids)).values())
    out: dict[int, list[tuple[int, float]]] = {i.id: [] for i in found}
    if k == 0 or not found:
        return out
    by_board: dict[int, list[Idea]] = {}
    for idea in found:
        by_board.setdefault(idea.board_id, []).append(idea)
    lookups: dict[int, Callable[[int], dict[int, float]]] = {}  # each idea's candidates, given a room
    for board_id, members in by_board.items():
        stored, covered = await _stored(session, board_id)
        newer = await _newer(session, board_id, covered)
        vectors = await _vectors(session, _wants_vectors(stored, newer), members)
        skip = _Skip.of(stored, newer, await _closed(session, board_id))
        for idea in members:
            text, vector = idea_text(idea.title, idea.body), vectors.get(idea.id)
            lookups[idea.id] = partial(_candidates, stored, newer, text, k, idea.id, vector, skip)
    # Hidden and pending ideas stay in the index too: only those the actor may see are offered, decided before
    # the k best are taken (as `_offered` does for a draft), in one read for every idea asked (and one more
    # for those whose room must grow).
    room, asked, read, may_see = UNSEEN_ROOM, list(lookups), set[int](), set[int]()
    while asked:
        candidates = {idea_id: lookups[idea_id](room) for idea_id in asked}
        unread = {i for c in candidates.values() for i in c} - read  # a wider round reads only the new ones
        may_see |= await ideas.visible_ids(session, actor, sorted(unread))
        read |= unread
        for idea_id in asked:
            out[idea_id] = _best(candidates[idea_id], may_see, k)
        asked = [i for i in asked if _widen(out[i], candidates[i], k, room)]
        room *= UNSEEN_GROWTH
    return out


async def _closed(session: AsyncSession, board_id: int) -> set[int]:
    """The board's ideas that are not open (launched, declined, merged): never offered by `similar_many`."""
    rows = await session.execute(
        select(Idea.id).where(Idea.board_id == board_id, Idea.status.not_in(list(OPEN_STATUSES)))
    )
    return set(rows.scalars())


@dataclass(frozen=True)
class _Skip:
    """Rows of the stored and the newer index that must not be offered."""

    stored: np.ndarray
    newer: np.ndarray

    @classmethod
    def of(cls, stored: StoredIndex | None, newer: _Newer, idea_ids: set[int]) -> _Skip:
        def rows(indexed: Sequence[int]) -> np.ndarray:
            return np.flatnonzero(np.isin(np.asarray(indexed, dtype=np.int64), list(idea_ids)))

        return cls(rows([] if stored is None else stored.idea_ids), rows(newer.idea_ids))


_EMBEDDINGS = select(Idea.id, Idea.embedding).where(Idea.id.in_(bindparam("ids", expanding=True)))
"The stored embeddings by column: Idea.embedding is deferred (never loaded with the idea)."


def _wants_vectors(stored: StoredIndex | None, newer: _Newer) -> bool:
    """Whether a lookup should embed its text: some index it asks has embeddings."""
    return any(i is not None and i.vectors is not None for i in (None if stored is None else stored.index, newer.index))


async def _vectors(session: AsyncSession, wanted: bool, members: Sequence[Idea]) -> dict[int, np.ndarray]:
    """Each idea's embedding (when `wanted`): the stored one, else one computed now."""
    if not wanted:
        return {}
    saved: dict[int, bytes | None] = {
        idea_id: blob for idea_id, blob in await session.execute(_EMBEDDINGS, {"ids": [i.id for i in members]})
    }
    out: dict[int, np.ndarray] = {
        idea_id: np.frombuffer(blob, dtype=EMBEDDING_DTYPE).astype(float)
        for idea_id, blob in saved.items()
        if blob is not None
    }
    missing = [i for i in members if saved.get(i.id) is None]
    computed = await _embed([idea_text(i.title, i.body) for i in missing]) if missing else None
    if computed is not None:
        out.update((idea.id, row) for idea, row in zip(missing, computed, strict=True))
    return out


async def _offer(
    session: AsyncSession, actor: Actor, lookup: Callable[[int], dict[int, float]], k: int
) -> list[tuple[Idea, float]]:
    """The k best of `lookup`'s candidates (given a room) that the actor may see, loaded (the room widening as
    it must).

    The first round decides and loads in one read. A wider round (a hidden wave) decides by ids, of the new
    candidates only, and then loads just the k it offers: its room may hold hundreds of visible ideas."""
    room, loaded, offerable, asked = UNSEEN_ROOM, dict[int, Idea](), set[int](), set[int]()
    while True:
        found = lookup(room)
        new = set(found) - asked
        if room == UNSEEN_ROOM:
            loaded = await _offered(session, actor, new)
            offerable = set(loaded)
        else:
            offerable |= await ideas.visible_ids(session, actor, sorted(new), unmerged=True)
        asked |= new
        best = _best(found, offerable, k)
        if not _widen(best, found, k, room):
            loaded |= await _offered(session, actor, {idea_id for idea_id, _ in best} - set(loaded))
            # An idea hidden or merged between the two reads of a wider round is not offered.
            return [(loaded[idea_id], similarity) for idea_id, similarity in best if idea_id in loaded]
        room *= UNSEEN_GROWTH


def _widen(best: list[tuple[int, float]], found: dict[int, float], k: int, room: int) -> bool:
    """Whether a lookup that offers fewer than k may find more with a wider room: some index gave all it was
    asked for (it may hold more), and the room may still grow."""
    return len(best) < k and len(found) >= k + room and room * UNSEEN_GROWTH <= UNSEEN_ROOM_MAX


@dataclass(frozen=True)
class _Newer:
    """The board's unmerged ideas newer than its stored index, indexed once per request."""

    idea_ids: list[int]
    index: ranking.TextIndex | None


async def _newer(session: AsyncSession, board_id: int, covered: int) -> _Newer:
    """With the `semantic` extra (and at most NEWER_EMBED_MAX of them), the index has their embeddings: the
    stored ones, the others computed now."""
    rows = (
        await session.execute(
            select(Idea.id, Idea.title, Idea.body, Idea.embedding)
            .where(Idea.board_id == board_id, Idea.id > covered, Idea.status != IdeaStatus.MERGED)
            .order_by(Idea.id)
        )
    ).all()
    if not rows:
        return _Newer([], None)
    texts = [idea_text(r.title, r.body) for r in rows]
    vectors = None
    if len(rows) <= NEWER_EMBED_MAX:
        computed = await _embed([t for t, r in zip(texts, rows, strict=True) if r.embedding is None])
        if computed is not None:
            fresh = iter(computed)
            vectors = np.vstack(
                [
                    next(fresh) if r.embedding is None else np.frombuffer(r.embedding, dtype=EMBEDDING_DTYPE)
                    for r in rows
                ]
            ).astype(float)
    return _Newer([r.id for r in rows], ranking.TextIndex(texts, vectors))


def _candidates(
    stored: StoredIndex | None,
    newer: _Newer,
    text: str,
    k: int,
    exclude: int | None,
    vector: np.ndarray | None,
    skip: _Skip | None = None,
    room: int = UNSEEN_ROOM,
) -> dict[int, float]:
    """Ideas like `text` in the stored index and among the newer ideas (but `skip`'s), with their similarity:
    from each index, the k best, the idea itself and `room` more."""
    found: dict[int, float] = {}
    if stored is not None:
        for row, similarity in stored.index.similar(
            text,
            k=k + 1 + room,
            vector=None if stored.index.vectors is None else vector,
            exclude=() if skip is None else skip.stored,
        ):
            found[stored.idea_ids[row]] = similarity
    if newer.index is not None:
        for row, similarity in newer.index.similar(
            text,
            k=k + 1 + room,
            vector=None if newer.index.vectors is None else vector,
            exclude=() if skip is None else skip.newer,
        ):
            idea_id = newer.idea_ids[row]
            found[idea_id] = max(similarity, found.get(idea_id, 0.0))
    found.pop(exclude, None)  # type: ignore[arg-type]
    return found


async def _offered(session: AsyncSession, actor: Actor, idea_ids: set[int]) -> dict[int, Idea]:
    """The ideas among `idea_ids` the actor may see that are not merged (the index may predate a merge or a
    moderator's hiding), loaded: the one read that both decides what is offered and gives the answer its ideas."""
    if not idea_ids:
        return {}
    return await ideas.get_visible_many(session, actor, sorted(idea_ids), unmerged=True)


def _best(found: dict[int, float], offered: set[int], k: int) -> list[tuple[int, float]]:
    ranked = sorted(((i, s) for i, s in found.items() if i in offered and s > 0), key=lambda p: (-p[1], -p[0]))
    return ranked[:k]


CLUSTER_ORDER = (
    SortKey(DuplicateCluster.size, descending=True),
    SortKey(DuplicateCluster.cohesion, descending=True),
    SortKey(DuplicateCluster.id),
)
"Largest and tightest first."


async def clusters_many(
    session: AsyncSession, actor: Actor, board_ids: Sequence[int], window: Window
) -> dict[int, Page[Cluster] | DomainError]:
    """One window of each board's duplicate clusters, or why the actor may not see them (moderators and
    admins of the board's workspace only)."""
    found = await boards.get_visible_many(session, actor, board_ids)
    out: dict[int, Page[Cluster] | DomainError] = {}
    allowed: list[int] = []
    for board_id in board_ids:
        board = found.get(board_id)
        try:
            if board is None:
                raise not_found("No such board.")
            await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "see duplicate clusters")
        except DomainError as exc:
            out[board_id] = exc
        else:
            allowed.append(board_id)
    read = await pages(session, select(DuplicateCluster), DuplicateCluster.board_id, allowed, CLUSTER_ORDER, window)
    members = await _members(session, [c.id for p in read.values() for c in p.rows])
    for board_id, page in read.items():
        out[board_id] = Page(
            [Cluster(members.get(c.id, []), c.cohesion) for c in page.rows], page.keys, page.more, page.total
        )
    return out


async def _members(session: AsyncSession, cluster_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    if not cluster_ids:
        return out
    rows = await session.execute(
        select(DuplicateLink.cluster_id, DuplicateLink.idea_id)
        .where(DuplicateLink.cluster_id.in_(cluster_ids))
        .order_by(DuplicateLink.cluster_id, DuplicateLink.similarity.desc(), DuplicateLink.idea_id)
    )
    for cluster_id, idea_id in rows:
        out.setdefault(cluster_id, []).append(idea_id)
    return out
