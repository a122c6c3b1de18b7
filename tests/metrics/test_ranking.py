"""Recall@K and NDCG@K against hand-computed values (Liang et al., 2018, section 4.2)."""

import numpy as np
import pytest
import scipy.sparse as sp

from gentk.metrics import ndcg_at_k, rank_top_k, recall_at_k, top_k_metrics


def test_recall_uses_min_of_k_and_target_count():
    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.0]])
    targets = sp.csr_matrix([[1, 0, 0, 1, 1]])
    # top-2 = items 0, 1; one hit; denominator min(2, 3) = 2
    assert recall_at_k(scores, targets, 2)[0] == pytest.approx(0.5)
    # top-5 holds all three targets; denominator min(5, 3) = 3
    assert recall_at_k(scores, targets, 5)[0] == pytest.approx(1.0)


def test_ndcg_by_hand_with_fewer_targets_than_k():
    scores = np.array([[0.9, 0.8, 0.7, 0.6]])
    targets = sp.csr_matrix([[0, 1, 0, 1]])
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    idcg = 1 / np.log2(2) + 1 / np.log2(3)  # min(K=100, 2 targets) terms
    assert ndcg_at_k(scores, targets, 100)[0] == pytest.approx(dcg / idcg)


def test_fold_in_items_are_excluded_from_the_ranking():
    scores = np.array([[0.9, 0.8, 0.7, 0.6]])
    fold_in = sp.csr_matrix([[1, 1, 0, 0]])
    targets = sp.csr_matrix([[0, 0, 1, 0]])
    assert list(rank_top_k(scores, 2, exclude=fold_in)[0]) == [2, 3]
    assert recall_at_k(scores, targets, 1, exclude=fold_in)[0] == 1.0
    assert ndcg_at_k(scores, targets, 1, exclude=fold_in)[0] == 1.0
    assert recall_at_k(scores, targets, 1)[0] == 0.0


def test_ties_rank_the_lower_item_index_first():
    scores = np.array([[0.5, 0.5, 0.5, 0.5]])
    targets = sp.csr_matrix([[0, 0, 1, 1]])
    assert list(rank_top_k(scores, 4)[0]) == [0, 1, 2, 3]
    assert recall_at_k(scores, targets, 2)[0] == 0.0
    expected = (1 / np.log2(4) + 1 / np.log2(5)) / (1 + 1 / np.log2(3))
    assert ndcg_at_k(scores, targets, 4)[0] == pytest.approx(expected)


def test_users_without_targets_are_skipped_and_perfect_ranking_scores_one():
    scores = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    targets = sp.csr_matrix([[1, 1, 0], [0, 0, 0]])
    assert ndcg_at_k(scores, targets, 2).tolist() == [1.0]
    assert recall_at_k(scores, targets, 2).tolist() == [1.0]


def test_the_top_k_ranking_is_the_stable_sort_of_every_row():
    """rank_top_k takes tf.math.top_k, not a sort of whole rows (1M items): the same items in the
    same order as a stable sort, with ties, -inf, exclusions, k >= items and float32 scores."""
    rng = np.random.default_rng(0)
    for trial in range(200):
        rows, n = rng.integers(1, 6), rng.integers(1, 40)
        scores = rng.integers(-3, 4, size=(rows, n)).astype(rng.choice([np.float32, np.float64]))
        scores[rng.random((rows, n)) < 0.15] = -np.inf
        exclude = sp.random(rows, n, density=0.3, random_state=trial, format="csr")
        masked = np.where(exclude.toarray() != 0, -np.inf, scores)
        for k in (1, 3, 10, 100):
            expected = np.argsort(-masked, axis=1, kind="stable")[:, :k]
            np.testing.assert_array_equal(rank_top_k(scores, k, exclude=exclude), expected)
    nan = np.array([[0.3, np.nan, 0.1, -np.inf, 0.2]])
    assert list(rank_top_k(nan, 5)[0]) == [0, 4, 2, 1, 3]  # NaN ties with -inf, lower index first


def test_one_ranking_gives_every_metric():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(30, 200))
    targets = sp.random(30, 200, density=0.05, random_state=1, format="csr")
    fold_in = sp.random(30, 200, density=0.05, random_state=2, format="csr")
    got = top_k_metrics(scores, targets, exclude=fold_in)
    for k in (20, 50):
        np.testing.assert_array_equal(
            got[f"recall@{k}"], recall_at_k(scores, targets, k, exclude=fold_in)
        )
    np.testing.assert_array_equal(got["ndcg@100"], ndcg_at_k(scores, targets, 100, exclude=fold_in))
