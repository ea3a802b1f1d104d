"""ideaengine.platform.embeddings: real vectors with the `semantic` extra, None without it; no database needed.

The tests that need the extra skip where it is not installed, except under IDEAENGINE_TEST_REQUIRE_SERVICES=1
(CI, whose `make test` installs everything), where a missing extra fails instead of skipping.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import ranking
from ideaengine.platform import embeddings

REQUIRE = os.environ.get("IDEAENGINE_TEST_REQUIRE_SERVICES") == "1"

PARAPHRASES = ("Oat milk in every store", "Please stock oat milk at all locations")
UNRELATED = ("Oat milk in every store", "Add a dark mode to the mobile app")
OTHER_IDEAS = [
    "Every store should have free parking",  # shares "every store" with the query, means something else
    "Open every store earlier on Sundays",
    "Add a dark mode to the mobile app",
    "Sell more vegan cheese",
    "Longer warranty on milk frothers",
]


def _embed(texts: list[str]) -> np.ndarray:
    vectors = embeddings.embed(texts)
    assert vectors is not None
    return vectors


@pytest.mark.usefixtures("semantic")
def test_rows_are_unit_float32_one_per_text_in_order() -> None:
    texts = ["Oat milk in every store", "", "x " * 600, "Café au lait, s'il vous plaît!"]
    vectors = _embed(texts)
    assert vectors.shape == (len(texts), embeddings.EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(_embed(texts[:1])[0], vectors[0])
    assert _embed([]).shape == (0, embeddings.EMBEDDING_DIM)


@pytest.mark.usefixtures("semantic")
def test_a_texts_row_does_not_depend_on_the_rest_of_the_batch() -> None:
    alone = _embed([PARAPHRASES[1]])[0]
    crowd = [f"idea number {i} about {'long ' * (i % 7)}things" for i in range(70)]
    among = _embed([*crowd[:40], PARAPHRASES[1], *crowd[40:]])[40]
    np.testing.assert_allclose(among, alone, atol=1e-6)


@pytest.mark.usefixtures("semantic")
def test_batches_run_side_by_side_give_the_rows_of_one_run_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedding spreads batches over several single-threaded runs at once: the rows are those of the runs made
    one after the other, in the caller's order."""
    texts = [f"idea {i}: {'and more words ' * (i % 9)}about oat milk" for i in range(150)]
    model = embeddings._load()
    assert model is not None
    monkeypatch.setattr(embeddings, "_model", dataclasses.replace(model, threads=3))
    side_by_side = _embed(texts)
    monkeypatch.setattr(embeddings, "_model", dataclasses.replace(model, threads=1))
    one_at_a_time = _embed(texts)
    np.testing.assert_allclose(side_by_side, one_at_a_time, rtol=0, atol=1e-6)
    np.testing.assert_allclose(side_by_side[7], _embed([texts[7]])[0], rtol=0, atol=1e-6)


@pytest.mark.usefixtures("semantic")
def test_paraphrases_are_closer_than_unrelated_ideas() -> None:
    a, b = _embed(list(PARAPHRASES))
    c, d = _embed(list(UNRELATED))
    paraphrase, unrelated = float(a @ b), float(c @ d)
    assert paraphrase > 0.6, paraphrase
    assert unrelated < 0.3, unrelated
    assert paraphrase > unrelated + 0.3


@pytest.mark.usefixtures("semantic")
def test_text_index_with_vectors_finds_the_paraphrase_first() -> None:
    query, paraphrase = PARAPHRASES
    texts = [*OTHER_IDEAS[:2], paraphrase, *OTHER_IDEAS[2:]]
    index = ranking.TextIndex(texts, vectors=embeddings.embed(texts))
    found = index.similar(query, k=3, vector=_embed([query])[0], floor=0.0)
    assert found[0][0] == texts.index(paraphrase), found
    assert found[0][1] > found[1][1] + 0.1, found


@pytest.mark.usefixtures("semantic")
def test_cluster_duplicates_with_vectors_joins_the_paraphrases_only() -> None:
    texts = [PARAPHRASES[0], *OTHER_IDEAS, PARAPHRASES[1]]
    # A loose paraphrase (calibrated similarity about 0.19): clustered only at a threshold this low.
    labels = ranking.cluster_duplicates(texts, threshold=0.15, vectors=embeddings.embed(texts))
    assert labels[0] == labels[-1]
    assert len(set(labels[1:-1].tolist())) == len(OTHER_IDEAS)
    assert labels[0] not in labels[1:-1]


@pytest.mark.usefixtures("semantic")
def test_the_integer_products_keep_the_float_runs_vectors() -> None:
    """Every weight product of the pinned file runs on integers, and the rows stay those of its float run within
    the activations' rounding: the rewrite changes how the products are computed, not what they compute."""
    onnx = importlib.import_module("onnx")
    files = embeddings._files()
    model = embeddings._load()
    assert files is not None and model is not None
    graph = onnx.load_from_string(embeddings._integer_products(files[0])).graph
    ops = Counter(node.op_type for node in graph.node)
    assert ops["MatMulInteger"] == 36
    assert ops["MatMul"] == 12  # attention's query-key and weights-value products: no stored weights in them
    float_run = dataclasses.replace(model, session=embeddings.session_of(str(files[0])))
    texts = [*PARAPHRASES, *OTHER_IDEAS, "Café au lait, s'il vous plaît!", "x " * 600]
    for text in texts:
        cosine = float(embeddings._encode(float_run, text) @ _embed([text])[0])
        assert 0.97 < cosine < 0.99999, (text, cosine)  # close, and not the float run itself


@pytest.mark.usefixtures("semantic")
def test_every_weight_product_is_exact_on_this_cpu() -> None:
    """Each integer product, run alone by onnxruntime on this machine's kernels, equals the exact product of
    uint8 activations (the largest, then random) by the file's own int8 weights: the vectors then do not depend
    on the CPU. With the int8 weights as stored, onnxruntime's AVX2 kernel without VNNI saturated (a product off
    by up to 93,430 on an AMD EPYC, and a text's vector 0.98 cosine to its vector on a CPU with VNNI)."""
    onnx = importlib.import_module("onnx")
    onnxruntime = importlib.import_module("onnxruntime")
    helper, numpy_helper, tensor = onnx.helper, onnx.numpy_helper, onnx.TensorProto
    files = embeddings._files()
    assert files is not None
    original = onnx.load(str(files[0])).graph
    stored = {t.name: numpy_helper.to_array(t) for t in original.initializer}
    producer = {out: node for node in original.node for out in node.output}
    graph = onnx.load_from_string(embeddings._integer_products(files[0])).graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    products = [node for node in graph.node if node.op_type == "MatMulInteger"]
    assert len(products) == 36
    rng = np.random.default_rng(7)
    for node in products:
        # The float product this one replaced (named by its output) read Cast(stored int8) * scale.
        replaced = next(n for n in original.node if n.op_type == "MatMul" and n.output[0] == node.output[0][:-4])
        int8 = stored[producer[producer[replaced.input[1]].input[0]].input[0]].astype(np.int64)
        weights, zero = constants[node.input[1]], constants[node.input[3]]
        rows = weights.shape[0]
        activations = np.concatenate([np.full((1, rows), 255, np.uint8), rng.integers(0, 256, (7, rows), np.uint8)])
        alone = helper.make_graph(
            [helper.make_node("MatMulInteger", ["a", "w", "a_zero", "w_zero"], ["y"])],
            "product",
            [helper.make_tensor_value_info("a", tensor.UINT8, list(activations.shape))],
            [helper.make_tensor_value_info("y", tensor.INT32, None)],
            [
                numpy_helper.from_array(weights, "w"),
                numpy_helper.from_array(zero, "w_zero"),
                numpy_helper.from_array(np.array(0, np.uint8), "a_zero"),
            ],
        )
        model = helper.make_model(alone, opset_imports=[helper.make_opsetid("", 17)])
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run(None, {"a": activations})[0]
        assert np.array_equal(got, activations.astype(np.int64) @ int8), node.output[0]


FORK_SCRIPT = """
import os, sys, time
import numpy as np
from ideaengine.platform.embeddings import embed
parent = embed(["Oat milk in every store"])
pid = os.fork()
if pid == 0:  # an rq work horse: embeds with its own session, leaves with os._exit
    child = embed(["Oat milk in every store", "Please stock oat milk at all locations"] * 20)
    os._exit(0 if np.allclose(child[0], parent[0], atol=1e-6) else 3)
for _ in range(300):  # 30 s, then the child is taken for hung and killed
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status))
    time.sleep(0.1)
os.kill(pid, 9)
os.waitpid(pid, 0)
sys.exit("the forked child hung")
"""


@pytest.mark.usefixtures("semantic")
def test_a_forked_child_embeds_with_a_session_of_its_own() -> None:
    """Replacing the session a child inherited used to free it there, which hangs (it joins lost threads)."""
    result = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr


def _forget_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the process had never loaded it; under the load lock, so that a server's background load started by
    an earlier test of this process (`embeddings.warm`) has finished and cannot set it again meanwhile."""
    with embeddings._lock:
        monkeypatch.setattr(embeddings, "_model", None)


@pytest.mark.parametrize("module", ["onnxruntime", "onnx"])
def test_a_missing_runtime_gives_none_not_an_error(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    _forget_the_model(monkeypatch)
    monkeypatch.setattr(embeddings, "_missing", False)
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    assert embeddings.embed(["Oat milk in every store"]) is None
    assert embeddings.embed([]) is None


def test_a_missing_model_package_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    _forget_the_model(monkeypatch)
    monkeypatch.setattr(embeddings, "_missing", False)
    monkeypatch.setattr(embeddings, "_MODEL_PACKAGE", "ideaengine_no_such_model_package")
    assert not embeddings.available()
    assert embeddings.embed(["Oat milk in every store"]) is None


def test_an_absent_extra_is_searched_for_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`/healthz` and every draft ask `available()`: without the extra, only the first call walks the import path."""
    _forget_the_model(monkeypatch)
    monkeypatch.setattr(embeddings, "_missing", False)
    monkeypatch.setattr(embeddings, "_MODEL_PACKAGE", "ideaengine_no_such_model_package")
    assert not embeddings.available()

    def searched(name: str, package: str | None = None) -> None:
        raise AssertionError(f"searched for {name} again")

    monkeypatch.setattr(importlib.util, "find_spec", searched)
    assert not embeddings.available()
    assert embeddings.state() == "absent"


def test_a_single_string_is_refused_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="texts"):
        embeddings.embed("Oat milk in every store")
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        embeddings.embed(["fine", 3])  # type: ignore[list-item]
