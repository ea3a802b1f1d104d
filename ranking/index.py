"""TextIndex: which indexed texts are similar to a text ("did you mean"), from texts and optional embeddings.

Lexical similarity is the cosine of TF-IDF vectors, mixed half and half from two blocks: stemmed words and
word pairs without stopwords, and character 3-5-grams inside words (spelling variants, compounds). With
embeddings, the raw similarity is `mix(lexical, cosine of the embeddings)`.

Pairs of indexed texts (`pair_similarity`, `similarity_matrix`, hence clusters and their cohesion) are scored
for hubness too: a text close to many others (a hub: "crash on startup" on a bug board) is a duplicate of few,
so a pair's raw similarity loses HUBNESS_WEIGHT of its two texts' mean hubness, the mean raw similarity of each
text to its HUBNESS_NEIGHBOURS closest others after the closest one (cross-domain similarity local scaling,
CSLS, less its likeliest duplicate), leaning toward a prior on a small board. It needs no labels and adapts to
each board. "Did you mean" (`similar`) is not: there it cost recall on held-out bug reports, most for a title
asked of titles with descriptions (whose hubness is that of long texts); docs/ranking.md has both.

Every similarity the index gives out is calibrated: an estimate of the probability that the pair is a duplicate,
fitted on labelled duplicates (docs/ranking.md), one curve for lexical scores and one for mixed ones. So one
number means the same with or without embeddings and on any board, and a caller can pick one cut-off
(SUGGESTION_FLOOR, the cluster thresholds) for all of them. Pairs scored for hubness have curves of their own,
fitted the same way on the same sets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

from ranking import _arrays
from ranking import _validate as v
from ranking.text import char_ngrams, content_words, normalise_text, word_features

WORD_WEIGHT = 0.5
"""Share of the word block in the lexical similarity; the character n-gram block has the rest."""

CANDIDATES_PER_TEXT = 10
"""Nearest candidates kept per text from the blocking index before exact similarities are computed."""

BLOCK_MAX_DF = 200
"""Word features shared by more texts than this are too common to propose candidates (blocking)."""

EMBEDDING_WEIGHT = 0.6
"""Share of the embeddings' cosine in the raw similarity with embeddings; the lexical similarity has the rest."""

HUBNESS_NEIGHBOURS = 2
"""How many of a text's closest others (among its candidate pairs) set its hubness: the mean of their raw
similarities. The closest of all is left out: it is the likeliest duplicate, and a text should not lose for having
one (with it, three rewordings of one idea on a small board no longer clustered). Of 1, 2, 3, 5 and 10, 2 ranks the
tuning sets' pairs best or within 0.003 of the best at every pair precision from 0.3 to 0.8 (docs/ranking.md)."""

HUBNESS_SUPPORT = CANDIDATES_PER_TEXT - 1
"""How many others a text must have been compared with (its candidates but the closest) for its hubness to be
what its closest say; with fewer (a small board), it leans toward the prior in proportion. On a board of seven
ideas whose others are unrelated, a text's 2nd and 3rd closest are far, yet that says little of a text compared
with six: taken at their word, "Oat milk lattes" clustered with "Oat milk in every store" at MEDIUM. Large boards
are untouched (every text has CANDIDATES_PER_TEXT candidates or more)."""

HUBNESS_PRIOR_LEXICAL = 0.314
"""The hubness a text leans toward on a small board (HUBNESS_SUPPORT), and what a missing neighbour counts: the
mean hubness on the tuning sets, lexical. Counted as 0, every text of a small board had a hubness near 0 and its
pairs scored far higher than the same pairs on the boards the calibration was fitted on ("Oat milk lattes" as a
duplicate of "Oat milk in every store" at 0.75 on a board of seven ideas)."""
HUBNESS_PRIOR_MIXED = 0.436
"""The same with embeddings."""

HUBNESS_WEIGHT = 0.5
"""Share of a pair's mean hubness taken off its raw similarity: of 0, 0.25, 0.5 and 0.75, the weight with the
most hits (a labelled duplicate among a text's 5 best by that score) pooled over the tuning sets (docs/ranking.md)."""

CALIBRATION_LEXICAL = (-4.380, 6.185)
"""(a, b) of the calibrated similarity 1 / (1 + exp(-(a + b * raw))) for lexical scores: the estimated share of
suggestions at that score that are duplicates, for a text that has one. Fitted by `bench/duplicates_eval.py
--fit` on the tuning sets (each set weighing the same; docs/ranking.md)."""
CALIBRATION_MIXED = (-6.707, 8.649)
"""The same for raw scores mixed with embeddings."""
CALIBRATION_PAIRS_LEXICAL = (-4.181, 10.714)
"""The same for lexical scores of indexed pairs less their hubness (`adjust`), fitted on the tuning sets' top 5
suggestions by that score."""
CALIBRATION_PAIRS_MIXED = (-6.648, 15.832)
"""The same for mixed ones."""

SUGGESTION_FLOOR = 0.02
"""Calibrated similarity under which `similar` offers nothing, so unrelated drafts get no suggestion: the highest
floor that costs at most 0.02 of recall@5 on every tuning set, with or without embeddings (docs/ranking.md)."""

INDEX_FORMAT = 4
"""Version of `TextIndex.to_arrays`: bumped whenever the arrays change meaning, or the clusters the service stores
beside them, so an old stored index is refused and the sweep rebuilds it and its clusters (3: hubness from the 2nd
and 3rd closest, leaning toward the prior on a small board; 4: the same arrays, clusters that start from mutual
neighbours, `ranking.SENSITIVITY_MUTUAL`)."""

_LSH_TABLES = 8
_LSH_WINDOW = 4
_PAIR_CHUNK = 200_000
_VECTOR_CHUNK = 8192
_ROW_CHUNK = 4096


class TextIndex:
    """An index of texts (and optional unit embedding rows) answering "which indexed texts are similar?".

    Indices are positions in insertion order. `add` appends. `to_arrays` and `from_arrays` store it as
    plain numeric arrays (no pickle); it is picklable too (caches are rebuilt on demand).
    """

    def __init__(self, texts: Iterable[str] = (), vectors: ArrayLike | None = None) -> None:
        self._texts: list[str] = []
        self._word_vocab: dict[str, int] = {}
        self._char_vocab: dict[str, int] = {}
        # Feature ids of every text end to end, and n + 1 offsets: arrays, not lists of Python ints (8 bytes
        # an id instead of about 36, which matters for the boards an API process keeps loaded).
        self._word_ids = np.zeros(0, dtype=np.int64)
        self._word_ptr = np.zeros(1, dtype=np.int64)
        self._char_ids = np.zeros(0, dtype=np.int64)
        self._char_ptr = np.zeros(1, dtype=np.int64)
        self._vectors: np.ndarray | None = None
        self._has_vectors = vectors is not None
        self._char_cache: dict[str, list[int]] = {}
        self._matrix: Any = None
        self._csc: Any = None
        self._vectors_f32: np.ndarray | None = None
        self._dimensions_f32: np.ndarray | None = None
        self._idf: tuple[np.ndarray, np.ndarray] | None = None
        self._hubness: np.ndarray | None = None
        self._pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.add(texts, vectors)

    def __len__(self) -> int:
        return len(self._texts)

    @property
    def texts(self) -> list[str]:
        return list(self._texts)

    @property
    def vectors(self) -> np.ndarray | None:
        return self._vectors

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(
            _char_cache={}, _matrix=None, _csc=None, _vectors_f32=None, _dimensions_f32=None, _idf=None, _pairs=None
        )
        return state

    def add(self, texts: Iterable[str], vectors: ArrayLike | None = None) -> None:
        """Append texts (with one embedding row each when the index has vectors)."""
        new = v.texts("texts", texts)
        rows = v.unit_rows("vectors", vectors, len(new))
        if self._has_vectors != (rows is not None) and (new or rows is not None):
            if self._has_vectors:
                raise ValueError("vectors: this index holds embeddings, give one row per added text")
            raise ValueError("vectors: this index was built without embeddings")
        word_ids: list[int] = []
        char_ids: list[int] = []
        word_ends, char_ends = [], []
        for text in new:
            words, chars = self._features(text)
            word_ids.extend(words)
            word_ends.append(len(word_ids))
            char_ids.extend(chars)
            char_ends.append(len(char_ids))
        self._word_ids, self._word_ptr = _append(self._word_ids, self._word_ptr, word_ids, word_ends)
        self._char_ids, self._char_ptr = _append(self._char_ids, self._char_ptr, char_ids, char_ends)
        self._texts.extend(new)
        if rows is not None:
            self._vectors = rows if self._vectors is None else np.vstack([self._vectors, rows])
        self._matrix = self._csc = self._vectors_f32 = self._dimensions_f32 = None
        self._idf = self._hubness = self._pairs = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as named numeric arrays (for `numpy.savez`, loadable with allow_pickle=False).

        "format" is INDEX_FORMAT; "vectors" is there only when the index holds embeddings; "hubness" is kept so
        that loading does not find every text's candidates again.
        """
        arrays = {"format": np.asarray(INDEX_FORMAT, dtype=np.int64)}
        arrays["texts"], arrays["texts_ptr"] = _arrays.pack_strings(self._texts)
        for name, vocab, ids, ptr in (
            ("word", self._word_vocab, self._word_ids, self._word_ptr),
            ("char", self._char_vocab, self._char_ids, self._char_ptr),
        ):
            arrays[f"{name}_vocab"], arrays[f"{name}_vocab_ptr"] = _arrays.pack_strings(list(vocab))  # in id order
            arrays[f"{name}_ids"] = _arrays.narrow(ids, max(len(vocab) - 1, 0))  # n-gram ids fit uint16
            arrays[f"{name}_ptr"] = _arrays.narrow(ptr, ids.size)
        if self._vectors is not None:
            arrays["vectors"] = self._vectors
        arrays["hubness"] = self.hubness()
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, ArrayLike]) -> TextIndex:
        """The index `to_arrays` gave; ValueError naming the array at fault for anything else.

        Checked so that stored arrays can at worst give wrong similarities, never an error at query time:
        every id within its vocabulary, offsets in range, unit embedding rows, and the current INDEX_FORMAT.
        """
        _arrays.names(arrays, _ARRAY_NAMES, optional=("vectors",))
        version = np.asarray(arrays["format"])
        if version.shape != () or version.dtype.kind not in "iu" or int(version) != INDEX_FORMAT:
            raise ValueError(f"format {version.tolist()!r} is not {INDEX_FORMAT}, the one this version reads")
        index = cls()
        index._texts = v.texts("texts", _arrays.unpack_strings(arrays, "texts"))
        n = len(index._texts)
        index._word_vocab, index._word_ids, index._word_ptr = _arrays.features(arrays, "word", n)
        index._char_vocab, index._char_ids, index._char_ptr = _arrays.features(arrays, "char", n)
        if "vectors" in arrays:
            index._has_vectors, index._vectors = True, _arrays.unit_rows(arrays, "vectors", n)
        index._hubness = _arrays.fractions(arrays, "hubness", n)
        return index

    def hubness(self) -> np.ndarray:
        """Each text's hubness: the mean raw similarity of its HUBNESS_NEIGHBOURS closest candidates after the
        closest (missing ones count the prior, HUBNESS_PRIOR_*), leaning toward the prior when the text has
        fewer than HUBNESS_SUPPORT others. From `candidate_pairs`, so it costs what
        clustering costs, never n² (a text's true closest others are nearly always among its candidates)."""
        if self._hubness is None:
            n = len(self)
            i, j, raw = self._candidates()
            text, sims = np.concatenate([i, j]), np.concatenate([raw, raw])
            order = np.lexsort((-sims, text))  # by text, closest first
            text, sims = text[order], sims[order]
            rank = np.arange(text.size) - np.searchsorted(text, text, side="left")
            kept = (rank >= 1) & (rank <= HUBNESS_NEIGHBOURS)
            found = np.bincount(text[kept], minlength=n)
            prior = HUBNESS_PRIOR_MIXED if self._vectors is not None else HUBNESS_PRIOR_LEXICAL
            total = np.bincount(text[kept], sims[kept], minlength=n) + (HUBNESS_NEIGHBOURS - found) * prior
            # Compared with few others (a small board), a text's closest say little: toward the prior.
            others = np.bincount(text, minlength=n) - 1  # its candidates but the closest
            weight = np.clip(others / HUBNESS_SUPPORT, 0.0, 1.0)
            self._hubness = weight * total / HUBNESS_NEIGHBOURS + (1 - weight) * prior
        hubness: np.ndarray = self._hubness
        return hubness

    def similar(
        self,
        text: str,
        k: int = 5,
        vector: ArrayLike | None = None,
        exclude: ArrayLike = (),
        floor: float = SUGGESTION_FLOOR,
    ) -> list[tuple[int, float]]:
        """The k indexed texts most similar to `text`, best first, as (index, calibrated similarity >= floor,
        and > 0); never one of `exclude` (indices a caller may not offer), so the k are the best of the rest.

        With `vector` (the text's embedding) the embeddings count too; without it the words alone do, on
        the same calibrated scale."""
        v.text("text", text)
        floor = _probability("floor", floor)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        skip = v.ids("exclude", exclude, len(self._texts))
        query_vector = None
        if vector is not None:
            if not self._has_vectors:
                raise ValueError("vector: this index was built without embeddings")
            dim = 0 if self._vectors is None else self._vectors.shape[1]
            rows = v.unit_rows("vector", np.atleast_2d(np.asarray(vector, dtype=float)), 1)
            assert rows is not None
            if dim and rows.shape[1] != dim:
                raise ValueError(f"vector has {rows.shape[1]} dimensions, the index has {dim}")
            query_vector = rows
        if not self._texts or k == 0:
            return []
        cols, weights = self._query(text)
        scores = np.zeros(len(self._texts))
        if cols.size:
            scores = np.asarray(self._columns()[:, cols] @ weights, dtype=float)
        mixed = query_vector is not None and self._vectors is not None
        if mixed:
            assert query_vector is not None
            scores = mix(scores, query_vector[0].astype(np.float32) @ self._dimensions32())
        scores = np.clip(scores, 0.0, 1.0)
        scores[skip] = 0.0
        top = np.argpartition(-scores, min(k, scores.size) - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        calibrated = calibrate(scores[top], mixed)
        return [(int(i), float(p)) for i, p in zip(top, calibrated, strict=True) if p > 0 and p >= floor]

    def pair_similarity(self, first: ArrayLike, second: ArrayLike) -> np.ndarray:
        """Calibrated similarity of texts first[p] and second[p] for every p (with embeddings if the index has them),
        less their hubness."""
        i = v.ids("first", first, len(self))
        j = v.ids("second", second, len(self), like=i)
        hubness = self.hubness()
        return self._pair_scores(self._raw_pairs(i, j), hubness[i], hubness[j])

    def _pair_scores(self, raw: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Calibrated similarities of indexed pairs from their raw ones and their two texts' hubness."""
        return calibrate(adjust(raw, first, second), self._vectors is not None, pairs=True)

    def _raw_pairs(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        x = self._matrix_()
        out = np.empty(i.size)
        for start in range(0, i.size, _PAIR_CHUNK):
            a, b = i[start : start + _PAIR_CHUNK], j[start : start + _PAIR_CHUNK]
            out[start : start + a.size] = np.asarray(x[a].multiply(x[b]).sum(axis=1)).ravel()
        if self._vectors is not None:
            vectors = self._vectors32()
            cos = np.empty(i.size)
            for start in range(0, i.size, _VECTOR_CHUNK):  # chunks: the gathered rows stay in cache
                a, b = i[start : start + _VECTOR_CHUNK], j[start : start + _VECTOR_CHUNK]
                cos[start : start + a.size] = np.einsum("ij,ij->i", vectors[a], vectors[b])
            out = mix(out, cos)
        return np.clip(out, 0.0, 1.0)

    def similarity_matrix(self, members: ArrayLike) -> np.ndarray:
        """Dense calibrated similarities among a few indexed texts (a cluster's members), less their hubness."""
        idx = v.ids("members", members, len(self))
        sub = self._matrix_()[idx]
        sims = (sub @ sub.T).toarray()
        if self._vectors is not None:
            vecs = self._vectors[idx]
            sims = mix(sims, vecs @ vecs.T)
        hubness = self.hubness()[idx]
        return self._pair_scores(np.clip(sims, 0.0, 1.0), hubness[:, None], hubness[None, :])

    def candidate_pairs(self, per_text: int = CANDIDATES_PER_TEXT) -> tuple[np.ndarray, np.ndarray]:
        """Likely-similar pairs (i < j) from blocking on uncommon words (plus LSH on embeddings).

        Each text keeps its `per_text` best partners by the cosine over word features shared by at
        most BLOCK_MAX_DF texts, so the work grows linearly with the number of texts, never as n².
        """
        if per_text == CANDIDATES_PER_TEXT:
            i, j, _ = self._candidates()
            return i, j
        return self._candidate_pairs(per_text)

    def candidate_similarities(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`candidate_pairs` and their `pair_similarity`, from the raw similarities the hubness was found with."""
        i, j, raw = self._candidates()
        hubness = self.hubness()
        return i, j, self._pair_scores(raw, hubness[i], hubness[j])

    def _candidates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The default candidate pairs and their raw similarities, kept until texts are added: the hubness and
        the clusters both start from them (computed twice, they were a fifth of clustering 100,000 texts)."""
        if self._pairs is None:
            i, j = self._candidate_pairs(CANDIDATES_PER_TEXT)
            self._pairs = i, j, self._raw_pairs(i, j)
        return self._pairs

    def _candidate_pairs(self, per_text: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if n < 2:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        words = self._weighted_words()
        df = np.bincount(words.indices, minlength=words.shape[1])
        keep = scipy.sparse.diags_array((df <= BLOCK_MAX_DF).astype(float))
        block = scipy.sparse.csr_array(words @ keep)
        block.eliminate_zeros()
        block_t = scipy.sparse.csr_array(block.T)
        firsts, seconds = [], []
        for start in range(0, n, _ROW_CHUNK):
            prod = scipy.sparse.coo_array(block[start : start + _ROW_CHUNK] @ block_t)
            rows, cols, vals = prod.row + start, prod.col, prod.data
            off_diag = rows != cols
            rows, cols, vals = rows[off_diag], cols[off_diag], vals[off_diag]
            order = np.argsort(rows * 4.0 + (2.0 - vals), kind="stable")  # by row, best first
            rows, cols = rows[order], cols[order]
            first_of_row = np.searchsorted(rows, rows, side="left")
            best = (np.arange(rows.size) - first_of_row) < per_text
            firsts.append(rows[best])
            seconds.append(cols[best])
        if self._vectors is not None:
            vi, vj = _lsh_pairs(self._vectors)
            firsts.append(vi)
            seconds.append(vj)
        a = np.concatenate(firsts).astype(np.int64)
        b = np.concatenate(seconds).astype(np.int64)
        keys = np.unique(np.minimum(a, b) * n + np.maximum(a, b))
        return keys // n, keys % n

    def _features(self, text: str) -> tuple[list[int], list[int]]:
        """Feature ids of a text being indexed; new features join the vocabularies."""
        words = content_words(normalise_text(text))
        word_ids = _lookup(self._word_vocab, word_features(words))
        char_ids: list[int] = []
        for word in words:
            cached = self._char_cache.get(word)
            if cached is None:
                cached = self._char_cache[word] = _lookup(self._char_vocab, char_ngrams(word))
            char_ids.extend(cached)
        return word_ids, char_ids

    def _query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The query's weighted features as (columns of the index, weights): sparse, so a lookup touches only
        the texts that share a feature. Unseen features count in its norm."""
        self._matrix_()
        assert self._idf is not None
        idf_words, idf_chars = self._idf
        words = content_words(normalise_text(text))
        cols: list[int] = []
        weights: list[float] = []
        unseen_idf = math.log(len(self) + 1) + 1
        for features, vocab, idf, weight, offset in (
            (word_features(words), self._word_vocab, idf_words, WORD_WEIGHT, 0),
            ([g for w in words for g in char_ngrams(w)], self._char_vocab, idf_chars, 1 - WORD_WEIGHT, idf_words.size),
        ):
            start = len(weights)
            norm2 = 0.0
            for feature, count in Counter(features).items():
                tf = 1 + math.log(count)
                col = vocab.get(feature)
                if col is None:
                    norm2 += (tf * unseen_idf) ** 2
                else:
                    cols.append(offset + col)
                    weights.append(tf * float(idf[col]))
                    norm2 += weights[-1] ** 2
            scale = math.sqrt(weight / norm2) if norm2 else 0.0
            weights[start:] = [w * scale for w in weights[start:]]
        return np.asarray(cols, dtype=np.int64), np.asarray(weights, dtype=float)

    def _columns(self) -> scipy.sparse.csc_array:
        """The weighted matrix by column, for lookups (built on first use, like the matrix)."""
        if self._csc is None:
            self._csc = scipy.sparse.csc_array(self._matrix_())
        csc: scipy.sparse.csc_array = self._csc
        return csc

    def _dimensions32(self) -> np.ndarray:
        """The embeddings as float32, one row per dimension, for lookups. A draft's vector times this layout is
        the fastest product we measured on 10,000 texts: 0.26 ms idle, 0.34-0.37 ms with both cores busy, where
        `einsum` over the rows took 0.8 and 1.2 ms (and 1.4 ms inside a lookup, the lexical part having evicted
        the rows from cache) and the rows times the vector through BLAS 0.36 and 0.9-1.4 ms."""
        if self._dimensions_f32 is None:
            assert self._vectors is not None
            self._dimensions_f32 = np.ascontiguousarray(self._vectors.T, dtype=np.float32)
        return self._dimensions_f32

    def _vectors32(self) -> np.ndarray:
        """The embeddings as float32, one row per text, for pair similarities: half the memory traffic of float64, and
        the model's own precision (lookups use `_dimensions32`)."""
        if self._vectors_f32 is None:
            assert self._vectors is not None
            self._vectors_f32 = self._vectors.astype(np.float32)
        return self._vectors_f32

    def _weighted_words(self) -> scipy.sparse.csr_array:
        return self._block(self._word_ids, self._word_ptr, len(self._word_vocab), 1.0)[0]

    def _matrix_(self) -> scipy.sparse.csr_array:
        if self._matrix is None:
            words, idf_w = self._block(self._word_ids, self._word_ptr, len(self._word_vocab), WORD_WEIGHT)
            chars, idf_c = self._block(self._char_ids, self._char_ptr, len(self._char_vocab), 1 - WORD_WEIGHT)
            self._matrix = scipy.sparse.csr_array(scipy.sparse.hstack([words, chars], format="csr"))
            self._idf = (idf_w, idf_c)
        matrix: scipy.sparse.csr_array = self._matrix
        return matrix

    def _block(
        self, ids: np.ndarray, ptr: np.ndarray, n_cols: int, weight: float
    ) -> tuple[scipy.sparse.csr_array, np.ndarray]:
        """Rows of (1 + log tf) · idf, idf = ln((1 + n) / (1 + df)) + 1, scaled to norm sqrt(weight)."""
        n = ptr.size - 1
        # Copies: sum_duplicates works in place, and these are the index's own arrays.
        counts = scipy.sparse.csr_array((np.ones(ids.size), ids, ptr), shape=(n, n_cols), copy=True)
        counts.sum_duplicates()
        df = np.bincount(counts.indices, minlength=n_cols)
        idf = np.log((1 + n) / (1 + df)) + 1
        data = (1 + np.log(counts.data)) * idf[counts.indices]
        row_of = np.repeat(np.arange(n), np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(row_of, data * data, minlength=n))
        data *= np.sqrt(weight) / norms[row_of]
        return scipy.sparse.csr_array((data, counts.indices, counts.indptr), shape=(n, n_cols)), idf


_ARRAY_NAMES = (
    "format",
    "hubness",
    *(f"{name}{part}" for name in ("texts", "word_vocab", "char_vocab") for part in ("", "_ptr")),
    *(f"{name}_{part}" for name in ("word", "char") for part in ("ids", "ptr")),
)
"""The arrays of `TextIndex.to_arrays` ("vectors" aside, which only an index with embeddings has)."""


def mix(lexical: np.ndarray, cosine: np.ndarray) -> np.ndarray:
    """Raw similarity with embeddings: EMBEDDING_WEIGHT of the cosine (negative counts as 0), the rest lexical."""
    return np.asarray((1 - EMBEDDING_WEIGHT) * lexical + EMBEDDING_WEIGHT * np.maximum(cosine, 0.0), dtype=float)


def adjust(raw: np.ndarray, first: ArrayLike, second: ArrayLike) -> np.ndarray:
    """Raw similarities less HUBNESS_WEIGHT of the mean hubness of their two texts (CSLS), kept in [0, 1]; what
    had nothing in common stays 0."""
    hubs = (np.asarray(first, dtype=float) + np.asarray(second, dtype=float)) / 2
    return np.where(raw > 0, np.clip(raw - HUBNESS_WEIGHT * hubs, 0.0, 1.0), 0.0)


def _curve(mixed: bool, pairs: bool) -> tuple[float, float]:
    if pairs:
        return CALIBRATION_PAIRS_MIXED if mixed else CALIBRATION_PAIRS_LEXICAL
    return CALIBRATION_MIXED if mixed else CALIBRATION_LEXICAL


def calibrate(raw: ArrayLike, mixed: bool, pairs: bool = False) -> np.ndarray:
    """Raw similarities in [0, 1] to calibrated ones in [0, 1) (0 stays 0: nothing in common), monotone; `pairs`
    for raw similarities less their hubness (`adjust`)."""
    a, b = _curve(mixed, pairs)
    r = np.asarray(raw, dtype=float)
    return np.asarray(np.where(r <= 0, 0.0, 1 / (1 + np.exp(-(a + b * r)))))


def raw_floor(calibrated: float, mixed: bool, pairs: bool = False) -> float:
    """The raw similarity whose calibrated value is `calibrated` (the inverse of `calibrate`)."""
    a, b = _curve(mixed, pairs)
    p = min(max(calibrated, 1e-12), 1 - 1e-12)
    return (math.log(p / (1 - p)) - a) / b


def _probability(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _lookup(vocab: dict[str, int], features: list[str]) -> list[int]:
    return [vocab.setdefault(f, len(vocab)) for f in features]


def _append(ids: np.ndarray, ptr: np.ndarray, new_ids: list[int], new_ends: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids and offsets with the rows of newly added texts after the existing ones."""
    ends = np.asarray(new_ends, dtype=np.int64) + ids.size
    return np.concatenate([ids, np.asarray(new_ids, dtype=np.int64)]), np.concatenate([ptr, ends])


def _lsh_pairs(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Random-hyperplane LSH: texts whose embedding signs agree on every bit of a table, near in its order.

    Bits per table grow as log2(n), so buckets stay small; neighbours within a window of the sorted
    codes bound the pairs to n · tables · window.
    """
    n, dim = vectors.shape
    bits = max(4, min(62, math.ceil(math.log2(max(n, 2) / 8))))
    planes = np.random.default_rng(0).standard_normal((dim, _LSH_TABLES * bits))
    signs = (vectors @ planes > 0).reshape(n, _LSH_TABLES, bits)
    codes = signs.astype(np.int64) @ (1 << np.arange(bits, dtype=np.int64))
    firsts, seconds = [], []
    for table in range(_LSH_TABLES):
        order = np.argsort(codes[:, table], kind="stable")
        sorted_codes = codes[order, table]
        for offset in range(1, _LSH_WINDOW + 1):
            same = sorted_codes[:-offset] == sorted_codes[offset:]
            firsts.append(order[:-offset][same])
            seconds.append(order[offset:][same])
    return np.concatenate(firsts), np.concatenate(seconds)
