"""A TextIndex as plain arrays: the same answers after a round trip, and arrays from storage checked by name."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import numpy as np
import pytest

import ranking
from ranking import index as text_index
from ranking._arrays import pack_strings

TEXTS = [
    "Oat milk in every store",
    "Café au lait à emporter",
    "Longer opening hours on Sundays",
    "Charging points for electric cars",
    "Oat milk in all stores please",
]
QUERIES = ["stock oat milk", "CAFE AU LAIT", "electric car parking", "zzzz"]


def unit_rows(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim))
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))


def through_npz(index: ranking.TextIndex) -> ranking.TextIndex:
    """What storage does: numpy.savez, then numpy.load with allow_pickle=False."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **index.to_arrays())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        return ranking.TextIndex.from_arrays({name: npz[name] for name in npz.files})


def test_a_restored_index_gives_the_same_answers() -> None:
    index = ranking.TextIndex(TEXTS)
    restored = through_npz(index)
    assert restored.texts == TEXTS
    for query in QUERIES:
        assert restored.similar(query, k=5) == index.similar(query, k=5)
    np.testing.assert_array_equal(restored.similarity_matrix(range(5)), index.similarity_matrix(range(5)))
    for got, expected in zip(restored.candidate_pairs(), index.candidate_pairs(), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert (
        ranking.cluster_index(restored, 0.3).tolist()
        == ranking.cluster_index(index, 0.3).tolist()
        == [
            0,
            1,
            2,
            3,
            0,
        ]
    )


def test_a_restored_index_grows_like_the_original() -> None:
    index = ranking.TextIndex(TEXTS[:3])
    restored = through_npz(index)
    index.add(TEXTS[3:])
    restored.add(TEXTS[3:])
    for query in QUERIES:
        assert restored.similar(query, k=5) == index.similar(query, k=5)
    again, original = restored.to_arrays(), index.to_arrays()
    assert sorted(again) == sorted(original)
    for name in original:
        np.testing.assert_array_equal(again[name], original[name], err_msg=name)


def test_clustering_and_queries_leave_the_index_as_it_was() -> None:
    """The worker clusters the index it then stores: reading it must not change it."""
    index = ranking.TextIndex([text + " and more" for text in TEXTS] + TEXTS)
    before = index.to_arrays()
    ranking.cluster_index(index)
    index.similar("oat milk", k=3)
    index.pair_similarity([0, 1], [5, 6])
    after = index.to_arrays()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_embeddings_survive_bit_for_bit_and_stay_required() -> None:
    vectors = unit_rows(len(TEXTS))
    index = ranking.TextIndex(TEXTS, vectors=vectors)
    restored = through_npz(index)
    assert restored.vectors is not None and index.vectors is not None
    np.testing.assert_array_equal(restored.vectors, index.vectors)
    assert restored.similar("oat milk", k=5, vector=vectors[4]) == index.similar("oat milk", k=5, vector=vectors[4])
    with pytest.raises(ValueError) as refused:
        restored.add(["Recyclable coffee cups"])
    assert str(refused.value) == "vectors: this index holds embeddings, give one row per added text"


def test_empty_indexes_round_trip_with_and_without_embeddings() -> None:
    plain = through_npz(ranking.TextIndex([]))
    assert len(plain) == 0 and plain.vectors is None and plain.similar("oat milk") == []
    with_vectors = through_npz(ranking.TextIndex([], vectors=np.empty((0, 3))))
    assert with_vectors.vectors is not None and with_vectors.vectors.shape == (0, 3)
    with_vectors.add(["Oat milk"], vectors=[[0.0, 0.0, 2.0]])
    [(found, similarity)] = with_vectors.similar("oat milk", k=1, vector=[0.0, 0.0, 1.0])
    assert found == 0 and similarity == pytest.approx(float(text_index.calibrate([1.0], mixed=True)[0]))


def test_the_arrays_are_numbers_only_and_carry_the_format() -> None:
    arrays = ranking.TextIndex(TEXTS, vectors=unit_rows(len(TEXTS))).to_arrays()
    assert sorted(arrays) == [
        "char_ids",
        "char_ptr",
        "char_vocab",
        "char_vocab_ptr",
        "format",
        "hubness",
        "texts",
        "texts_ptr",
        "vectors",
        "word_ids",
        "word_ptr",
        "word_vocab",
        "word_vocab_ptr",
    ]
    assert {name: a.dtype.kind for name, a in arrays.items() if a.dtype.kind not in "iu"} == {
        "vectors": "f",
        "hubness": "f",
    }
    assert {arrays["texts"].dtype, arrays["char_ids"].dtype} == {np.dtype(np.uint8)}  # the smallest that holds them
    assert arrays["format"].shape == () and int(arrays["format"]) == ranking.INDEX_FORMAT == 4
    assert bytes(arrays["texts"]).decode() == "".join(TEXTS)
    assert "vectors" not in ranking.TextIndex(TEXTS).to_arrays()


Arrays = dict[str, np.ndarray]


def _replace(name: str, make: Callable[[np.ndarray], np.ndarray]) -> Callable[[Arrays], None]:
    def change(arrays: Arrays) -> None:
        arrays[name] = make(arrays[name].copy())

    return change


def _set(name: str, position: int | tuple[()], value: float) -> Callable[[Arrays], None]:
    def change(arrays: Arrays) -> None:
        arrays[name] = arrays[name].copy()
        arrays[name][position] = value

    return change


def _first_feature_twice(arrays: Arrays) -> None:
    vocab = bytes(arrays["word_vocab"])
    features = [vocab[a:b].decode() for a, b in itertools.pairwise(arrays["word_vocab_ptr"].tolist())]
    arrays["word_vocab"], arrays["word_vocab_ptr"] = pack_strings([features[0], *features[:-1]])


def _first_text_empty(arrays: Arrays) -> None:
    arrays["texts_ptr"] = arrays["texts_ptr"].copy()
    arrays["texts_ptr"][1] = 0


def _delete(name: str) -> Callable[[Arrays], None]:
    def change(arrays: Arrays) -> None:
        del arrays[name]

    return change


N_WORDS = len(ranking.TextIndex(TEXTS).to_arrays()["word_vocab_ptr"]) - 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(_set("format", (), 5), "format 5 is not 4, the one this version reads", id="a newer format"),
        pytest.param(
            _replace("format", lambda a: np.asarray(4.0)),
            "format 4.0 is not 4, the one this version reads",
            id="a format that is not an integer",
        ),
        pytest.param(
            _replace("format", lambda a: np.asarray([4])),
            "format [4] is not 4, the one this version reads",
            id="a format that is not one number",
        ),
        pytest.param(_delete("char_ids"), "char_ids is missing", id="an array missing"),
        pytest.param(
            lambda arrays: arrays.update(idea_ids=np.arange(5)),
            "idea_ids is not an expected array",
            id="an extra array",
        ),
        pytest.param(
            _set("word_ids", 0, N_WORDS), f"word_ids has ids outside 0..{N_WORDS - 1}", id="an id past the vocabulary"
        ),
        pytest.param(
            _replace("word_ids", lambda a: a.astype(np.int64) - 1),
            f"word_ids has ids outside 0..{N_WORDS - 1}",
            id="a negative id",
        ),
        pytest.param(
            _replace("char_ids", lambda a: a.astype(float)),
            "char_ids must hold integers, got dtype float64",
            id="ids as floats",
        ),
        pytest.param(
            _replace("char_ids", lambda a: a.reshape(1, -1)),
            "char_ids must be one-dimensional, got shape (1, {char_ids})",
            id="ids in two dimensions",
        ),
        pytest.param(
            _replace("word_ptr", lambda a: a[:-1]), "word_ptr must have 6 offsets, got 5", id="offsets of other texts"
        ),
        pytest.param(
            _replace("word_ptr", lambda a: a[::-1].copy()),
            "word_ptr must rise from 0 to {word_ids}",
            id="offsets that fall",
        ),
        pytest.param(
            _replace("char_ptr", lambda a: a + 1), "char_ptr must rise from 0 to {char_ids}", id="offsets past the ids"
        ),
        pytest.param(_set("texts", 0, 0xFF), "texts is not valid UTF-8", id="texts that are not UTF-8"),
        pytest.param(
            _replace("texts", lambda a: a.astype(np.int64)),
            "texts must be UTF-8 bytes (uint8), got dtype int64",
            id="texts as wide integers",
        ),
        pytest.param(_first_text_empty, "texts[0] is empty", id="an empty text"),
        pytest.param(_first_feature_twice, "word_vocab holds a feature twice", id="a feature twice in a vocabulary"),
        pytest.param(
            _replace("vectors", lambda a: a * 2),
            "vectors must have rows of unit length",
            id="vectors not of unit length",
        ),
        pytest.param(
            _replace("vectors", lambda a: a[:-1]),
            "vectors must be floats of shape (5, dim), got float64 (4, 8)",
            id="vectors of other texts",
        ),
        pytest.param(
            _set("vectors", 0, np.nan), "vectors must be finite (no NaN or inf)", id="vectors that are not finite"
        ),
        pytest.param(
            _replace("hubness", lambda a: a[:-1]),
            "hubness must be floats of shape (5,), got float64 (4,)",
            id="hubness of other texts",
        ),
        pytest.param(_set("hubness", 0, 1.5), "hubness must be numbers in [0, 1]", id="hubness above 1"),
        pytest.param(_set("hubness", 0, np.nan), "hubness must be numbers in [0, 1]", id="hubness not a number"),
        pytest.param(
            _replace("vectors", lambda a: a.astype(np.int64)),
            "vectors must be floats of shape (5, dim), got int64 (5, 8)",
            id="vectors as integers",
        ),
    ],
)
def test_arrays_that_are_not_an_index_are_refused_by_name(change: Callable[[Arrays], None], message: str) -> None:
    arrays = ranking.TextIndex(TEXTS, vectors=unit_rows(len(TEXTS))).to_arrays()
    change(arrays)
    with pytest.raises(ValueError) as refused:
        ranking.TextIndex.from_arrays(arrays)
    assert str(refused.value) == message.format(**{name: a.size for name, a in arrays.items()})
