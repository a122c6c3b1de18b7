"""Interaction data for the recommender: preprocessing, the strong-generalisation split and
sparse ``tf.data`` batches. No dense users x items matrix is ever built for the whole data.

Preprocessing (Liang et al., 2018, section 4.1): keep ratings >= ``min_rating`` as positives
(when the file has ratings; a file of implicit feedback is all positives), drop users with fewer
than ``min_user_interactions`` positives. Items rated below ``min_rating`` are not the model's
input but are kept in ``RecData.rated``, so they are never recommended back to their user.
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

__all__ = [
    "RecData",
    "Rows",
    "DEFAULT_DATA",
    "load_interactions",
    "prepare",
    "sparse_batches",
    "to_matrix",
]

DEFAULT_DATA = Path(__file__).parent / "data" / "ratings.csv"


@dataclasses.dataclass
class RecData:
    """The split data: CSR matrices over the item catalogue ``item_ids`` (original ids).

    ``rated`` holds every item each user of ``all_users()`` interacted with, at any rating (the
    items recommendations leave out by default); the other matrices hold positives only.
    """

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
    rated: sp.csr_matrix | None = None

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def all_users(self):
        """(user ids, CSR of every known positive item) for train, validation and test users."""
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


@dataclasses.dataclass
class Rows:
    """Interaction rows as read: ``positive`` marks the rows that are the model's input."""

    users: np.ndarray
    items: np.ndarray
    positive: np.ndarray
    report: dict

    def positives(self):
        return self.users[self.positive], self.items[self.positive]


def load_interactions(config, path) -> Rows:
    """Read ``path`` with the config's column options and mark the positives.

    A file without a rating column, or whose ratings all have one value (clicks, plays
    recorded as 1), is implicit feedback: every row is a positive (``implicit=auto``). Otherwise
    ratings >= ``min_rating`` are positives. ``report["summary"]`` says in one line what was kept.
    """
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
    ratings = inter.ratings
    if config.implicit == "auto":
        implicit = ratings is None or np.unique(ratings).size == 1
    else:
        implicit = config.implicit == "true"
    n = len(inter)
    if implicit:
        positive = np.ones(n, dtype=bool)
        why = "no rating column" if ratings is None else f"every rating is {ratings[0]:g}"
        summary = f"{source.name}: {n:,} rows read as implicit feedback ({why}): all are positives"
    else:
        if ratings is None:
            raise DataError("implicit=false needs a rating column", source)
        positive = ratings >= config.min_rating
        summary = (
            f"{source.name}: {n:,} rows read; {int(positive.sum()):,} with rating >= "
            f"{config.min_rating:g} kept as positives, {int((~positive).sum()):,} below "
            "(still never recommended back to their user)"
        )
    report = {
        "rows_read": n,
        "rows_below_min_rating": int((~positive).sum()),
        "min_rating": None if implicit else config.min_rating,
        "implicit": bool(implicit),
        "source": str(source),
        "summary": summary,
    }
    return Rows(inter.users, inter.items, positive, report)


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


def _held_out_count(requested: int | None, fraction: float, n_users: int) -> int:
    return requested if requested is not None else max(1, int(round(fraction * n_users)))


def _distinct_pairs(users, items) -> np.ndarray:
    """Distinct (user, item) string pairs, so duplicate rows do not inflate activity counts."""
    if len(users) == 0:
        return np.empty((0, 2), dtype=str)
    return np.unique(np.stack([users.astype(str), items.astype(str)], axis=1), axis=0)


def _active(pairs, min_count):
    """Users with at least ``min_count`` distinct positives, and how many fell short."""
    vocab, counts = np.unique(pairs[:, 0], return_counts=True)
    active = vocab[counts >= min_count]
    return active, int(len(vocab) - len(active))


def _fold_in_split(full: sp.csr_matrix, fraction: float, rng):
    """Each row's items split at random: ``ceil(fraction * n)`` fold-in items (at least one
    kept back as target when there are two or more), the rest targets."""
    fold_in = sp.lil_matrix(full.shape, dtype=np.float32)
    target = sp.lil_matrix(full.shape, dtype=np.float32)
    for r in range(full.shape[0]):
        cols = full.indices[full.indptr[r] : full.indptr[r + 1]]
        if len(cols) == 0:
            continue
        perm = rng.permutation(cols)
        n_in = int(np.ceil(fraction * len(cols)))
        n_in = min(max(n_in, 1), len(cols) - 1) if len(cols) > 1 else 1
        fold_in[r, np.sort(perm[:n_in])] = 1.0
        target[r, np.sort(perm[n_in:])] = 1.0
    return fold_in.tocsr(), target.tocsr()


def _held_out_file(config, path, train_users, what):
    """Held-out users from their own file: positives, activity filter, new users only."""
    rows = load_interactions(config, path)
    pairs = _distinct_pairs(*rows.positives())
    users, _ = _active(pairs, config.min_user_interactions) if len(pairs) else (pairs[:, 0], 0)
    if len(users) == 0:
        raise DataError(
            f"no {what} user has >= {config.min_user_interactions} positives", rows.report["source"]
        )
    shared = np.intersect1d(users, train_users)
    if len(shared):
        raise DataError(
            f"{len(shared)} {what} user(s) also appear in the training data (e.g. "
            f"{shared[0]!r}); held-out users must be new users (strong generalisation)",
            rows.report["source"],
        )
    return users, pairs, rows


def prepare(config, path) -> RecData:
    """Load, preprocess and split with ``config.seed``.

    Held-out validation and test users come from ``config.validation_data`` /
    ``config.test_data`` when given (their items are split into fold-in and targets as the
    paper does), else they are drawn from the data; ``validation_users=0`` / ``test_users=0``
    hold out none (no model selection: the last epoch is kept; no test metrics).
    """
    rows = load_interactions(config, path)
    report = dict(rows.report)
    pairs = _distinct_pairs(*rows.positives())
    if len(pairs) == 0:
        raise DataError(
            f"no interactions left after keeping ratings >= {config.min_rating}", report["source"]
        )
    active, report["users_below_min_interactions"] = _active(pairs, config.min_user_interactions)
    n_users = len(active)
    n_val = (
        0
        if config.validation_data
        else _held_out_count(config.validation_users, config.validation_fraction, n_users)
    )
    n_test = (
        0 if config.test_data else _held_out_count(config.test_users, config.test_fraction, n_users)
    )
    if n_users - n_val - n_test < 1:
        raise UserError(
            f"{n_users} users with >= {config.min_user_interactions} positives are "
            f"too few for {n_val} validation and {n_test} test users"
        )
    rng = np.random.default_rng(config.seed)
    order = active[rng.permutation(n_users)]
    held = {"validation": (order[:n_val], pairs), "test": (order[n_val : n_val + n_test], pairs)}
    train_users = order[n_val + n_test :]
    all_rows = [rows]
    for name, file in (("validation", config.validation_data), ("test", config.test_data)):
        if file:
            users, file_pairs, file_rows = _held_out_file(config, file, train_users, name)
            held[name] = (users, file_pairs)
            all_rows.append(file_rows)
    if config.validation_data and config.test_data:
        both = np.intersect1d(held["validation"][0], held["test"][0])
        if len(both):
            raise DataError(
                f"{len(both)} user(s) are in both the validation and the test file",
                config.test_data,
            )
    train_set = set(train_users)
    in_train = np.fromiter((u in train_set for u in pairs[:, 0]), bool, count=len(pairs))
    item_vocab = np.unique(pairs[in_train, 1])
    train = to_matrix(pairs[:, 0], pairs[:, 1], train_users, item_vocab)
    folds = {}
    for name in ("validation", "test"):
        users, source_pairs = held[name]
        full = to_matrix(source_pairs[:, 0], source_pairs[:, 1], users, item_vocab)
        folds[name] = _fold_in_split(full, config.fold_in_fraction, rng)
    everyone = np.concatenate([train_users, held["validation"][0], held["test"][0]])
    rated = to_matrix(
        np.concatenate([r.users for r in all_rows]),
        np.concatenate([r.items for r in all_rows]),
        everyone,
        item_vocab,
    )
    n_val, n_test = len(held["validation"][0]), len(held["test"][0])
    n_inter = int(train.nnz + sum(a.nnz + b.nnz for a, b in folds.values()))
    n_all = len(train_users) + n_val + n_test
    stats = {
        **report,
        "n_users": n_all,
        "n_items": len(item_vocab),
        "n_interactions": n_inter,
        "density": n_inter / max(1, n_all * len(item_vocab)),
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
        held["validation"][0],
        *folds["test"],
        held["test"][0],
        stats,
        rated,
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
