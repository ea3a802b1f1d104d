"""Duplicate clusters: texts that say the same thing, grouped on a TextIndex (similarities: ranking.index).

Thresholds are on the index's calibrated scale (an estimated probability of being a duplicate), so one
threshold holds with and without embeddings. Three sensitivities trade precision for recall; the figures
behind each are in docs/ranking.md.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components

from ranking import _validate as v
from ranking.index import TextIndex

SENSITIVITY_THRESHOLDS = {"LOW": 0.6, "MEDIUM": 0.4, "HIGH": 0.15}
"""Calibrated similarity at which clusters join texts, by sensitivity: LOW clusters only the surest pairs,
HIGH finds more at lower precision. Chosen on the tuning sets with SENSITIVITY_MUTUAL, together: at each level
the pair with the most pooled pair recall among those whose pooled pair precision reaches the level's
(docs/ranking.md)."""
SENSITIVITY_MUTUAL: dict[str, int | None] = {"LOW": 1, "MEDIUM": 2, "HIGH": None}
"""By sensitivity, how close two texts must be to each other for their pair to start a cluster: LOW, each the
other's closest; MEDIUM, each among the other's two closest; HIGH, any candidate pair. A pair that is only one
text's best (the other's lies elsewhere) is the usual wrong one: a hub near many texts."""
DUPLICATE_THRESHOLD = SENSITIVITY_THRESHOLDS["MEDIUM"]
"""The default: pooled pair precision about 0.5 on the tuning sets."""
DUPLICATE_MUTUAL = SENSITIVITY_MUTUAL["MEDIUM"]
"""The default's SENSITIVITY_MUTUAL."""

EXACT_CLUSTER_MAX = 200
"""Largest group average linkage runs on exactly; bigger groups are split at a stricter threshold first."""


def cluster_duplicates(
    texts: Iterable[str],
    threshold: float | None = None,
    vectors: ArrayLike | None = None,
    mutual: int | None = DUPLICATE_MUTUAL,
) -> np.ndarray:
    """A label per text; texts that say the same thing share a label (the smallest index among them).

    Average linkage on the sparse graph of candidate pairs: two groups merge only when the mean
    similarity over all their cross pairs reaches `threshold`, so one close pair cannot chain unrelated
    texts together. Groups start from candidate pairs (`TextIndex.candidate_pairs`, never all pairs) at the
    threshold whose texts are each among the other's `mutual` closest (any candidate pair with None). The
    defaults are the default level's, MEDIUM.
    """
    return cluster_index(TextIndex(texts, vectors), threshold, mutual)


def cluster_index(
    index: TextIndex, threshold: float | None = None, mutual: int | None = DUPLICATE_MUTUAL
) -> np.ndarray:
    """cluster_duplicates on an index already built (the service keeps the index it clusters)."""
    t = DUPLICATE_THRESHOLD if threshold is None else v.positive("threshold", threshold)
    if t > 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if mutual is not None and (isinstance(mutual, bool) or not isinstance(mutual, int | np.integer) or mutual < 1):
        raise ValueError(f"mutual must be a positive integer or None, got {mutual!r}")
    n = len(index)
    labels = np.arange(n)
    if n < 2:
        return labels
    i, j, sims = index.candidate_similarities()
    strong = sims >= t
    if mutual is not None:
        strong &= mutual_neighbours(i, j, sims, int(mutual))
    _cluster(index, np.arange(n), i[strong], j[strong], sims[strong], t, labels)
    return labels


def mutual_neighbours(i: np.ndarray, j: np.ndarray, sims: np.ndarray, m: int) -> np.ndarray:
    """Which pairs (i[k], j[k]) are each among the other's `m` best pairs by `sims` (ties: the earlier pair
    first). Linear in the pairs after one sort."""
    ends, scores, pair = np.concatenate([i, j]), np.concatenate([sims, sims]), np.tile(np.arange(i.size), 2)
    order = np.lexsort((pair, -scores, ends))  # by text, best first
    by_text = ends[order]
    rank = np.empty(ends.size, dtype=np.int64)
    rank[order] = np.arange(ends.size) - np.searchsorted(by_text, by_text, side="left")
    return (rank[: i.size] < m) & (rank[i.size :] < m)


def _cluster(
    index: TextIndex,
    members: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    sims: np.ndarray,
    t: float,
    labels: np.ndarray,
) -> None:
    """Average linkage within each connected group of above-threshold edges (members: global ids)."""
    local = {int(m): k for k, m in enumerate(members)} if members.size < labels.size else None
    li = i if local is None else np.array([local[int(x)] for x in i], dtype=np.int64)
    lj = j if local is None else np.array([local[int(x)] for x in j], dtype=np.int64)
    graph = scipy.sparse.coo_array((np.ones(li.size), (li, lj)), shape=(members.size, members.size))
    n_groups, group = connected_components(graph, directed=False)
    sizes = np.bincount(group, minlength=n_groups)
    for g in np.flatnonzero(sizes >= 2):
        part = members[group == g]
        if part.size == 2:
            labels[part] = part.min()
        elif part.size <= EXACT_CLUSTER_MAX:
            _average_linkage(index, part, t, labels)
        else:
            inside = np.isin(i, part) & np.isin(j, part)
            stricter = min(1.0, t + 0.02)
            keep = inside & (sims >= stricter)
            if stricter >= 1.0 or keep.sum() == inside.sum():
                _average_linkage_sparse(part, i[inside], j[inside], sims[inside], t, labels)
            else:
                _cluster(index, part, i[keep], j[keep], sims[keep], stricter, labels)


def _average_linkage(index: TextIndex, part: np.ndarray, t: float, labels: np.ndarray) -> None:
    distance = 1 - index.similarity_matrix(part)
    np.fill_diagonal(distance, 0.0)
    condensed = distance[np.triu_indices(part.size, 1)]
    flat = fcluster(linkage(condensed, method="average"), t=1 - t + 1e-12, criterion="distance")
    for cluster in np.unique(flat):
        chosen = part[flat == cluster]
        labels[chosen] = chosen.min()


def _average_linkage_sparse(
    part: np.ndarray, i: np.ndarray, j: np.ndarray, sims: np.ndarray, t: float, labels: np.ndarray
) -> None:
    """Fallback for a big group of near-identical texts: greedy merges, unknown pairs counted as 0."""
    parent = {int(m): int(m) for m in part}
    size = dict.fromkeys(parent, 1)
    total: dict[tuple[int, int], float] = {}
    for a, b, s in zip(i.tolist(), j.tolist(), sims.tolist(), strict=True):
        key = (min(a, b), max(a, b))
        total[key] = total.get(key, 0.0) + s
    while total:
        (a, b), s = max(total.items(), key=lambda kv: kv[1] / (size[kv[0][0]] * size[kv[0][1]]))
        if s / (size[a] * size[b]) < t:
            break
        keep, gone = min(a, b), max(a, b)
        parent[gone] = keep
        size[keep] += size.pop(gone)
        merged: dict[tuple[int, int], float] = {}
        for (x, y), val in total.items():
            x, y = (keep if x == gone else x), (keep if y == gone else y)
            if x != y:
                key = (min(x, y), max(x, y))
                merged[key] = merged.get(key, 0.0) + val
        total = merged
    for m in part:
        root = int(m)
        while parent[root] != root:
            root = parent[root]
        labels[m] = root
