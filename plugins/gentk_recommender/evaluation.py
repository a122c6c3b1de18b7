"""Scoring users and the paper's ranking metrics; the popularity and EASE baselines.

Recall@K and NDCG@K come from ``gentk.metrics.ranking`` (denominators min(K, |targets|),
fold-in items excluded). EASE: Steck, "Embarrassingly Shallow Autoencoders", WWW 2019:
B = I - P / diag(P), P = (X^T X + lambda I)^-1, i.e. B_ij = -P_ij / P_jj off the diagonal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from gentk.api import rank_top_k, top_k_metrics

if TYPE_CHECKING:
    import keras

    from gentk_recommender.data import RecData

MAX_SCORES = 1 << 24  # scores held at once (64 MB of float32): bounds a batch of users

__all__ = [
    "model_scorer",
    "popularity_scorer",
    "ease_scorer",
    "pick_ease",
    "ranking_metrics",
    "top_n",
]


def _to_input(batch: sp.csr_matrix, dense: bool):
    import tensorflow as tf

    if dense:
        return tf.constant(batch.toarray(), tf.float32)
    coo = batch.tocoo()
    return tf.sparse.reorder(
        tf.SparseTensor(
            np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data.astype(np.float32), coo.shape
        )
    )


def model_scorer(model: keras.Model, dense: bool = True):
    """``scores(csr_batch) -> [B, I]`` item logits of ``model`` in inference mode."""

    def scores(batch):
        return np.asarray(model(_to_input(batch, dense), training=False))

    return scores


def popularity_scorer(train: sp.csr_matrix | np.ndarray):
    """Scores that rank items by training positives: ``train`` is the training CSR, or the
    per-item counts themselves."""
    if sp.issparse(train):
        counts = np.asarray(train.sum(axis=0)).ravel().astype(np.float64)
    else:
        counts = np.asarray(train, dtype=np.float64)

    def scores(batch):
        return np.broadcast_to(counts, (batch.shape[0], len(counts)))

    return scores


def ease_weights(
    train: sp.csr_matrix, lam: float, dtype: type[np.floating] = np.float64
) -> np.ndarray:
    """EASE's ``B`` (items x items). ``P = (X^T X + lambda I)^-1`` by a Cholesky factorisation
    (LAPACK ``potrf``/``potri``: about half the work of a general inverse); ``float32`` halves
    the memory and time again, at ranking-irrelevant precision."""
    from scipy.linalg import lapack

    double = np.dtype(dtype) == np.float64
    potrf, potri = (lapack.dpotrf, lapack.dpotri) if double else (lapack.spotrf, lapack.spotri)
    gram = (train.T @ train).toarray().astype(dtype)
    gram[np.diag_indices_from(gram)] += lam
    factor, info = potrf(gram, lower=True, overwrite_a=True)
    if info:
        raise np.linalg.LinAlgError(f"X^T X + {lam} I is not positive definite (potrf: {info})")
    p, info = potri(factor, lower=True, overwrite_c=True)
    p = np.tril(p)  # potri fills the lower triangle only
    p += np.tril(p, -1).T
    b = p / -np.diag(p)[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b


def ease_scorer(train: sp.csr_matrix, lam: float, dtype: type[np.floating] = np.float64):
    b = ease_weights(train, lam, dtype)

    def scores(batch):
        return np.asarray(batch @ b)

    return scores


def pick_ease(data: RecData, lambdas: Sequence[float], dtype: type[np.floating] = np.float64):
    """``(lambda, scorer)``: EASE fitted for each of ``lambdas`` and kept where the validation
    users' NDCG@100 is best (the first of ``lambdas`` when there are no validation users).
    One progress bar for the whole search."""
    from gentk.api import quiet, task

    candidates = tuple(lambdas) if len(data.validation_users) else tuple(lambdas)[:1]
    best = None  # (validation NDCG@100, lambda, scorer)
    with task("EASE baseline", total=len(candidates), unit="fits") as advance:
        for lam in candidates:
            scorer = ease_scorer(data.train, lam, dtype)
            value = 0.0
            if len(data.validation_users):
                with quiet():
                    value = ranking_metrics(
                        scorer, data.validation_fold_in, data.validation_targets
                    )["ndcg@100"]
            if best is None or value > best[0]:
                best = (value, lam, scorer)
            advance(1)
    return best[1], best[2]


def ranking_metrics(
    scorer: Callable[[sp.csr_matrix], np.ndarray],
    fold_in: sp.csr_matrix,
    targets: sp.csr_matrix,
    batch_size: int = 1000,
    per_user: bool = False,
) -> dict:
    """Mean Recall@20, Recall@50 and NDCG@100 over users with targets.

    With ``per_user`` the values are arrays with one entry per user (for standard errors and
    paired comparisons between models on the same users)."""
    from gentk.api import task

    parts = {"recall@20": [], "recall@50": [], "ndcg@100": []}
    batch_size = _rows_per_batch(batch_size, fold_in.shape[1])
    with task("evaluating", total=fold_in.shape[0], unit="users") as advance:
        for start in range(0, fold_in.shape[0], batch_size):
            x = fold_in[start : start + batch_size]
            t = targets[start : start + batch_size]
            for name, values in top_k_metrics(scorer(x), t, exclude=x).items():
                parts[name].append(values)
            advance(x.shape[0])
    if per_user:
        return {k: np.concatenate(v) for k, v in parts.items()}
    return {k: float(np.mean(np.concatenate(v))) for k, v in parts.items()}


def _rows_per_batch(batch_size: int, n_items: int) -> int:
    """At most ``batch_size`` users, and no more than ``MAX_SCORES`` scores, at once: 16 users
    of a 1M-item catalogue."""
    return max(1, min(batch_size, MAX_SCORES // max(1, n_items)))


def top_n(
    scorer: Callable[[sp.csr_matrix], np.ndarray],
    x: sp.csr_matrix,
    n: int,
    batch_size: int = 1000,
    exclude: sp.csr_matrix | None = None,
):
    """``(indices [U, n], scores [U, n])`` of the best items per row of ``x``, leaving out the
    items of ``exclude`` (default: those of ``x``) with score -inf."""
    exclude = x if exclude is None else exclude
    from gentk.api import task

    idx, val = [], []
    batch_size = _rows_per_batch(batch_size, x.shape[1])
    with task("recommending", total=x.shape[0], unit="users") as advance:
        for start in range(0, x.shape[0], batch_size):
            batch = x[start : start + batch_size]
            s = np.array(scorer(batch))  # the scorer's float dtype: float64 doubled the time
            if not np.issubdtype(s.dtype, np.floating):
                s = s.astype(np.float64)
            s[exclude[start : start + batch_size].nonzero()] = -np.inf
            order = rank_top_k(s, n)
            idx.append(order)
            val.append(np.take_along_axis(s, order, axis=1))
            advance(batch.shape[0])
    return np.concatenate(idx), np.concatenate(val)
