"""Text normalisation, "did you mean" and duplicate clusters."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest

import ranking
from ranking import index as text_index
from ranking.duplicates import mutual_neighbours

UNRELATED = [
    "Longer opening hours on Sundays",
    "Free parking for bicycles near the entrance",
    "Recycle coffee cups in the office",
    "Vegan options in the staff canteen",
    "Milkshakes at the cafe counter",
    "Self-checkout lanes to cut queues",
    "Stock more organic vegetables",
    "A loyalty card with monthly discounts",
    "Quieter music inside the shop",
    "Charging points for electric cars",
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Crème BRÛLÉE,   s'il vous plaît!! ", "creme brulee s il vous plait"),
        ("Oat-milk\tin\nEVERY store.", "oat milk in every store"),
        ("ｆｕｌｌ　ｗｉｄｔｈ", "full width"),
        ("Straße", "strasse"),
    ],
)
def test_normalisation_folds_case_accents_punctuation_and_whitespace(raw: str, expected: str) -> None:
    assert ranking.normalise_text(raw) == expected


def test_did_you_mean_finds_the_same_idea_in_other_words_first() -> None:
    index = ranking.TextIndex(["Oat milk in every store", *UNRELATED])
    best = index.similar("Please stock oat milk at all locations", k=3)
    assert best[0][0] == 0
    assert all(0 < s <= 1 for _, s in best)
    assert [s for _, s in best] == sorted((s for _, s in best), reverse=True)


def test_similarity_ignores_case_accents_and_punctuation() -> None:
    index = ranking.TextIndex(["Café au lait à emporter", *UNRELATED])
    (top, score), *_ = index.similar("CAFE AU LAIT A EMPORTER!!!", k=1)
    assert top == 0
    assert [(top, score)] == index.similar("Café au lait à emporter", k=1)  # the text itself: the highest score


def test_similar_returns_at_most_k_with_positive_similarity() -> None:
    index = ranking.TextIndex(UNRELATED)
    assert len(index.similar("coffee", k=5)) <= 5
    assert index.similar("zzzz qqqq", k=5) == []
    assert index.similar("coffee", k=0) == []
    assert ranking.TextIndex([]).similar("coffee") == []


def test_excluded_texts_are_never_offered_and_the_k_best_of_the_rest_are() -> None:
    oat = ["Oat milk in every store", "Oat milk at every store please", "Stock oat milk in the store"]
    index = ranking.TextIndex([*oat, *UNRELATED])
    everything = index.similar("oat milk in every store", k=3, floor=0.0)
    assert sorted(i for i, _ in everything) == [0, 1, 2]

    found = index.similar("oat milk in every store", k=3, exclude=[0, 1], floor=0.0)

    assert found[0] == (2, dict(everything)[2])  # the same similarity, now first
    assert len(found) == 3 and {0, 1}.isdisjoint(i for i, _ in found)
    assert index.similar("oat milk in every store", k=2, exclude=np.arange(len(index))) == []


def test_added_texts_are_found_and_keep_their_positions() -> None:
    index = ranking.TextIndex(UNRELATED[:5])
    index.add(["Oat milk in every store"])
    assert len(index) == 6
    assert index.similar("oat milk please", k=1)[0][0] == 5


def test_an_index_survives_pickling() -> None:
    index = ranking.TextIndex(["Oat milk in every store", *UNRELATED])
    before = index.similar("stock oat milk", k=3)
    restored = pickle.loads(pickle.dumps(index))
    assert restored.similar("stock oat milk", k=3) == before
    restored.add(["Oat milk lattes"])
    assert len(restored) == len(UNRELATED) + 2


def _raw(calibrated: float, mixed: bool, pairs: bool = False) -> float:
    return text_index.raw_floor(calibrated, mixed, pairs)


def test_embeddings_are_mixed_with_the_words_and_calibrated_on_their_own_curve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(text_index, "HUBNESS_WEIGHT", 0.0)  # pairs: the mixing alone (the hubness has its own tests)
    texts = ["Oat milk in every store", "Plant-based dairy alternatives", "Charging points for electric cars"]
    vectors = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])
    index = ranking.TextIndex(texts, vectors=vectors)
    lexical = ranking.TextIndex(texts)
    query, query_vector = "A vegan alternative to cow's milk", np.array([0.8, 0.6, 0.0])
    mixed = dict(index.similar(query, k=3, vector=query_vector, floor=0.0))
    words = dict(lexical.similar(query, k=3, floor=0.0))
    assert max(mixed, key=lambda i: mixed[i]) == 1
    w = text_index.EMBEDDING_WEIGHT
    expected = (1 - w) * (_raw(words[1], False) if 1 in words else 0.0) + w * 1.0
    assert _raw(mixed[1], True) == pytest.approx(expected)
    pair_words = _raw(lexical.pair_similarity([0], [1])[0], False, pairs=True)
    assert _raw(index.pair_similarity([0], [1])[0], True, pairs=True) == pytest.approx((1 - w) * pair_words + w * 0.8)


def test_one_scale_with_and_without_embeddings() -> None:
    """Calibrated scores mean the same whichever way they were computed: a text matched to itself scores
    about the same by words alone as with embeddings, a weak match stays weak, and the order never changes."""
    texts = ["Export reports to CSV", "Night theme for dashboard", *UNRELATED]
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((len(texts), 8))
    with_vectors = ranking.TextIndex(texts, vectors=vectors)
    words_only = ranking.TextIndex(texts)
    (same_words, by_words), *_ = words_only.similar("Export reports to CSV", k=1)
    (same_mixed, mixed), *_ = with_vectors.similar("Export reports to CSV", k=1, vector=vectors[0])
    assert same_words == same_mixed == 0
    assert 0.8 < by_words <= 1 and 0.8 < mixed <= 1 and abs(by_words - mixed) < 0.05
    raw = np.linspace(0, 1, 101)
    for is_mixed in (False, True):
        for pairs in (False, True):
            calibrated = text_index.calibrate(raw, is_mixed, pairs)
            assert calibrated[0] == 0 and np.all(np.diff(calibrated) > 0) and calibrated[-1] < 1
            assert text_index.raw_floor(float(calibrated[40]), is_mixed, pairs) == pytest.approx(raw[40])


def test_below_the_floor_nothing_is_offered() -> None:
    """ "Did you mean" stays quiet for unrelated drafts: weak matches exist but fall under SUGGESTION_FLOOR."""
    index = ranking.TextIndex(["Night theme for dashboard", "Export reports to CSV", *UNRELATED])
    weak = index.similar("Bigger umbrellas on the terrace", k=5, floor=0.0)
    assert weak and all(0 < s < ranking.SUGGESTION_FLOOR for _, s in weak)
    assert index.similar("Bigger umbrellas on the terrace", k=5) == []
    found = index.similar("Export reports to CSV", k=5)
    assert [i for i, _ in found] == [1]
    assert index.similar("Export reports to CSV", k=5, floor=0.99) == []


def test_duplicate_clusters_group_rewordings_and_leave_the_rest_alone() -> None:
    texts = [
        "Oat milk in every store",
        "Oat milk in every store please!",
        "oat milk in all stores",
        *UNRELATED,
    ]
    labels = ranking.cluster_duplicates(texts, threshold=0.3)
    assert labels[0] == labels[1] == labels[2] == 0
    np.testing.assert_array_equal(labels[3:], np.arange(3, len(texts)))


def test_average_linkage_does_not_chain_unrelated_texts_through_a_middle_one() -> None:
    a = "solar panels on the warehouse roof"
    bridge = "solar panels on the warehouse roof and a rainwater tank beside the car park"
    c = "a rainwater tank beside the car park"
    index = ranking.TextIndex([a, bridge, c])
    sims = index.similarity_matrix([0, 1, 2])
    threshold = min(sims[0, 1], sims[1, 2]) - 0.01
    assert sims[0, 2] < threshold  # connected components would put all three together
    labels = ranking.cluster_duplicates([a, bridge, c], threshold=threshold)
    assert len(set(labels.tolist())) == 2


def test_candidate_pairs_grow_linearly_not_as_all_pairs() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(words, 6)) for _ in range(4000)]
    i, j = ranking.TextIndex(texts).candidate_pairs()
    assert np.all(i < j)
    assert i.size <= 4000 * text_index.CANDIDATES_PER_TEXT


def test_clusters_are_labelled_by_their_earliest_text() -> None:
    labels = ranking.cluster_duplicates(["Charging points", "Oat milk in every store", "Oat milk in every store!"])
    np.testing.assert_array_equal(labels, [0, 1, 1])


def test_empty_and_single_inputs() -> None:
    assert ranking.cluster_duplicates([]).shape == (0,)
    np.testing.assert_array_equal(ranking.cluster_duplicates(["one idea"]), [0])


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: ranking.TextIndex(["fine", "  "]), "texts"),
        (lambda: ranking.TextIndex(["fine", 3]), "texts"),  # type: ignore[list-item]  # what the check is for
        (lambda: ranking.TextIndex("a single string"), "texts"),
        (lambda: ranking.TextIndex(["a", "b"], vectors=np.ones((3, 2))), "vectors"),
        (lambda: ranking.TextIndex(["a"], vectors=[[np.nan, 1.0]]), "vectors"),
        (lambda: ranking.TextIndex(["a"]).similar(""), "text"),
        (lambda: ranking.TextIndex(["a"]).similar("a", k=-1), "k"),
        (lambda: ranking.TextIndex(["a"]).similar("a", vector=[1.0, 0.0]), "vector"),
        (lambda: ranking.TextIndex(["a"]).similar("a", exclude=[1]), "exclude"),
        (lambda: ranking.TextIndex(["a"]).similar("a", exclude=[0.5]), "exclude"),
        (lambda: ranking.TextIndex(["a"]).similar("a", floor=1.5), "floor"),
        (lambda: ranking.TextIndex(["a"]).similar("a", floor=float("nan")), "floor"),
        (lambda: ranking.TextIndex(["a"], vectors=[[1.0, 0.0]]).add(["b"]), "vectors"),
        (lambda: ranking.cluster_duplicates(["a", "b"], threshold=1.5), "threshold"),
        (lambda: ranking.cluster_duplicates(["a", "b"], threshold=float("nan")), "threshold"),
        (lambda: ranking.cluster_duplicates(["a", "b"], mutual=0), "mutual"),
        (lambda: ranking.cluster_duplicates(["a", "b"], mutual=1.5), "mutual"),  # type: ignore[arg-type]
        (lambda: ranking.cluster_duplicates(["a", "b"], mutual=True), "mutual"),
    ],
)
def test_bad_input_raises_naming_the_argument(call: Callable[[], object], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


def test_sensitivity_trades_precision_for_recall_on_the_calibrated_scale() -> None:
    """LOW clusters only the surest pairs, HIGH also looser rewordings; each level's pairs include the stricter's,
    and the default is MEDIUM. The same thresholds hold with embeddings (one calibrated scale)."""
    levels = ranking.SENSITIVITY_THRESHOLDS
    assert levels["LOW"] > levels["MEDIUM"] == ranking.DUPLICATE_THRESHOLD > levels["HIGH"] > ranking.SUGGESTION_FLOOR
    texts = ["Oat milk in every store", "Oat milk in every store please!", "oat milk in all stores", *UNRELATED]
    index = ranking.TextIndex(texts)

    def pairs(labels: np.ndarray) -> set[tuple[int, int]]:
        return {(a, b) for a in range(len(texts)) for b in range(a + 1, len(texts)) if labels[a] == labels[b]}

    low, medium, high = (
        pairs(ranking.cluster_index(index, levels[name], ranking.SENSITIVITY_MUTUAL[name]))
        for name in ("LOW", "MEDIUM", "HIGH")
    )
    assert low == {(0, 1)}
    assert low <= medium <= high
    assert high == {(0, 1), (0, 2), (1, 2)}
    assert pairs(ranking.cluster_index(index)) == medium


def test_a_pair_starts_a_cluster_only_when_each_text_is_among_the_others_closest() -> None:
    """ "Export the monthly reports" is close enough to "Export reports to CSV" for HIGH's threshold, but that
    text's closest is its own rewording: at LOW (each the other's closest) the loose pair stays out, at any
    threshold, while with no such rule, or among each other's two closest, it joins."""
    texts = ["Export reports to CSV", "Export reports to CSV files", "Export the monthly reports", *UNRELATED]
    index = ranking.TextIndex(texts)

    def clustered(mutual: int | None) -> list[int]:
        labels = ranking.cluster_index(index, ranking.SENSITIVITY_THRESHOLDS["HIGH"], mutual)
        return [k for k in range(len(texts)) if (labels == labels[k]).sum() > 1]

    assert clustered(None) == clustered(2) == [0, 1, 2]
    assert clustered(ranking.SENSITIVITY_MUTUAL["LOW"]) == [0, 1]


@pytest.mark.parametrize("m", [1, 2, 3])
def test_mutual_neighbours_by_their_definition(m: int) -> None:
    """Against the slow way: each pair's rank among each of its two texts' pairs, best first, ties in pair order."""
    rng = np.random.default_rng(m)
    i = rng.integers(0, 30, 400)
    j = rng.integers(0, 30, 400)
    i, j = i[i != j], j[i != j]
    sims = np.round(rng.random(i.size), 1)  # rounded: many ties
    kept = mutual_neighbours(i, j, sims, m)

    def rank(k: int, text: int) -> int:
        mine = [x for x in range(i.size) if text in (i[x], j[x])]
        return sorted(mine, key=lambda x: (-sims[x], x)).index(k)

    assert kept.tolist() == [rank(k, int(i[k])) < m and rank(k, int(j[k])) < m for k in range(i.size)]


def _brute_force_similar(index: ranking.TextIndex, text: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The slow way, by the definition of "did you mean": the dense float64 TF-IDF matrix times the draft's dense
    vector, every embedding's cosine in float64, a full sort."""
    cols, weights = index._query(text)
    draft = np.zeros(index._matrix_().shape[1])
    draft[cols] = weights
    lexical = index._matrix_().toarray() @ draft
    assert index.vectors is not None
    raw = np.clip(text_index.mix(lexical, index.vectors @ vector), 0.0, 1.0)
    order = sorted(range(len(index)), key=lambda i: (-raw[i], i))[:k]
    calibrated = text_index.calibrate(raw[order], True)
    return [(i, float(p)) for i, p in zip(order, calibrated, strict=True) if p >= ranking.SUGGESTION_FLOOR]


def test_the_fast_lookup_gives_the_brute_force_top_5_and_scores() -> None:
    """The lookup's shortcuts (only the draft's feature columns, float32 cosines, a partial sort) change nothing
    a user sees: on a generated 3,000-text index with embeddings, the same five suggestions in the same order with
    the same calibrated scores as the dense float64 computation with a full sort."""
    rng = np.random.default_rng(17)
    words = [f"{a}{b}" for a in ("ex", "re", "da", "mo", "ca", "sto", "pri", "fla") for b in ("port", "ta", "rk", "v")]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(2, 8)))) for _ in range(3_000)]
    topics = rng.standard_normal((40, 32))
    vectors = topics[rng.integers(0, 40, size=len(texts))] + 0.5 * rng.standard_normal((len(texts), 32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ranking.TextIndex(texts, vectors=vectors)
    compared = 0
    for row in rng.choice(len(texts), size=60, replace=False):
        draft = f"{texts[row]} {rng.choice(words)}"
        vector = vectors[row] + 0.3 * rng.standard_normal(32)
        vector /= np.linalg.norm(vector)
        fast = index.similar(draft, k=5, vector=vector)
        slow = _brute_force_similar(index, draft, vector, 5)
        assert [i for i, _ in fast] == [i for i, _ in slow], draft
        np.testing.assert_allclose([s for _, s in fast], [s for _, s in slow], rtol=0, atol=1e-6)
        compared += len(fast)
    assert compared >= 250  # the drafts do have suggestions above the floor


def _spokes(n: int, dim: int) -> tuple[list[str], np.ndarray]:
    """A board whose words share nothing (the embeddings alone decide): a hub close to `n` others (at cosine 0.8)
    and a specific text close to none."""
    texts = ["zorblat quimbex", "vantrope glissom", *[f"word{k}a word{k}b" for k in range(n)]]
    basis = np.eye(dim)
    hub, specific = basis[0], basis[1]
    vectors = [hub, specific] + [0.8 * hub + 0.6 * basis[2 + k] for k in range(n)]
    return texts, np.asarray(vectors)


def test_a_pair_with_a_text_close_to_many_others_scores_under_one_as_close_alone() -> None:
    """Hubness (CSLS): a generic idea near everything ("the app is slow") is a duplicate of few, so its pairs
    (clusters, cohesion) score under a pair as close whose texts are near nothing else; with no hubness they
    would tie. "Did you mean" is not adjusted: there both are offered alike."""
    texts, vectors = _spokes(12, 16)
    texts.append("plivvet norgast")
    vectors = np.vstack([vectors, 0.8 * np.eye(16)[1] + 0.6 * np.eye(16)[15]])  # close to the specific text alone
    index = ranking.TextIndex(texts, vectors=vectors)
    hubness = index.hubness()
    assert hubness[0] > 0.3 > hubness[1]
    hub_pair, lone_pair = index.pair_similarity([0, 1], [2, len(texts) - 1])  # both at cosine 0.8
    assert hub_pair < lone_pair
    np.testing.assert_allclose(index.similarity_matrix([0, 2])[0, 1], hub_pair, rtol=1e-6)
    draft = (vectors[0] + vectors[1]) / np.linalg.norm(vectors[0] + vectors[1])
    offered = dict(index.similar("kestrum", k=2, vector=draft, floor=0.0))
    assert offered[0] == pytest.approx(offered[1])


def test_a_text_does_not_lose_for_having_one_duplicate() -> None:
    """A text's hubness is the mean raw similarity of its 2nd and 3rd closest candidates: the closest, its likeliest
    duplicate, is left out, and on a small board, where a text has few others, it leans toward the tuning sets'
    mean hubness (the prior) in proportion."""
    texts = ["Oat milk in every store", "Oat milk at every store please", "Oat milk lattes", *UNRELATED[:6]]
    index = ranking.TextIndex(texts)
    n, k = len(texts), text_index.HUBNESS_NEIGHBOURS
    first, second = index.candidate_pairs()
    for text in range(n):
        others = np.concatenate([second[first == text], first[second == text]])
        raw = sorted(index._raw_pairs(np.full(others.size, text), others), reverse=True)
        prior = text_index.HUBNESS_PRIOR_LEXICAL
        observed = (sum(raw[1 : 1 + k]) + (k - len(raw[1 : 1 + k])) * prior) / k
        weight = min(1.0, (len(raw) - 1) / text_index.HUBNESS_SUPPORT)
        assert index.hubness()[text] == pytest.approx(weight * observed + (1 - weight) * prior)
    assert text_index.HUBNESS_SUPPORT > n - 2  # every text here leans on the prior: a small board


def test_candidate_similarities_are_the_pair_similarities_of_the_candidates() -> None:
    texts, vectors = _spokes(12, 16)
    index = ranking.TextIndex(texts, vectors=vectors)
    i, j, sims = index.candidate_similarities()
    np.testing.assert_array_equal((i, j), index.candidate_pairs())
    np.testing.assert_allclose(sims, index.pair_similarity(i, j), rtol=1e-12)
    index.add(["plivvet norgast"], vectors=[np.eye(16)[1]])
    assert index.candidate_similarities()[0].size > i.size  # added texts are candidates too
