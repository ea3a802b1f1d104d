"""Duplicate-detection quality on public labelled duplicates, tuning and held-out sets apart.

    .venv/bin/python -m bench.duplicates_eval [DATA_DIR] [--no-embeddings] [--fit | --levels]

DATA_DIR (default /work/data) is outside the repository; fetched data is never committed. It holds files
exported from these public repositories at these commits (docs/ranking.md names licences and reasons):

  quora/dev.tsv, quora/test.tsv          Deep1994/Quora-Question-Pairs-dataset-analysis-and-construction
                                         @ 79a83eeb67f0b7fee10590ef5c841a835f827a27 : dataset/{dev,test}.tsv
  gitbugs/hadoop_bugs{,-combined}.csv    av9ash/gitbugs @ eadf2d6794990a1aaa26d0ae15391f29f8969301 : hadoop/
  gitbugs/SeaMonkey_bugs{,-combined}.csv the same commit : seamonkey/
  sts2016/question-question.test.tsv     brmson/dataset-sts @ e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081 :
                                         data/sts/semeval-sts/2016/question-question.test.tsv
  bugpairs/{Eclipse,Firefox}_textually_{similar,dissimilar}_pair.csv
                                         SigmaJahan/Towards-Understanding-the-Impacts-of-Textual-Dissimilarity-on-
                                         Duplicate-Bug-Report-Detection @ eea48dc7ab2cdddae08e57b0d89fe1ffc1c02dfb :
                                         "Datatset_{Eclipse,Firefox}_Pair (trigram)/" (the repository's spelling)

for example, with a clone of each repository: `git -C REPO show COMMIT:PATH > DATA_DIR/...`. Sets that are
absent are skipped with a message.

Tuning sets (the calibration and every threshold were chosen on them): Quora dev, Hadoop JIRA, STS 2016
question-question. Held out (never used to choose anything): Quora test, SeaMonkey, whose duplicates were
marked on Mozilla's Bugzilla, and Eclipse's and Firefox's Bugzilla pairs; the three bug sets are also read with
each report's description after its title (names ending in `+descriptions`), as the service indexes an idea.

What it prints, per set:
  - "did you mean" recall@5 (a labelled duplicate among the 5 most similar, the text itself excluded) for
    the lexical standard (TF-IDF over word 1-2-grams and character 3-5-grams, mean of both cosines),
    `TextIndex` without embeddings, and `TextIndex` with them (what the service runs with the semantic extra),
    each also with the calibrated floor (`ranking.SUGGESTION_FLOOR`) applied;
  - the calibration: among suggestions (top 5 of every text), the share that are labelled duplicates per
    band of calibrated score, lexical and mixed scores side by side (one scale: the same band should mean
    the same share in both);
  - clusters: pair precision and recall of `cluster_index` at each sensitivity level, and the recall of the
    lexical standard at the same precision (its pairs above a threshold, the best threshold for it).
With --fit it also fits the calibrations on the tuning sets and prints the constants for ranking/index.py: the
suggestions' curves (CALIBRATION_*) and those of pairs less their hubness (CALIBRATION_PAIRS_*, clusters).
With --levels it prints only how the sensitivity levels (ranking/duplicates.py) are chosen on the tuning sets.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import itertools
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse
from scipy.optimize import minimize
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

import ranking
from ideaengine.duplicates import idea_text
from ranking import index as text_index

K = 5


@dataclass
class Board:
    name: str
    tuning: bool
    texts: list[str]
    pairs: set[tuple[int, int]]
    vectors: np.ndarray | None = None
    _groups: np.ndarray | None = field(default=None, repr=False)

    @property
    def groups(self) -> np.ndarray:
        """Group id per text: labelled duplicates, closed transitively."""
        if self._groups is None:
            n = len(self.texts)
            if not self.pairs:
                self._groups = np.arange(n)
            else:
                i, j = np.array(sorted(self.pairs)).T
                graph = coo_array((np.ones(i.size), (i, j)), shape=(n, n))
                self._groups = connected_components(graph, directed=False)[1]
        return self._groups

    def duplicated(self) -> np.ndarray:
        """The texts that have a labelled duplicate: the ones every "did you mean" figure asks about."""
        sizes = np.bincount(self.groups)
        return np.flatnonzero(sizes[self.groups] > 1)

    def truth_pairs(self) -> int:
        sizes = np.bincount(self.groups)
        return int((sizes * (sizes - 1) // 2).sum())


def _board(name: str, tuning: bool, raw_pairs: list[tuple[str, str]], extra: list[str]) -> Board:
    index: dict[str, int] = {}
    for text in [t for p in raw_pairs for t in p] + extra:
        if text.strip():
            index.setdefault(text, len(index))
    pairs = {
        (min(index[a], index[b]), max(index[a], index[b]))
        for a, b in raw_pairs
        if a.strip() and b.strip() and index[a] != index[b]
    }
    return Board(name, tuning, list(index), pairs)


DESCRIBED = "+descriptions"
"""The suffix of a bug set's name when each text is the report's title and description (`idea_text`), as the
service indexes an idea's title and body; without it, titles only (the issue's own measurement)."""


def load_quora(path: Path, tuning: bool) -> Board | None:
    if not path.exists():
        print(f"skipped: {path} not found", file=sys.stderr)
        return None
    dup: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 3:
                (dup if row[0] == "1" else other).append((row[1], row[2]))
    return _board(f"quora/{path.stem}", tuning, dup, [t for p in other for t in p])


def load_gitbugs(directory: Path, project: str, tuning: bool, descriptions: bool = False) -> Board | None:
    bugs, links = directory / f"{project}.csv", directory / f"{project}-combined.csv"
    if not bugs.exists() or not links.exists():
        print(f"skipped: {bugs} or {links} not found", file=sys.stderr)
        return None
    csv.field_size_limit(1 << 30)
    with bugs.open(encoding="utf-8") as fh:
        titles = {
            row["Issue id"].strip(): idea_text(row["Summary"], row["Description"] if descriptions else "")
            for row in csv.DictReader(fh)
        }
    raw: list[tuple[str, str]] = []
    with links.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            a = row["Issue id"].strip()
            for b in (row.get("Duplicate id") or "").split(","):
                if a in titles and b.strip() in titles:
                    raw.append((titles[a], titles[b.strip()]))
    name = f"gitbugs/{project.split('_')[0].lower()}" + (DESCRIBED if descriptions else "")
    return _board(name, tuning, raw, list(titles.values()))


def load_sts_questions(path: Path, tuning: bool) -> Board | None:
    """STS 2016 question-question: pairs scored 4-5 ("equivalent") are duplicates; every question is a text."""
    if not path.exists():
        print(f"skipped: {path} not found", file=sys.stderr)
        return None
    dup, texts = [], []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 3:
                texts += row[1:3]
                if row[0].strip() and float(row[0]) >= 4:
                    dup.append((row[1], row[2]))
    return _board("sts2016/questions", tuning, dup, texts)


def load_bug_pairs(directory: Path, project: str, tuning: bool, descriptions: bool = False) -> Board | None:
    """Duplicate pairs of Bugzilla reports (both reports' texts in each row), the "textually similar" and
    "dissimilar" files together; every report of either file is a text. Descriptions come lowercased, without
    punctuation or digits (the set's own preprocessing)."""
    files = [directory / f"{project}_textually_{kind}_pair.csv" for kind in ("similar", "dissimilar")]
    if not all(f.exists() for f in files):
        print(f"skipped: {' or '.join(map(str, files))} not found", file=sys.stderr)
        return None
    csv.field_size_limit(1 << 30)
    titles: dict[str, str] = {}
    raw: list[tuple[str, str]] = []
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                # Ids are written as floats ("526539.0") in one column; titles as a Python list of one string.
                a, b = (str(int(float(row[c]))) for c in ("Bug ID", "Duplicate_Bug_Ids"))
                for bug, title, body in ((a, "Summary1", "description1"), (b, "summary2", "description2")):
                    described = " ".join(" ".join(ast.literal_eval(row[body])).split()) if descriptions else ""
                    titles.setdefault(bug, idea_text(" ".join(ast.literal_eval(row[title])), described))
                raw.append((titles[a], titles[b]))
    name = f"bugzilla/{project.lower()}" + (DESCRIBED if descriptions else "")
    return _board(name, tuning, raw, list(titles.values()))


def load_all(data: Path) -> list[Board]:
    boards = [
        load_quora(data / "quora" / "dev.tsv", tuning=True),
        load_gitbugs(data / "gitbugs", "hadoop_bugs", tuning=True),
        load_sts_questions(data / "sts2016" / "question-question.test.tsv", tuning=True),
        load_quora(data / "quora" / "test.tsv", tuning=False),
        load_gitbugs(data / "gitbugs", "SeaMonkey_bugs", tuning=False),
        load_bug_pairs(data / "bugpairs", "Eclipse", tuning=False),
        load_bug_pairs(data / "bugpairs", "Firefox", tuning=False),
        # The held-out bug sets again as the service indexes an idea: its title and its description.
        load_gitbugs(data / "gitbugs", "SeaMonkey_bugs", tuning=False, descriptions=True),
        load_bug_pairs(data / "bugpairs", "Eclipse", tuning=False, descriptions=True),
        load_bug_pairs(data / "bugpairs", "Firefox", tuning=False, descriptions=True),
    ]
    return [b for b in boards if b is not None]


def embed_cached(board: Board, cache: Path) -> np.ndarray | None:
    """The board's embeddings, computed once and kept beside the data (keyed by the texts and the model)."""
    from ideaengine.platform import embeddings

    if not embeddings.available():
        return None
    digest = hashlib.sha256("\x00".join([embeddings.MODEL_ID, *board.texts]).encode()).hexdigest()[:16]
    path = cache / f"{board.name.replace('/', '_')}-{digest}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=float)
    start = time.perf_counter()
    vectors = embeddings.embed(board.texts)
    assert vectors is not None
    elapsed = time.perf_counter() - start
    print(f"embedded {board.name}: {len(board.texts)} texts in {elapsed:.1f} s", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return np.asarray(vectors, dtype=float)


# --- the lexical standard ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _tfidf(docs: list[list[str]]) -> scipy.sparse.csr_array:
    """Raw counts x smooth idf, rows L2-normalised (scikit-learn's TfidfVectorizer defaults)."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for r, features in enumerate(docs):
        for f in features:
            rows.append(r)
            cols.append(vocab.setdefault(f, len(vocab)))
    counts = scipy.sparse.csr_array(
        (np.ones(len(rows)), (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
        shape=(len(docs), max(len(vocab), 1)),
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + len(docs)) / (1 + df)) + 1
    weighted = scipy.sparse.csr_array(counts @ scipy.sparse.diags_array(idf))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return scipy.sparse.csr_array(scipy.sparse.diags_array(1 / np.maximum(norms, 1e-12)) @ weighted)


def lexical_standard(texts: list[str]) -> tuple[scipy.sparse.csr_array, scipy.sparse.csr_array]:
    """Word 1-2-gram and char 3-5-gram (inside word boundaries) TF-IDF matrices; similarity: mean of cosines."""
    words, chars = [], []
    for text in texts:
        tokens = _TOKEN.findall(text.lower())
        words.append(tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)])
        grams = []
        for w in text.lower().split():
            padded = f" {w} "
            grams += [padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
        chars.append(grams)
    return _tfidf(words), _tfidf(chars)


# --- neighbours and scores --------------------------------------------------------------------------------


@dataclass
class Neighbours:
    """For each text, its K' nearest others by some similarity: indices and raw similarities, best first."""

    index: np.ndarray
    score: np.ndarray


def _top(sims: np.ndarray, start: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(sims.shape[0])
    sims[rows, rows + start] = -np.inf  # never the text itself
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    vals = np.take_along_axis(sims, top, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(vals, order, axis=1)


def neighbours(similarity: Callable[[int, int], np.ndarray], n: int, k: int = 10, chunk: int = 1000) -> Neighbours:
    idx, val = [], []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        i, s = _top(similarity(start, stop), start, k)
        idx.append(i)
        val.append(s)
    return Neighbours(np.vstack(idx), np.vstack(val))


def standard_similarity(texts: list[str]) -> Callable[[int, int], np.ndarray]:
    w, c = lexical_standard(texts)
    wt, ct = scipy.sparse.csr_array(w.T), scipy.sparse.csr_array(c.T)
    return lambda a, b: ((w[a:b] @ wt).toarray() + (c[a:b] @ ct).toarray()) / 2


def index_similarity(index: ranking.TextIndex, pairs: bool = False) -> Callable[[int, int], np.ndarray]:
    """Raw similarities of `TextIndex` rows, lexical or mixed as the index has embeddings or not: what `similar`
    ranks by, or with `pairs` what `pair_similarity` calibrates (less the two texts' hubness)."""
    x = index._matrix_()  # the bench reads the index's own matrix: all texts at once, not one query at a time
    xt = scipy.sparse.csr_array(x.T)
    v = index.vectors
    hubness = index.hubness() if pairs else np.zeros(0)

    def sims(a: int, b: int) -> np.ndarray:
        raw: np.ndarray = np.clip((x[a:b] @ xt).toarray(), 0, 1)
        if v is not None:
            raw = np.clip(text_index.mix(raw, v[a:b] @ v.T), 0, 1)
        return text_index.adjust(raw, hubness[a:b, None], hubness[None, :]) if pairs else raw

    return sims


def recall_at(board: Board, nb: Neighbours, floor: float = -np.inf, k: int = K) -> float:
    group = board.groups
    queries = board.duplicated()
    hit = (group[nb.index[queries, :k]] == group[queries, None]) & (nb.score[queries, :k] >= floor)
    return float(hit.any(axis=1).mean()) if queries.size else float("nan")


# --- calibration ------------------------------------------------------------------------------------------


def suggestions(board: Board, nb: Neighbours, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Raw score and label (labelled duplicate or not) of the top-k suggestions of every text that has a
    labelled duplicate: the calibration's population ("for a draft that has a duplicate"), which the sets'
    very different shares of labelled texts leave comparable."""
    queries = board.duplicated()
    labels = board.groups[nb.index[queries, :k]] == board.groups[queries, None]
    return nb.score[queries, :k].ravel(), labels.ravel()


def fit_logistic(samples: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """(a, b) of 1 / (1 + exp(-(a + b * raw))) by maximum likelihood, each set weighing the same whatever its size."""
    x = np.concatenate([s for s, _ in samples])
    y = np.concatenate([label for _, label in samples]).astype(float)
    w = np.concatenate([np.full(s.size, 1.0 / s.size) for s, _ in samples])

    def loss(p: np.ndarray) -> float:
        z = p[0] + p[1] * x
        return float(np.sum(w * (np.logaddexp(0, z) - y * z)))

    fit = minimize(loss, np.array([-5.0, 8.0]), method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-12})
    return float(fit.x[0]), float(fit.x[1])


# --- clusters ---------------------------------------------------------------------------------------------


def cluster_pr(board: Board, labels: np.ndarray) -> tuple[float, float, int]:
    """Pair precision and recall of a clustering against the labelled groups, and the predicted pairs."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    predicted = correct = 0
    for members in np.split(order, bounds):
        if members.size < 2:
            continue
        g = board.groups[members]
        predicted += members.size * (members.size - 1) // 2
        counts = np.bincount(g)
        correct += int((counts * (counts - 1) // 2).sum())
    total = board.truth_pairs()
    return (correct / predicted if predicted else float("nan")), correct / max(total, 1), predicted


def standard_pairs(board: Board, nb: Neighbours) -> tuple[np.ndarray, np.ndarray]:
    """The lexical standard's distinct pairs (a < b), best first, as two arrays of text ids."""
    i = np.repeat(np.arange(nb.index.shape[0]), nb.index.shape[1])
    j = nb.index.ravel()
    s = nb.score.ravel()
    keys = np.minimum(i, j) * len(board.texts) + np.maximum(i, j)
    keys, first = np.unique(keys, return_index=True)
    order = np.argsort(-s[first], kind="stable")
    return keys[order] // len(board.texts), keys[order] % len(board.texts)


def standard_recall_at(board: Board, nb: Neighbours, precision: float) -> float:
    """Best pair recall of the lexical standard's pairs above a threshold with at least `precision`."""
    a, b = standard_pairs(board, nb)
    tp = np.cumsum(board.groups[a] == board.groups[b])
    ok = tp / np.arange(1, a.size + 1) >= precision
    return float(tp[ok].max() / max(board.truth_pairs(), 1)) if ok.any() else 0.0


BOOTSTRAP_DRAWS = 200


def multiple_interval(board: Board, labels: np.ndarray, nb: Neighbours, seed: int = 0) -> tuple[float, float]:
    """A 90% interval for ours-to-the-standard's recall multiple at our precision: a Poisson bootstrap over the
    texts (each drawn a Poisson(1) number of times, a pair weighing the product of its texts' draws), the
    clusters and the standard's ranking held fixed. It says how much the multiple owes to which texts happen to
    be in the set; not how the clusters themselves would move."""
    (oa, ob), (ta, tb) = _pairs_within(labels), _pairs_within(board.groups)
    if oa.size == 0 or ta.size == 0:
        return np.nan, np.nan
    sa, sb = standard_pairs(board, nb)
    our_correct, std_correct = board.groups[oa] == board.groups[ob], board.groups[sa] == board.groups[sb]
    rng = np.random.default_rng(seed)
    multiples = []
    for _ in range(BOOTSTRAP_DRAWS):
        w = rng.poisson(1.0, len(board.texts)).astype(float)
        total = (w[ta] * w[tb]).sum()
        ow = w[oa] * w[ob]
        if total == 0 or ow.sum() == 0:
            continue
        precision, recall = ow[our_correct].sum() / ow.sum(), ow[our_correct].sum() / total
        sw = w[sa] * w[sb]
        tp = np.cumsum(sw * std_correct)
        ok = tp >= precision * np.maximum(np.cumsum(sw), 1e-12)
        std = tp[ok].max() / total if ok.any() else 0.0
        multiples.append(recall / std if std > 0 else np.inf)
    if not multiples:
        return np.nan, np.nan
    # "nearest": a draw's own value, inf where its standard found no pair at that precision.
    lo, hi = np.percentile(multiples, [5, 95], method="nearest")
    return float(lo), float(hi)


def _pairs_within(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of texts that share a label, as two arrays of text ids."""
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    pairs = [np.array(list(itertools.combinations(g.tolist(), 2))) for g in groups if g.size > 1]
    if not pairs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = np.concatenate(pairs).T
    return a, b


def interval_text(lo: float, hi: float) -> str:
    if np.isnan(lo):
        return "-"
    return f"{lo:.1f}x or more" if np.isinf(hi) else f"{lo:.1f}x-{hi:.1f}x"


LEVEL_PRECISION = {"LOW": 0.6, "MEDIUM": 0.5, "HIGH": 0.3}
"Pooled pair precision each sensitivity level must reach on the tuning sets."
LEVEL_THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 16))
LEVEL_MUTUAL: tuple[int | None, ...] = (None, 1, 2, 3, 5)


def choose_levels(tuning: list[Board], embeddings: bool = True) -> None:
    """The rule behind ranking.SENSITIVITY_THRESHOLDS and SENSITIVITY_MUTUAL: pair precision and recall pooled
    over the tuning sets' clusters for every threshold and mutual-neighbour rule tried, and per level the pair
    with the most pooled recall among those whose pooled precision reaches LEVEL_PRECISION."""
    indexes = [ranking.TextIndex(b.texts, b.vectors if embeddings else None) for b in tuning]
    truth = sum(b.truth_pairs() for b in tuning)
    pooled: dict[tuple[int | None, float], tuple[float, float]] = {}
    print("| mutual | " + " | ".join(f"{t:.2f}" for t in LEVEL_THRESHOLDS) + " |  (pooled pair precision / recall)")
    print("|---|" + "---|" * len(LEVEL_THRESHOLDS))
    for mutual in LEVEL_MUTUAL:
        cells = []
        for t in LEVEL_THRESHOLDS:
            predicted = correct = 0
            for board, index in zip(tuning, indexes, strict=True):
                p, _, n = cluster_pr(board, ranking.cluster_index(index, t, mutual))
                predicted, correct = predicted + n, correct + (round(p * n) if n else 0)
            pooled[mutual, t] = (correct / predicted if predicted else 0.0, correct / max(truth, 1))
            cells.append("{:.3f} / {:.3f}".format(*pooled[mutual, t]))
        print(f"| {mutual or 'any'} | " + " | ".join(cells) + " |")
    print()
    for level, target in LEVEL_PRECISION.items():
        reaching = [(r, -t, m) for (m, t), (p, r) in pooled.items() if p >= target]
        if not reaching:
            print(f"{level}: no threshold reaches pooled precision {target}")
            continue
        recall, t, mutual = max(reaching, key=lambda x: (x[0], x[1]))
        precision = pooled[mutual, -t][0]
        print(f"{level}: threshold {-t:.2f}, mutual {mutual}: pooled precision {precision:.3f}, recall {recall:.3f}")


# --- report -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default="/work/data", type=Path)
    parser.add_argument("--no-embeddings", action="store_true", help="lexical TextIndex only")
    parser.add_argument("--fit", action="store_true", help="fit the calibration on the tuning sets and print it")
    parser.add_argument("--levels", action="store_true", help="choose the sensitivity levels on the tuning sets")
    args = parser.parse_args(argv)
    boards = load_all(args.data)
    if not boards:
        print("no labelled duplicate data found: nothing to evaluate")
        return
    for board in boards:
        board.vectors = None if args.no_embeddings else embed_cached(board, args.data / "cache")
    if args.levels:
        choose_levels([b for b in boards if b.tuning], embeddings=not args.no_embeddings)
        return
    run(boards, fit=args.fit)
    _print_title_drafts([b for b in boards if b.name.endswith(DESCRIBED)], None if args.no_embeddings else args.data)


def run(boards: list[Board], fit: bool = False) -> None:
    results: dict[str, dict[str, Neighbours]] = {}
    for board in boards:
        start = time.perf_counter()
        results[board.name] = {
            "standard": neighbours(standard_similarity(board.texts), len(board.texts)),
            "lexical": neighbours(index_similarity(ranking.TextIndex(board.texts)), len(board.texts)),
        }
        if board.vectors is not None:
            mixed = ranking.TextIndex(board.texts, board.vectors)
            results[board.name]["mixed"] = neighbours(index_similarity(mixed), len(board.texts))
        if fit and board.tuning:  # the curves of pairs less their hubness (clusters) are fitted on their own scores
            for mode, vectors in (("lexical", None), ("mixed", board.vectors)):
                if mode in results[board.name]:
                    pairs = index_similarity(ranking.TextIndex(board.texts, vectors), pairs=True)
                    results[board.name][f"{mode} pairs"] = neighbours(pairs, len(board.texts))
        print(f"scored {board.name} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    modes = [m for m in ("lexical", "mixed") if all(m in r for r in results.values())]
    if fit:
        for mode in [*modes, *(f"{m} pairs" for m in modes)]:
            samples = [suggestions(b, results[b.name][mode]) for b in boards if b.tuning]
            print(f"calibration fitted on the tuning sets, {mode}: (a, b) = {fit_logistic(samples)}")
        print()
    _print_recall(boards, results, modes)
    _print_calibration(boards, results, modes)
    _print_clusters(boards, results, modes)


def _print_recall(boards: list[Board], results: dict[str, dict[str, Neighbours]], modes: list[str]) -> None:
    print(f'"Did you mean": recall@{K} (a labelled duplicate among the top {K}); [with the calibrated floor]')
    print()
    print("| set | use | texts | labelled pairs (closed) | lexical standard | " + " | ".join(modes) + " |")
    print("|---|---|---|---|---|" + "---|" * len(modes))
    for board in boards:
        r = results[board.name]
        cells = [f"{recall_at(board, r['standard']):.3f}"]
        for mode in modes:
            floor = text_index.raw_floor(ranking.SUGGESTION_FLOOR, mode == "mixed")
            cells.append(f"{recall_at(board, r[mode]):.3f} [{recall_at(board, r[mode], floor):.3f}]")
        use = "tuning" if board.tuning else "held out"
        print(f"| {board.name} | {use} | {len(board.texts)} | {board.truth_pairs()} | " + " | ".join(cells) + " |")
    print()


BANDS = (0.0, 0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0001)


def _print_calibration(boards: list[Board], results: dict[str, dict[str, Neighbours]], modes: list[str]) -> None:
    print(f"Calibration: share of top-{K} suggestions that are labelled duplicates (for texts that have one), by")
    print("calibrated score band; cells: words only / with embeddings (suggestions in the band). One scale: both")
    print("halves of a cell should read alike, and rise with the band.")
    print()
    print(
        "| calibrated score | "
        + " | ".join(f"{b.name} ({'tuning' if b.tuning else 'held out'})" for b in boards)
        + " |"
    )
    print("|---|" + "---|" * len(boards))
    for lo, hi in itertools.pairwise(BANDS):
        cells = []
        for b in boards:
            parts = []
            for mode in modes:
                raw, label = suggestions(b, results[b.name][mode])
                p = text_index.calibrate(raw, mode == "mixed")
                inside = (p >= lo) & (p < hi)
                parts.append(f"{label[inside].mean():.2f} ({int(inside.sum())})" if inside.any() else "-")
            cells.append(" / ".join(parts))
        print(f"| {lo:.2f}-{min(hi, 1.0):.2f} | " + " | ".join(cells) + " |")
    print()


def _print_clusters(boards: list[Board], results: dict[str, dict[str, Neighbours]], modes: list[str]) -> None:
    print("Clusters: pair precision / pair recall of cluster_index at each sensitivity level;")
    print("[the lexical standard's best recall at that precision, and ours as a multiple of it]")
    print()
    levels = list(ranking.SENSITIVITY_THRESHOLDS.items())
    print("| set | use | mode | " + " | ".join(f"{name} ({t:.2f})" for name, t in levels) + " |")
    print("|---|---|---|" + "---|" * len(levels))
    intervals: list[str] = []
    for board in boards:
        for mode in modes:
            vectors = board.vectors if mode == "mixed" else None
            index = ranking.TextIndex(board.texts, vectors)
            cells, spread = [], []
            for name, threshold in levels:
                start = time.perf_counter()
                labels = ranking.cluster_index(index, threshold, ranking.SENSITIVITY_MUTUAL[name])
                p, r, _ = cluster_pr(board, labels)
                elapsed = time.perf_counter() - start
                if not board.tuning and mode == "mixed":
                    standard = results[board.name]["standard"]
                    spread.append(interval_text(*multiple_interval(board, labels, standard)) if p > 0 else "-")
                if p > 0:  # NaN (nothing clustered) and 0 compare to nothing
                    std = standard_recall_at(board, results[board.name]["standard"], p)
                    ratio = f"{r / std:.1f}x" if std > 0 else "-"
                    cells.append(f"{p:.2f} / {r:.3f} [{std:.3f}, {ratio}] {elapsed:.1f}s")
                else:
                    cells.append(f"{p:.2f} / {r:.3f} [-] {elapsed:.1f}s")
            use = "tuning" if board.tuning else "held out"
            print(f"| {board.name} | {use} | {mode} | " + " | ".join(cells) + " |")
            if spread:
                intervals.append(f"| {board.name} | " + " | ".join(spread) + " |")
    print()
    if intervals:
        print(
            f"Held out, mixed: 90% interval of the multiple ({BOOTSTRAP_DRAWS} Poisson bootstrap draws over the texts,"
        )
        print("the clusters held fixed; `multiple_interval`)")
        print()
        print("| set | " + " | ".join(name for name, _ in levels) + " |")
        print("|---|" + "---|" * len(levels))
        print(*intervals, sep="\n")
        print()


def _print_title_drafts(boards: list[Board], data: Path | None) -> None:
    """A visitor types a title; the board's ideas have bodies: each text's title alone asked of the index of
    full texts (the text itself excluded), through `TextIndex.similar` as the service asks it (floor included)."""
    if not boards:
        return
    print(f'"Did you mean" for drafts of a title alone, against titles and descriptions: recall@{K}, with the floor')
    print()
    print("| set | texts asked | words only | mixed |")
    print("|---|---|---|---|")
    for board in boards:
        titles = [text.split("\n", 1)[0] for text in board.texts]
        drafts = Board(board.name.removesuffix(DESCRIBED) + "+title-drafts", False, titles, set())
        vectors = None if data is None or board.vectors is None else embed_cached(drafts, data / "cache")
        cells = [_title_recall(board, titles, ranking.TextIndex(board.texts), None)]
        if vectors is not None:
            cells.append(_title_recall(board, titles, ranking.TextIndex(board.texts, board.vectors), vectors))
        print(f"| {board.name} | {board.duplicated().size} | " + " | ".join(cells + ["-"] * (2 - len(cells))) + " |")
    print()


def _title_recall(board: Board, titles: list[str], index: ranking.TextIndex, vectors: np.ndarray | None) -> str:
    queries = board.duplicated()
    hits = 0
    for q in queries:
        found = [
            row for row, _ in index.similar(titles[q], k=K, vector=None if vectors is None else vectors[q], exclude=[q])
        ]
        hits += bool(np.any(board.groups[found] == board.groups[q]))
    return f"{hits / queries.size:.3f}"


if __name__ == "__main__":
    main()
