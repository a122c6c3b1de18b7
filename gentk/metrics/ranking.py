"""Top-K ranking metrics exactly as Liang et al. (2018) define them, on numpy arrays.

Ties: among equal scores the lower item index ranks first (stable order), so results do not
depend on the sorting algorithm. Items a user folded in are excluded by giving them -inf.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["rank_top_k", "recall_at_k", "ndcg_at_k", "top_k_metrics"]


def rank_top_k(
    scores: np.ndarray, k: int, exclude: sp.csr_matrix | np.ndarray | None = None
) -> np.ndarray:
    """Indices of the ``k`` best items per row, best first, ``exclude`` (sparse/bool) removed.

    ``tf.math.top_k`` finds them without sorting whole rows (1M items) and breaks ties by the
    lower index, the order of a stable sort. NaN scores rank last, tied with the excluded
    items."""
    import tensorflow as tf

    scores = np.asarray(scores)
    dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.float64
    scores = np.array(scores, dtype=dtype, copy=True)
    if exclude is not None:
        if sp.issparse(exclude):
            scores[exclude.nonzero()] = -np.inf
        else:
            scores[np.asarray(exclude).astype(bool)] = -np.inf
    scores[np.isnan(scores)] = -np.inf
    k = min(k, scores.shape[1])
    return tf.math.top_k(scores, k, sorted=True).indices.numpy().astype(np.intp)


def _targets(targets) -> sp.csr_matrix:
    return sp.csr_matrix(targets).astype(bool).astype(np.float64)


def _hits(top: np.ndarray, targets: sp.csr_matrix) -> np.ndarray:
    picked = targets[np.arange(top.shape[0])[:, None], top]
    return np.asarray(picked.todense() if sp.issparse(picked) else picked, dtype=np.float64)


def recall_at_k(
    scores: np.ndarray, targets: sp.csr_matrix, k: int, exclude: sp.csr_matrix | None = None
) -> np.ndarray:
    """Recall@K = |top-K ∩ targets| / min(K, |targets|), per user (users with targets only)."""
    return _recall(rank_top_k(scores, k, exclude), _targets(targets), k)


def ndcg_at_k(
    scores: np.ndarray, targets: sp.csr_matrix, k: int, exclude: sp.csr_matrix | None = None
) -> np.ndarray:
    """NDCG@K = DCG@K / IDCG, DCG = sum_{r<K} rel_r / log2(r + 2), IDCG over min(K, |targets|)."""
    return _ndcg(rank_top_k(scores, k, exclude), _targets(targets), k)


def top_k_metrics(
    scores: np.ndarray,
    targets: sp.csr_matrix | np.ndarray,
    exclude: sp.csr_matrix | np.ndarray | None = None,
    recall: Sequence[int] = (20, 50),
    ndcg: Sequence[int] = (100,),
) -> dict:
    """``{"recall@K": ..., "ndcg@K": ...}`` per user (users with targets only), from one
    ranking of the best ``max(K)`` items instead of one per metric."""
    t = _targets(targets)
    top = rank_top_k(scores, max((*recall, *ndcg)), exclude)
    out = {f"recall@{k}": _recall(top[:, :k], t, k) for k in recall}
    out.update({f"ndcg@{k}": _ndcg(top[:, :k], t, k) for k in ndcg})
    return out


def _recall(top: np.ndarray, t: sp.csr_matrix, k: int) -> np.ndarray:
    hits = _hits(top, t).sum(axis=1)
    n = np.asarray(t.sum(axis=1)).ravel()
    keep = n > 0
    return hits[keep] / np.minimum(k, n[keep])


def _ndcg(top: np.ndarray, t: sp.csr_matrix, k: int) -> np.ndarray:
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = (_hits(top, t) * discount).sum(axis=1)
    n = np.asarray(t.sum(axis=1)).ravel().astype(int)
    ideal_discount = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = np.array([ideal_discount[: min(k, m)].sum() for m in n])
    keep = n > 0
    return dcg[keep] / idcg[keep]
