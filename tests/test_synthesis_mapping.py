"""Cross-lingual mapping pieces against hand computations: Procrustes, CSLS, noise, BLI, adversarial cosine."""
import numpy as np
import pytest

from fairseq_weam.synthesis.adversarial import cosine_choice
from fairseq_weam.synthesis.bli import bli_precision
from fairseq_weam.synthesis.mapping import csls, fit_mapping, procrustes, top_candidates
from fairseq_weam.synthesis.noise import Noise, ranked_candidates
from fairseq_weam.synthesis.errors import SynthesisError


def test_procrustes_recovers_a_known_rotation_exactly():
    rng = np.random.default_rng(0)
    source = rng.standard_normal((60, 8)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    target = (source @ rotation).astype(np.float32)
    np.testing.assert_allclose(procrustes(source, target), rotation, atol=1e-5)
    # with only the first 10 rows as seed pairs and refinement, the same rotation maps every row
    w = fit_mapping(source, target, [(i, i) for i in range(10)], iterations=2, k=3, max_rank=60)
    np.testing.assert_allclose(source @ w, target, atol=1e-4)


# Unit vectors in 2-D. Mapped source x1, x2, x3; targets z1 (a hub: close to every source word), z2.
X = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
Z = np.array([[0.8, 0.6], [0.28, 0.96]], dtype=np.float32)
# By hand, k = 1. Cosines: x1: z1 .8, z2 .28; x2: z1 .96, z2 .936; x3: z1 1.0, z2 .8.
# r_T(x) = best cosine of x: .8, .96, 1.0. r_S(z) = best cosine of z: z1 1.0, z2 .936.
# CSLS = 2 cos - r_T(x) - r_S(z):
HAND_CSLS = np.array([[1.6 - 0.8 - 1.0, 0.56 - 0.8 - 0.936],
                      [1.92 - 0.96 - 1.0, 1.872 - 0.96 - 0.936],
                      [2.0 - 1.0 - 1.0, 1.6 - 1.0 - 0.936]])


def test_csls_on_a_hand_made_case_undoes_the_hub():
    np.testing.assert_allclose(csls(X, Z, k=1), HAND_CSLS, atol=1e-5)
    assert (X[1] @ Z.T).argmax() == 0  # the nearest neighbour of x2 is the hub z1 ...
    assert top_candidates(HAND_CSLS, 2)[1].tolist() == [1, 0]  # ... CSLS prefers z2
    ranked = ranked_candidates(X, Z, 2, Noise(), np.random.default_rng(0), csls_k=1, batch=2)
    assert ranked.tolist() == [[0, 1], [1, 0], [0, 1]]


def test_noise_lowers_bli_precision_and_parses_one_flag():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [f"w{i}" for i in range(200)]
    test = {w: {w} for w in words}  # the target space is the source space: every word translates to itself
    precision = {}
    for spec in ("none", "gaussian:0.8", "gaussian:3", "sample:5:10"):
        ranked = ranked_candidates(vectors, vectors, 5, Noise.parse(spec), np.random.default_rng(0), csls_k=5)
        precision[spec] = bli_precision(words, words, ranked, test)
    assert precision["none"]["p@1"] == 100.0 and precision["none"]["evaluated"] == 200
    assert precision["gaussian:3"]["p@1"] < precision["gaussian:0.8"]["p@1"] < 100.0
    # sampling among the 5 best at a high temperature: the right word first about 1 time in 5, always in the top 5
    assert 10 < precision["sample:5:10"]["p@1"] < 35 and precision["sample:5:10"]["p@5"] == 100.0
    for bad in ("gauss:1", "gaussian:-1", "sample:0:1", "sample:3", "sample:3:0"):
        with pytest.raises(SynthesisError):
            Noise.parse(bad)


def test_bli_precision_by_hand():
    ranked = np.array([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [1, 0, 2, 3, 4, 5]])
    src, tgt = ["a", "b", "c"], ["A", "B", "C", "D", "E", "F"]
    test = {"a": {"a2", "A"}, "b": {"A"}, "c": {"x"}, "zz": {"A"}}  # c: no translation in vocab; zz: no vector
    assert bli_precision(src, tgt, ranked, test) == {"p@1": 50.0, "p@5": 50.0, "evaluated": 2, "test_words": 4}


def test_cosine_choice_takes_the_candidate_closest_to_the_best():
    target = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.436], [-0.6, 0.8]], dtype=np.float32)
    ranked = np.array([[0, 1, 2, 3], [1, 0, 3, 2]])
    # row 1: best 0; cosines to it: 1 -> 0, 2 -> .9. Row 2: best 1; 0 -> 0, 3 -> .8 (2 is outside the top 3)
    assert cosine_choice(ranked, target, 3).tolist() == [2, 3]
    assert cosine_choice(ranked, target, 1).tolist() == [0, 1]
