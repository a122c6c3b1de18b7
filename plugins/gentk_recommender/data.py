"""Interaction data for the recommender: preprocessing, the strong-generalisation split and
sparse ``tf.data`` batches. No dense users x items matrix is ever built for the whole data.

Preprocessing (Liang et al., 2018, section 4.1): keep ratings >= ``min_rating`` as positives
(when the file has ratings), drop users with fewer than ``min_user_interactions`` positives.
Split: held-out validation and test users; the item catalogue is the items of training users;
each held-out user's items are split ``fold_in_fraction`` / rest into fold-in input and targets.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from gentk.data import read_interactions
from gentk.errors import DataError, UserError

__all__ = ["RecData", "DEFAULT_DATA", "load_interactions", "prepare", "sparse_batches", "to_matrix"]

DEFAULT_DATA = Path(__file__).parent / "data" / "ratings.csv"


@dataclasses.dataclass
class RecData:
    """The split data: CSR matrices over the item catalogue ``item_ids`` (original ids)."""

    item_ids: np.ndarray
    train: sp.csr_matrix
    train_users: np.ndarray
    validation_fold_in: sp.csr_matrix
    validation_targets: sp.csr_matrix
    validation_users: np.ndarray
    test_fold_in: sp.csr_matrix
    test_targets: sp.csr_matrix
    test_users: np.ndarray
    stats: dict

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def all_users(self):
        """(user ids, CSR of every known item) for train, validation and test users."""
        users = np.concatenate([self.train_users, self.validation_users, self.test_users])
        x = sp.vstack(
            [
                self.train,
                self.validation_fold_in + self.validation_targets,
                self.test_fold_in + self.test_targets,
            ]
        ).tocsr()
        x.data[:] = 1.0
        return users, x


def load_interactions(config, path):
    """Read ``path`` with the config's column options, then keep positives."""
    source = DEFAULT_DATA if path is None else Path(path)
    inter = read_interactions(
        source,
        user_column=config.user_column,
        item_column=config.item_column,
        rating_column=config.rating_column,
        timestamp_column=config.timestamp_column,
        delimiter=config.delimiter,
        header=config.header,
    )
    keep = np.ones(len(inter), dtype=bool)
    if inter.ratings is not None:
        keep = inter.ratings >= config.min_rating
    users, items = inter.users[keep], inter.items[keep]
    report = {
        "rows_read": len(inter),
        "rows_below_min_rating": int((~keep).sum()),
        "min_rating": config.min_rating if inter.ratings is not None else None,
        "source": str(source),
    }
    return users, items, report


def to_matrix(users, items, user_vocab, item_vocab) -> sp.csr_matrix:
    """Binary CSR with rows in ``user_vocab`` order; pairs outside the vocabularies dropped."""
    u_index = {u: i for i, u in enumerate(user_vocab)}
    i_index = {it: j for j, it in enumerate(item_vocab)}
    rows = np.fromiter((u_index.get(u, -1) for u in users), dtype=np.int64, count=len(users))
    cols = np.fromiter((i_index.get(it, -1) for it in items), dtype=np.int64, count=len(items))
    ok = (rows >= 0) & (cols >= 0)
    m = sp.csr_matrix(
        (np.ones(ok.sum(), np.float32), (rows[ok], cols[ok])),
        shape=(len(user_vocab), len(item_vocab)),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    m.sort_indices()
    return m


def _held_out_count(requested: int, fraction: float, n_users: int) -> int:
    return requested if requested > 0 else max(1, int(round(fraction * n_users)))


def prepare(config, path) -> RecData:
    """Load, preprocess and split with ``config.seed``."""
    users, items, report = load_interactions(config, path)
    if len(users) == 0:
        raise DataError(
            f"no interactions left after keeping ratings >= {config.min_rating}", report["source"]
        )
    # distinct items per user, so duplicates in the file do not inflate the activity count
    pairs = np.unique(np.stack([users.astype(str), items.astype(str)], axis=1), axis=0)
    user_vocab, counts = np.unique(pairs[:, 0], return_counts=True)
    active = user_vocab[counts >= config.min_user_interactions]
    report["users_below_min_interactions"] = int(len(user_vocab) - len(active))
    n_users = len(active)
    n_val = _held_out_count(config.validation_users, config.validation_fraction, n_users)
    n_test = _held_out_count(config.test_users, config.test_fraction, n_users)
    if n_users - n_val - n_test < 1:
        raise UserError(
            f"{n_users} users with >= {config.min_user_interactions} positives are "
            f"too few for {n_val} validation and {n_test} test users"
        )
    rng = np.random.default_rng(config.seed)
    order = active[rng.permutation(n_users)]
    val_users = order[:n_val]
    test_users = order[n_val : n_val + n_test]
    train_users = order[n_val + n_test :]
    train_set = set(train_users)
    in_train = np.fromiter((u in train_set for u in pairs[:, 0]), bool, count=len(pairs))
    item_vocab = np.unique(pairs[in_train, 1])
    train = to_matrix(pairs[:, 0], pairs[:, 1], train_users, item_vocab)
    folds = {}
    for name, held in (("validation", val_users), ("test", test_users)):
        full = to_matrix(pairs[:, 0], pairs[:, 1], held, item_vocab)
        fold_in = sp.lil_matrix(full.shape, dtype=np.float32)
        target = sp.lil_matrix(full.shape, dtype=np.float32)
        for r in range(full.shape[0]):
            cols = full.indices[full.indptr[r] : full.indptr[r + 1]]
            if len(cols) == 0:
                continue
            perm = rng.permutation(cols)
            n_in = int(np.ceil(config.fold_in_fraction * len(cols)))
            n_in = min(max(n_in, 1), len(cols) - 1) if len(cols) > 1 else 1
            fold_in[r, np.sort(perm[:n_in])] = 1.0
            target[r, np.sort(perm[n_in:])] = 1.0
        folds[name] = (fold_in.tocsr(), target.tocsr())
    n_inter = int(train.nnz + sum(a.nnz + b.nnz for a, b in folds.values()))
    stats = {
        **report,
        "n_users": n_users,
        "n_items": len(item_vocab),
        "n_interactions": n_inter,
        "density": n_inter / max(1, n_users * len(item_vocab)),
        "n_train_users": len(train_users),
        "n_validation_users": n_val,
        "n_test_users": n_test,
        "fold_in_fraction": config.fold_in_fraction,
    }
    return RecData(
        item_vocab,
        train,
        train_users,
        *folds["validation"],
        val_users,
        *folds["test"],
        test_users,
        stats,
    )


def split_csv(data: RecData) -> str:
    """The split as ``user,item,set`` rows in original identifiers (to repeat a run)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["user", "item", "set"])
    for name, users, m in (
        ("train", data.train_users, data.train),
        ("validation_fold_in", data.validation_users, data.validation_fold_in),
        ("validation_target", data.validation_users, data.validation_targets),
        ("test_fold_in", data.test_users, data.test_fold_in),
        ("test_target", data.test_users, data.test_targets),
    ):
        for r, user in enumerate(users):
            for c in m.indices[m.indptr[r] : m.indptr[r + 1]]:
                writer.writerow([user, data.item_ids[c], name])
    return buf.getvalue()


def sparse_batches(
    matrix: sp.csr_matrix,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    dense: bool = False,
):
    """A ``tf.data.Dataset`` of row batches of ``matrix`` as ``tf.SparseTensor`` (or densified
    per batch when ``dense``). Only the CSR arrays live in the pipeline."""
    import tensorflow as tf

    n_rows, n_items = matrix.shape
    indptr = tf.constant(matrix.indptr, tf.int64)
    indices = tf.constant(matrix.indices, tf.int64)
    values = tf.constant(matrix.data, tf.float32)
    ds = tf.data.Dataset.range(n_rows)
    if shuffle:
        ds = ds.shuffle(n_rows, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def rows_to_sparse(rows):
        if shuffle:
            rows = tf.sort(rows)
        starts = tf.gather(indptr, rows)
        positions = tf.ragged.range(starts, tf.gather(indptr, rows + 1))
        cols = tf.gather(indices, positions.flat_values)
        row_ids = positions.value_rowids()
        return tf.SparseTensor(
            tf.stack([row_ids, cols], axis=1),
            tf.gather(values, positions.flat_values),
            tf.stack([tf.size(rows, out_type=tf.int64), tf.constant(n_items, tf.int64)]),
        )

    ds = ds.map(rows_to_sparse, num_parallel_calls=tf.data.AUTOTUNE)
    if dense:
        ds = ds.map(tf.sparse.to_dense, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
