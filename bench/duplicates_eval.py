"""Duplicate-detection quality on real labelled duplicates: "did you mean" recall@5 and cluster pair P/R.

    .venv/bin/python -m bench.duplicates_eval [DATA_DIR] [--thresholds 0.3,0.35,...]

DATA_DIR (default /work/data) holds, outside the repository (fetched data is never committed):
  quora/dev.tsv, quora/test.tsv   label<TAB>question1<TAB>question2<TAB>id: the Quora Question Pairs
      release as split by github.com/Deep1994/Quora-Question-Pairs-dataset-analysis-and-construction
  gitbugs/{hadoop_bugs,SeaMonkey_bugs}.csv and *-combined.csv: issue titles and the duplicates their
      trackers recorded, from github.com/av9ash/gitbugs
Sets that are absent are skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

import ranking


@dataclass
class Board:
    name: str
    texts: list[str]
    pairs: set[tuple[int, int]]
    negatives: set[tuple[int, int]]

    def truth_groups(self) -> np.ndarray:
        """Group id per text: labelled duplicates, closed transitively."""
        n = len(self.texts)
        if not self.pairs:
            return np.arange(n)
        i, j = np.array(sorted(self.pairs)).T
        return connected_components(coo_array((np.ones(i.size), (i, j)), shape=(n, n)), directed=False)[1]


def _board(
    name: str, raw_pairs: list[tuple[str, str]], extra: list[str], raw_negatives: list[tuple[str, str]] = ()
) -> Board:
    index: dict[str, int] = {}
    for text in [t for p in raw_pairs for t in p] + extra:
        if text.strip():
            index.setdefault(text, len(index))

    def ids(raw: list[tuple[str, str]]) -> set[tuple[int, int]]:
        return {
            (min(index[a], index[b]), max(index[a], index[b]))
            for a, b in raw
            if a.strip() and b.strip() and index[a] != index[b]
        }

    return Board(name, list(index), ids(raw_pairs), ids(list(raw_negatives)) - ids(raw_pairs))


def load_quora(path: Path) -> Board | None:
    if not path.exists():
        print(f"skipped: {path} not found", file=sys.stderr)
        return None
    dup, other = [], []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 3:
                continue
            (dup if row[0] == "1" else other).append((row[1], row[2]))
    return _board(f"quora/{path.stem}", dup, [t for p in other for t in p], other)


def load_gitbugs(directory: Path, project: str) -> Board | None:
    bugs, links = directory / f"{project}.csv", directory / f"{project}-combined.csv"
    if not bugs.exists() or not links.exists():
        print(f"skipped: {bugs} or {links} not found", file=sys.stderr)
        return None
    csv.field_size_limit(1 << 30)
    with bugs.open(encoding="utf-8") as fh:
        titles = {row["Issue id"].strip(): row["Summary"] for row in csv.DictReader(fh)}
    raw: list[tuple[str, str]] = []
    with links.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            a = row["Issue id"].strip()
            for b in (row.get("Duplicate id") or "").split(","):
                b = b.strip()
                if a in titles and b in titles:
                    raw.append((titles[a], titles[b]))
    return _board(f"gitbugs/{project}", raw, list(titles.values()))


def recall_at_5(board: Board) -> tuple[int, int]:
    """Queries with a labelled duplicate, and how many find one in their top 5 (themselves excluded)."""
    group = board.truth_groups()
    sizes = np.bincount(group)
    index = ranking.TextIndex(board.texts)
    hits = queries = 0
    for q in np.flatnonzero(sizes[group] > 1):
        found = [i for i, _ in index.similar(board.texts[q], k=6) if i != q][:5]
        queries += 1
        hits += any(group[i] == group[q] for i in found)
    return hits, queries


def _pairs_in(labels: np.ndarray) -> Iterator[tuple[int, int]]:
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for members in np.split(order, bounds):
        for a in range(members.size):
            for b in range(a + 1, members.size):
                yield int(members[a]), int(members[b])


def cluster_pairs(board: Board, threshold: float) -> tuple[int, int, int, int]:
    """Predicted pairs (same cluster), how many are labelled duplicates (transitively), and among the
    predicted pairs that were labelled either way (Quora labels hard negatives too), how many and how
    many of them positive."""
    labels = ranking.cluster_duplicates(board.texts, threshold=threshold)
    group = board.truth_groups()
    predicted = correct = judged = judged_positive = 0
    for a, b in _pairs_in(labels):
        predicted += 1
        correct += group[a] == group[b]
        if (a, b) in board.pairs:
            judged += 1
            judged_positive += 1
        elif (a, b) in board.negatives:
            judged += 1
    return predicted, correct, judged, judged_positive


def truth_pairs(board: Board) -> int:
    sizes = np.bincount(board.truth_groups())
    return int((sizes * (sizes - 1) // 2).sum())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default="/work/data", type=Path)
    parser.add_argument("--thresholds", default="0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7,0.75,0.8")
    args = parser.parse_args(argv)
    boards = [
        load_quora(args.data / "quora" / "dev.tsv"),
        load_quora(args.data / "quora" / "test.tsv"),
        load_gitbugs(args.data / "gitbugs", "hadoop_bugs"),
        load_gitbugs(args.data / "gitbugs", "SeaMonkey_bugs"),
    ]
    present = [b for b in boards if b is not None]
    if not present:
        print("no labelled duplicate data found: nothing to evaluate")
        return
    thresholds = [float(t) for t in args.thresholds.split(",")]
    print("| board | texts | duplicate pairs (closed) | recall@5 |")
    print("|---|---|---|---|")
    for board in present:
        start = time.perf_counter()
        hits, queries = recall_at_5(board)
        print(
            f"| {board.name} | {len(board.texts)} | {truth_pairs(board)} | "
            f"{hits / max(queries, 1):.3f} ({hits}/{queries}, {time.perf_counter() - start:.1f} s) |"
        )
    print()
    print("Cells: pair precision / pair recall of cluster_duplicates; [precision among labelled pairs].")
    print()
    print("| threshold | " + " | ".join(f"{b.name}" for b in present) + " | tuning sets pooled P / R |")
    print("|---|" + "---|" * (len(present) + 1))
    for t in thresholds:
        cells, pooled = [], np.zeros(3)
        for board in present:
            predicted, correct, judged, judged_positive = cluster_pairs(board, t)
            total = truth_pairs(board)
            cell = f"{correct / max(predicted, 1):.2f} / {correct / max(total, 1):.3f}"
            if board.negatives:
                cell += f" [{judged_positive / max(judged, 1):.2f}]"
            cells.append(cell)
            if board.name != "quora/test":
                pooled += (predicted, correct, total)
        print(
            f"| {t:.2f} | "
            + " | ".join(cells)
            + f" | {pooled[1] / max(pooled[0], 1):.2f} / {pooled[1] / max(pooled[2], 1):.3f} |"
        )


if __name__ == "__main__":
    main()
