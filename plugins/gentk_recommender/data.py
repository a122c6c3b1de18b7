"""Interaction data for the recommender: preprocessing, the strong-generalisation split and
sparse ``tf.data`` batches. No dense users x items matrix is ever built for the whole data.

Preprocessing (Liang et al., 2018, section 4.1): keep ratings >= ``min_rating`` as positives
(when the file has ratings; a file of implicit feedback is all positives), drop users with fewer
than ``min_user_interactions`` positives. Items rated below ``min_rating`` are not the model's
input but are kept in ``RecData.rated``, so they are never recommended back to their user.
Split: held-out validation and test users; the item catalogue is the items of training users;
each held-out user's items are split ``fold_in_fraction`` / rest into fold-in input and targets
(``split``: ``users`` at random, as the paper; ``time``, each held-out user's latest items by
timestamp are the targets; ``time-cut``, one global cut: nothing after it trains, held-out
users' items before it are the fold-in and after it the targets).
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from gentk.api import DataError, EncodedRows, UserError, read_interactions

if TYPE_CHECKING:
    from gentk_recommender.recipe import RecommenderConfig

__all__ = [
    "RecData",
    "Rows",
    "DEFAULT_DATA",
    "fold_in_split",
    "fold_in_split_by_time",
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
    #: the validation callback's checkpointed state once training ended (best epoch, NDCG)
    selection: dict | None = None

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
class Rows(EncodedRows):
    """Interaction rows as read (encoded as in ``gentk.data.Interactions``): ``positive`` marks
    the rows that are the model's input."""

    user_index: np.ndarray
    item_index: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    positive: np.ndarray
    report: dict
    timestamps: np.ndarray | None = None

    def _pair_keys(self) -> np.ndarray:
        key = self.user_index[self.positive].astype(np.int64) * max(1, len(self.item_ids))
        return key + self.item_index[self.positive]

    def positive_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (user code, item code) pairs of the positive rows, so duplicate rows do not
        inflate activity counts; sorted by user code."""
        key = np.unique(self._pair_keys())
        return key // max(1, len(self.item_ids)), key % max(1, len(self.item_ids))

    def pair_times(self) -> np.ndarray:
        """The earliest timestamp of each pair of ``positive_pairs()`` (in its order)."""
        key = self._pair_keys()
        order = np.argsort(key, kind="stable")
        key, times = key[order], self.timestamps[self.positive][order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else []
        return np.minimum.reduceat(times, starts) if len(key) else times


def load_interactions(
    config: RecommenderConfig, path: str | os.PathLike, rule: str | None = None
) -> Rows:
    """Read ``path`` with the config's column options and mark the positives.

    A file without a rating column, or whose ratings all have one value (clicks, plays
    recorded as 1), is implicit feedback: every row is a positive (``implicit=auto``). Otherwise
    ratings >= ``min_rating`` are positives. ``report["summary"]`` says in one line what was kept;
    ``rule`` (e.g. "the run's") names whose rule ``config.implicit`` is, for that line.
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
        if rule is not None:
            why = f"{rule} rule"
        else:
            why = "no rating column" if ratings is None else f"every rating is {ratings[0]:g}"
        summary = f"{source.name}: {n:,} rows read as implicit feedback ({why}): all are positives"
    else:
        if ratings is None:
            needs = f"{rule} rule (ratings >= {config.min_rating:g})" if rule else "implicit=false"
            raise DataError(f"{needs} needs a rating column", source)
        positive = ratings >= config.min_rating
        summary = (
            f"{source.name}: {n:,} rows read; {int(positive.sum()):,} with rating >= "
            f"{config.min_rating:g} kept as positives{f' ({rule} rule)' if rule else ''}, "
            f"{int((~positive).sum()):,} below (still never recommended back to their user)"
        )
    report = {
        "rows_read": n,
        "rows_below_min_rating": int((~positive).sum()),
        "min_rating": None if implicit else config.min_rating,
        "implicit": bool(implicit),
        "source": str(source),
        "summary": summary,
    }
    return Rows(
        inter.user_index,
        inter.item_index,
        inter.user_ids,
        inter.item_ids,
        positive,
        report,
        inter.timestamps,
    )


def to_matrix(
    users: np.ndarray, items: np.ndarray, user_vocab: np.ndarray, item_vocab: np.ndarray
) -> sp.csr_matrix:
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


def _codes_by_id(codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``codes`` ordered by their identifier strings (the order splits are drawn in)."""
    return codes[np.argsort(ids[codes].astype(str), kind="stable")]


def _active(rows: Rows, pair_users: np.ndarray, min_count: int):
    """Codes of users with at least ``min_count`` distinct positives (ordered by id), and how
    many users with a positive fell short."""
    counts = np.bincount(pair_users, minlength=len(rows.user_ids))
    active = _codes_by_id(np.flatnonzero(counts >= min_count), rows.user_ids)
    return active, int(np.count_nonzero(counts) - len(active))


def _lookup(codes: np.ndarray, size: int) -> np.ndarray:
    """An array mapping code -> position in ``codes`` (-1 for codes not in it)."""
    out = np.full(size, -1, dtype=np.int64)
    out[codes] = np.arange(len(codes))
    return out


def _matrix(row_of, col_of, user_codes, item_codes, shape, values=None) -> sp.csr_matrix:
    """Binary CSR of the (user code, item code) pairs mapped through ``row_of``/``col_of``;
    pairs mapped to -1 are dropped. ``values`` (one per distinct pair, e.g. its timestamp)
    replace the ones."""
    rows, cols = row_of[user_codes], col_of[item_codes]
    ok = (rows >= 0) & (cols >= 0)
    data = np.ones(int(ok.sum()), np.float32) if values is None else values[ok]
    m = sp.csr_matrix((data, (rows[ok], cols[ok])), shape=shape)
    if values is None:
        m.sum_duplicates()
        m.data[:] = 1.0
    m.sort_indices()
    return m


def _columns(rows: Rows, item_vocab: np.ndarray) -> np.ndarray:
    """Code -> catalogue column for the items of ``rows`` (-1 for items not in it)."""
    column = {item: j for j, item in enumerate(item_vocab)}
    return np.fromiter((column.get(i, -1) for i in rows.item_ids), np.int64, len(rows.item_ids))


def fold_in_split(full: sp.csr_matrix, fraction: float, rng: np.random.Generator):
    """Each row's items split at random: ``ceil(fraction * n)`` fold-in items (at least one
    kept back as target when there are two or more), the rest targets."""
    return _split_rows(full, fraction, lambda cols, _: rng.permutation(cols))


def fold_in_split_by_time(times: sp.csr_matrix, fraction: float):
    """Each row's items in time order (``times``: a CSR of the pairs' timestamps; ties by
    item): the earliest ``ceil(fraction * n)`` are fold-in (at least one kept back as target
    when there are two or more), the latest the targets."""
    return _split_rows(times, fraction, lambda cols, when: cols[np.lexsort((cols, when))])


def _split_rows(matrix: sp.csr_matrix, fraction: float, order):
    """Fold-in and target matrices: each row's items (and values) put in ``order(cols,
    values)``, the first ``ceil(fraction * n)`` fold-in (at least one kept back as target when
    there are two or more), the rest targets."""
    fold_in = sp.lil_matrix(matrix.shape, dtype=np.float32)
    target = sp.lil_matrix(matrix.shape, dtype=np.float32)
    for r in range(matrix.shape[0]):
        span = slice(matrix.indptr[r], matrix.indptr[r + 1])
        cols = matrix.indices[span]
        if len(cols) == 0:
            continue
        ordered = order(cols, matrix.data[span])
        n_in = int(np.ceil(fraction * len(cols)))
        n_in = min(max(n_in, 1), len(cols) - 1) if len(cols) > 1 else 1
        fold_in[r, np.sort(ordered[:n_in])] = 1.0
        target[r, np.sort(ordered[n_in:])] = 1.0
    return fold_in.tocsr(), target.tocsr()


def _held_out_file(config, path, train_ids, what):
    """Held-out users from their own file: positives, activity filter, new users only."""
    rows = load_interactions(config, path)
    pair_users, pair_items = rows.positive_pairs()
    users, _ = _active(rows, pair_users, config.min_user_interactions)
    if len(users) == 0:
        raise DataError(
            f"no {what} user has >= {config.min_user_interactions} positives", rows.report["source"]
        )
    shared = np.intersect1d(rows.user_ids[users].astype(str), train_ids.astype(str))
    if len(shared):
        raise DataError(
            f"{len(shared)} {what} user(s) also appear in the training data (e.g. "
            f"{shared[0]!r}); held-out users must be new users (strong generalisation)",
            rows.report["source"],
        )
    return _Group(rows, users, pair_users, pair_items, _times(config, rows, path))


def _times(config, rows: Rows, path) -> np.ndarray | None:
    """The pairs' timestamps when the split needs them (a clear error when the file has none)."""
    if config.split == "users":
        return None
    if rows.timestamps is None:
        raise DataError(
            f"split={config.split} needs a timestamp column (timestamp_column=auto finds one "
            "named timestamp or time, or the 4th column of a file without a header)",
            rows.report["source"] if path is None else path,
        )
    return rows.pair_times()


@dataclasses.dataclass
class _Group:
    """Users (codes into ``rows``) of one part of the split, with the positive pairs of
    ``rows`` they are read from."""

    rows: Rows
    users: np.ndarray
    pair_users: np.ndarray
    pair_items: np.ndarray
    pair_times: np.ndarray | None = None

    @property
    def ids(self) -> np.ndarray:
        return self.rows.user_ids[self.users]

    def matrix(self, item_vocab, times: bool = False) -> sp.csr_matrix:
        """The group's pairs over the catalogue: ones, or with ``times`` their timestamps."""
        row_of = _lookup(self.users, len(self.rows.user_ids))
        shape = (len(self.users), len(item_vocab))
        values = self.pair_times if times else None
        return _matrix(
            row_of, _columns(self.rows, item_vocab), self.pair_users, self.pair_items, shape,
            values,
        )  # fmt: skip

    def where(self, keep: np.ndarray) -> _Group:
        """The same users with the pairs ``keep`` marks."""
        times = None if self.pair_times is None else self.pair_times[keep]
        return _Group(self.rows, self.users, self.pair_users[keep], self.pair_items[keep], times)


def prepare(config: RecommenderConfig, path: str | os.PathLike) -> RecData:
    """Load, preprocess and split with ``config.seed``.

    Held-out validation and test users come from ``config.validation_data`` /
    ``config.test_data`` when given (their items are split into fold-in and targets as the
    paper does), else they are drawn from the data; ``validation_users=0`` / ``test_users=0``
    hold out none (no model selection: the last epoch is kept; no test metrics). Everything
    works on integer codes: memory stays a few bytes per interaction.
    """
    rows = load_interactions(config, path)
    report = dict(rows.report)
    pair_users, pair_items = rows.positive_pairs()
    if len(pair_users) == 0:
        raise DataError(
            f"no interactions left after keeping ratings >= {config.min_rating}", report["source"]
        )
    active, report["users_below_min_interactions"] = _active(
        rows, pair_users, config.min_user_interactions
    )
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
    times = _times(config, rows, None)
    cut = None
    if config.split == "time-cut":
        if config.validation_data or config.test_data:
            raise UserError(
                "split=time-cut draws the held-out users at its cut: --validation/--test files "
                "take split=users or split=time"
            )
        cut, both, before = _time_cut(config, times, pair_users, active)
        # the fractions are of the users that can be held out: a positive on each side
        n_val = _held_out_count(config.validation_users, config.validation_fraction, len(both))
        n_test = _held_out_count(config.test_users, config.test_fraction, len(both))
        if len(both) < n_val + n_test or len(both) - n_val - n_test + len(before) < 1:
            raise UserError(
                f"split=time-cut at {cut:g}: {len(both)} users have positives on both sides "
                f"of the cut, too few for {n_val} validation and {n_test} test users"
            )
        both = both[rng.permutation(len(both))]  # held-out users have both sides
        order = np.concatenate([both, before[rng.permutation(len(before))]])
    else:
        order = active[rng.permutation(n_users)]
    train = _Group(rows, order[n_val + n_test :], pair_users, pair_items, times)
    held = {
        "validation": _Group(rows, order[:n_val], pair_users, pair_items, times),
        "test": _Group(rows, order[n_val : n_val + n_test], pair_users, pair_items, times),
    }
    for name, file in (("validation", config.validation_data), ("test", config.test_data)):
        if file:
            held[name] = _held_out_file(config, file, train.ids, name)
    if cut is not None:  # nothing after the cut trains; the training users' later pairs go
        train = train.where(train.pair_times < cut)
    if config.validation_data and config.test_data:
        both = np.intersect1d(held["validation"].ids.astype(str), held["test"].ids.astype(str))
        if len(both):
            raise DataError(
                f"{len(both)} user(s) are in both the validation and the test file",
                config.test_data,
            )
    in_train = _lookup(train.users, len(rows.user_ids))[train.pair_users] >= 0
    item_vocab = rows.item_ids[_codes_by_id(np.unique(train.pair_items[in_train]), rows.item_ids)]
    train_matrix = train.matrix(item_vocab)
    if config.split == "users":
        folds = {
            name: fold_in_split(group.matrix(item_vocab), config.fold_in_fraction, rng)
            for name, group in held.items()
        }
    elif config.split == "time":
        folds = {
            name: fold_in_split_by_time(group.matrix(item_vocab, times=True),
                                        config.fold_in_fraction)
            for name, group in held.items()
        }  # fmt: skip
    else:
        folds = {
            name: (group.where(group.pair_times < cut).matrix(item_vocab),
                   group.where(group.pair_times >= cut).matrix(item_vocab))
            for name, group in held.items()
        }  # fmt: skip
    groups = [train, held["validation"], held["test"]]
    rated = sp.vstack([_rated(group, item_vocab) for group in groups]).tocsr()
    n_val, n_test = len(held["validation"].users), len(held["test"].users)
    n_inter = int(train_matrix.nnz + sum(a.nnz + b.nnz for a, b in folds.values()))
    n_all = len(train.users) + n_val + n_test
    stats = {
        **report,
        "n_users": n_all,
        "n_items": len(item_vocab),
        "n_interactions": n_inter,
        "density": n_inter / max(1, n_all * len(item_vocab)),
        "n_train_users": len(train.users),
        "n_validation_users": n_val,
        "n_test_users": n_test,
        "fold_in_fraction": config.fold_in_fraction,
        "split": config.split,
    }
    if cut is not None:
        stats["time_cut"] = float(cut)
    return RecData(
        item_vocab,
        train_matrix,
        train.ids,
        *folds["validation"],
        held["validation"].ids,
        *folds["test"],
        held["test"].ids,
        stats,
        rated,
    )


def _time_cut(config, times, pair_users, active):
    """The global cut (``time_cut``, else the time by which ``fold_in_fraction`` of the
    positive pairs happened) and the active users that can be held out at it: a positive on
    each side."""
    cut = config.time_cut
    if cut is None:
        cut = float(np.quantile(times, config.fold_in_fraction, method="higher"))
    size = int(pair_users.max()) + 1 if len(pair_users) else 0
    before = np.bincount(pair_users[times < cut], minlength=size) > 0
    after = np.bincount(pair_users[times >= cut], minlength=size) > 0
    both = active[before[active] & after[active]]
    only_before = active[before[active] & ~after[active]]
    return cut, both, only_before  # users with positives after the cut only do not train


def _rated(group: _Group, item_vocab) -> sp.csr_matrix:
    """Every item each user of ``group`` interacted with, at any rating."""
    rows = group.rows
    row_of = _lookup(group.users, len(rows.user_ids))
    shape = (len(group.users), len(item_vocab))
    return _matrix(row_of, _columns(rows, item_vocab), rows.user_index, rows.item_index, shape)


def write_split(data: RecData, path: str | os.PathLike) -> None:
    """The split as ``user,item,set`` rows in original identifiers (to repeat a run), streamed
    into a temporary file renamed onto ``path`` when complete."""
    from gentk.api import atomic_path, task

    parts = (
        ("train", data.train_users, data.train),
        ("validation_fold_in", data.validation_users, data.validation_fold_in),
        ("validation_target", data.validation_users, data.validation_targets),
        ("test_fold_in", data.test_users, data.test_fold_in),
        ("test_target", data.test_users, data.test_targets),
    )
    total = sum(m.nnz for _, _, m in parts)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["user", "item", "set"])
        with task(f"writing {Path(path).name}", total=total, unit="rows") as advance:
            for name, users, m in parts:
                for r, user in enumerate(users):
                    cols = m.indices[m.indptr[r] : m.indptr[r + 1]]
                    writer.writerows([user, data.item_ids[c], name] for c in cols)
                    advance(len(cols))


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
    # tf.data's autotuner re-optimises the pipeline on a background thread that competed with
    # the train step for the cores: on 2 cores one ML-1M epoch in three took 2x as long (1.3 s
    # instead of 0.63 s) with it on, none of 24 with it off. The pipeline is a few gathers per
    # batch and needs no tuning.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)
