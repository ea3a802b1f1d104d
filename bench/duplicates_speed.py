"""Speed of duplicate detection with the `semantic` extra: embedding throughput, "did you mean" per query
(embedding the draft included) on a 10,000-text index, and clustering 100,000 texts with embeddings.

    .venv/bin/python -m bench.duplicates_speed [DATA_DIR] [--quick] [--no-clusters]

Texts: questions of the Quora set under DATA_DIR (see bench/duplicates_eval.py) when it is there, else the
synthetic idea titles of bench/ranking_bench.py. Clustering 100,000 texts uses synthetic titles and, as their
embeddings, sums of fixed random word vectors (embedding 100,000 texts would time the model, not clustering).
Targets (issue 17): < 5 ms per "did you mean" query on 10,000 texts, draft embedding included; 100,000 texts
clustered in < 60 s. Each line says whether its target was met in this run.

Each figure is set against a reference measured in the same run, interleaved with it so that both see the same
load: the embedder as it was before its products ran on integers (the pinned file's float products, batches of
32 by length, THREADS of them side by side, one intra-op thread each). A query's CPU time (all threads of the
process) moves less with the host's load than its wall time does.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import ranking
from bench.ranking_bench import idea_texts
from ideaengine.cli import one_blas_thread
from ideaengine.platform import embeddings

QUERY_TARGET_MS = 5.0
CLUSTER_TARGET_S = 60.0


def integer_kernels() -> str:
    """Which 8-bit products this CPU offers onnxruntime: its kernels, hence a draft's time and the last digits of
    the vectors, differ between them (docs/ranking.md)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU flags unknown"
    flags = {f for line in cpuinfo.splitlines() if line.startswith("flags") for f in line.split()}
    if "avx512_vnni" in flags:
        return "8-bit products on AVX-512 VNNI"
    if "avx_vnni" in flags:
        return "8-bit products on AVX-VNNI"
    if "avx2" in flags:
        return "8-bit products on AVX2, no VNNI (pairs summed in 16 bits, which can saturate)"
    return "no AVX2: 8-bit products on SSE"


def texts_from(data: Path, n: int) -> list[str]:
    found: dict[str, None] = {}
    for name in ("dev.tsv", "test.tsv"):
        path = data / "quora" / name
        if path.exists():
            with path.open(encoding="utf-8", errors="replace") as fh:
                for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                    for text in row[1:3]:
                        if text.strip():
                            found[text] = None
    texts = list(found)[:n]
    return texts if len(texts) == n else idea_texts(n)


def reference_model() -> Any:
    """The pinned file's float run, one intra-op thread: the embedder as it was before `_integer_products`."""
    files = embeddings._files()
    assert files is not None
    return embeddings.session_of(str(files[0]))


def _reference_batch(session: Any, texts: list[str]) -> np.ndarray:
    model = embeddings._load()
    assert model is not None
    encodings = model.tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    return np.asarray(pooled / np.linalg.norm(pooled, axis=1, keepdims=True), dtype=np.float32)


def reference_embed(session: Any, texts: list[str]) -> np.ndarray:
    """`embeddings.embed` as it was: batches of 32 by length, THREADS of them side by side."""
    out = np.empty((len(texts), embeddings.EMBEDDING_DIM), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    size = max(1, min(32, -(-len(order) // embeddings.THREADS)))
    batches = [order[start : start + size] for start in range(0, len(order), size)]
    if len(batches) == 1:
        out[batches[0]] = _reference_batch(session, [texts[i] for i in batches[0]])
        return out
    with ThreadPoolExecutor(min(embeddings.THREADS, len(batches))) as pool:
        rows = pool.map(lambda chosen: _reference_batch(session, [texts[i] for i in chosen]), batches)
        for chosen, batch in zip(batches, rows, strict=True):
            out[chosen] = batch
    return out


def bench_throughput(texts: list[str], reference: Any) -> None:
    embeddings.embed(texts[:64])  # load the model, warm the session
    reference_embed(reference, texts[:64])
    now, before = [], []
    for _ in range(3):  # interleaved, so that both see the same load
        start = time.perf_counter()
        embeddings.embed(texts)
        now.append(len(texts) / (time.perf_counter() - start))
        start = time.perf_counter()
        reference_embed(reference, texts)
        before.append(len(texts) / (time.perf_counter() - start))
    rate, reference_rate = statistics.median(now), statistics.median(before)
    print(
        f"embed {len(texts):,} texts, one a run, {embeddings.THREADS} runs side by side: {rate:4.0f} texts/s "
        f"({min(now):.0f}-{max(now):.0f}), {rate / reference_rate:.2f}x the reference"
    )
    print(f"  reference (float products, batches of 32 by length side by side): {reference_rate:4.0f} texts/s")


def bench_query(texts: list[str], queries: list[str], reference: Any) -> None:
    vectors = embeddings.embed(texts)
    index = ranking.TextIndex(texts, vectors)
    index.similar(queries[0], vector=embeddings.embed(queries[:1])[0])  # type: ignore[index]  # first: builds caches
    reference_embed(reference, queries[:1])
    embed_ms, lookup_ms, total_ms, cpu_ms, reference_ms = [], [], [], [], []
    for query in queries:  # the reference embeds each draft right after, to share the load of the moment
        cpu = time.process_time()
        start = time.perf_counter()
        vector = embeddings.embed([query])[0]  # type: ignore[index]
        mid = time.perf_counter()
        index.similar(query, k=5, vector=vector)
        end = time.perf_counter()
        cpu_ms.append((time.process_time() - cpu) * 1e3)
        embed_ms.append((mid - start) * 1e3)
        lookup_ms.append((end - mid) * 1e3)
        total_ms.append((end - start) * 1e3)
        start = time.perf_counter()
        vector = reference_embed(reference, [query])[0]
        index.similar(query, k=5, vector=vector)
        reference_ms.append((time.perf_counter() - start) * 1e3)
    words = ranking.TextIndex(texts)
    words.similar(queries[0])
    lexical_ms = []
    for query in queries:
        start = time.perf_counter()
        words.similar(query, k=5)
        lexical_ms.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(total_ms)
    p95 = float(np.percentile(total_ms, 95))
    before = statistics.median(reference_ms)
    met = "met" if median < QUERY_TARGET_MS else "NOT met"
    print(
        f'"did you mean" on {len(texts):,} texts, {len(queries)} drafts: median {median:.1f} ms, p95 {p95:.1f} ms '
        f"(embedding the draft {statistics.median(embed_ms):.1f} ms + lookup {statistics.median(lookup_ms):.2f} ms;"
        f" CPU {statistics.median(cpu_ms):.1f} ms); words only {statistics.median(lexical_ms):.2f} ms."
        f" Target < {QUERY_TARGET_MS:.0f} ms: {met}"
    )
    print(
        f"  reference embedder, same drafts interleaved: median {before:.1f} ms, p95 "
        f"{float(np.percentile(reference_ms, 95)):.1f} ms; {before / median:.2f}x faster now"
    )


def word_vectors(texts: list[str], dim: int = 384, seed: int = 0) -> np.ndarray:
    """Stand-in embeddings: each text the normalised sum of fixed random vectors of its words."""
    rng = np.random.default_rng(seed)
    vocab: dict[str, np.ndarray] = {}
    out = np.empty((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        total = np.zeros(dim, dtype=np.float32)
        for word in ranking.normalise_text(text).split():
            vec = vocab.get(word)
            if vec is None:
                vec = vocab[word] = rng.standard_normal(dim).astype(np.float32)
            total += vec
        out[row] = total / max(float(np.linalg.norm(total)), 1e-6)
    return out


def bench_clusters(n: int) -> None:
    texts = idea_texts(n)
    vectors = word_vectors(texts)
    start = time.perf_counter()
    index = ranking.TextIndex(texts, vectors)
    built = time.perf_counter() - start
    labels = ranking.cluster_index(index)
    elapsed = time.perf_counter() - start
    met = "met" if elapsed < CLUSTER_TARGET_S else "NOT met"
    print(
        f"cluster {n:,} texts with embeddings (default sensitivity): {elapsed:.1f} s (index {built:.1f} s), "
        f"{n - np.unique(labels).size:,} joined. Target < {CLUSTER_TARGET_S:.0f} s: {met}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default="/work/data", type=Path)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--no-clusters", action="store_true", help="skip clustering 100,000 texts")
    args = parser.parse_args(argv)
    if not embeddings.available():
        print("the `semantic` extra is not installed: nothing to measure")
        return
    scale = 10 if args.quick else 1
    one_blas_thread()  # as `ideaengine serve` and workers run
    load = os.getloadavg()[0]
    threads = os.environ.get("IDEAENGINE_EMBED_THREADS", embeddings.THREADS)
    print(
        f"{os.cpu_count()} cores, load average {load:.1f}; embedding runs at once {threads}, one thread each;"
        f" one BLAS thread; {integer_kernels()}"
    )
    texts = texts_from(args.data, 10_000 // scale + 200)
    reference = reference_model()
    bench_throughput(texts[: 2_000 // scale], reference)
    bench_query(texts[:-200], texts[-200:], reference)
    if not args.no_clusters:
        bench_clusters(100_000 // scale)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
