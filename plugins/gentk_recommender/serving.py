"""Recommendations for users the model never saw (fold-in, no retraining; the popularity ranking
for users it cannot score) and the SavedModel export whose serving signature maps a user's
items, and the items to leave out, to the top-N items and scores."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from gentk.api import DataError

if TYPE_CHECKING:
    import keras

    from gentk_recommender.recipe import RecommenderConfig

__all__ = [
    "write_items",
    "read_items",
    "read_feedback",
    "read_popularity",
    "FoldIn",
    "fold_in_users",
    "export_saved_model",
]


ITEMS_FILE = "items.json"


def write_items(run_dir: str | os.PathLike, item_ids: Sequence[str], stats: dict) -> None:
    """``items.json``: the model's item vocabulary in column order (a JSON list, which holds any
    string: ids with line or paragraph separators, form feeds or quotes round-trip) and the
    feedback rule the run trained with (implicit, or ratings >= ``min_rating``), which fold-in
    files follow."""
    from gentk.api import atomic_write_text

    record = {
        "items": [str(i) for i in item_ids],
        "implicit": bool(stats.get("implicit", False)),
        "min_rating": stats.get("min_rating"),
    }
    atomic_write_text(Path(run_dir) / ITEMS_FILE, json.dumps(record, ensure_ascii=True))


def _items_record(run_dir) -> dict:
    path = Path(run_dir) / ITEMS_FILE
    if path.is_file():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record.get("items"), list):
                raise ValueError("no item list")
        except (ValueError, AttributeError, UnicodeDecodeError) as err:
            raise DataError(f"not a gentk item vocabulary ({err})", path) from None
        return record
    old = Path(run_dir) / "items.txt"  # runs before 0.x: one id a line, "\n" only
    if old.is_file():
        text = old.read_text(encoding="utf-8")
        return {"items": text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")}
    raise DataError(f"run has no item vocabulary ({ITEMS_FILE})", path)


def read_items(run_dir: str | os.PathLike) -> np.ndarray:
    """The model's item ids in column order."""
    return np.asarray(_items_record(run_dir)["items"], dtype=object)


def read_feedback(run_dir: str | os.PathLike, config: RecommenderConfig) -> str:
    """The feedback rule the run trained with, as ``implicit=`` takes it: ``"true"`` (every row
    a positive) or ``"false"`` (ratings >= ``min_rating``); an older run that did not record
    it falls back on its config."""
    implicit = _items_record(run_dir).get("implicit")
    if implicit is None:
        return config.implicit
    return "true" if implicit else "false"


def read_popularity(run_dir: str | os.PathLike, item_ids: Sequence[str]) -> np.ndarray:
    """Training positives per item (from the run's ``split.csv``): the cold-start ranking."""
    path = Path(run_dir) / "split.csv"
    if not path.is_file():
        raise DataError("run has no split.csv to rank items by popularity", path)
    index = {item: j for j, item in enumerate(item_ids)}
    counts = np.zeros(len(item_ids), dtype=np.float64)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("set") == "train" and row.get("item") in index:
                counts[index[row["item"]]] += 1
    return counts


@dataclasses.dataclass
class FoldIn:
    """New users mapped onto the model's items: ``positives`` (the model's input) and ``rated``
    (every known item at any rating) as CSR rows in ``users`` order; ``cold`` marks the users
    with no known positive item, whom the model cannot score."""

    users: np.ndarray
    positives: sp.csr_matrix
    rated: sp.csr_matrix
    cold: np.ndarray
    report: dict


def fold_in_users(
    config: RecommenderConfig,
    path: str | os.PathLike,
    item_ids: Sequence[str],
    feedback: str | None = None,
) -> FoldIn:
    """Read new users' interactions and map them onto the model's items.

    ``feedback`` (``read_feedback``): the run's rule, which the file follows whatever its
    ratings look like; None decides from the file (``config.implicit``). Every user of the file
    is kept: users with no known positive item (all their items unknown to the model, or all
    rated below ``min_rating``) are marked ``cold`` and counted in the report, which also
    counts rows of unknown items.
    """
    from gentk_recommender.data import load_interactions, to_matrix

    if feedback is not None:
        config = dataclasses.replace(config, implicit=feedback)
    rows = load_interactions(config, path, rule="the run's" if feedback is not None else None)
    report = dict(rows.report)
    if len(rows.users) == 0:
        raise DataError("no interactions", path)
    known = set(item_ids)
    is_known = np.fromiter((i in known for i in rows.items), bool, count=len(rows.items))
    report["unknown_item_rows"] = int((~is_known).sum())
    report["unknown_items"] = int(len(set(rows.items[~is_known])))
    users = np.unique(rows.users)
    use = is_known & rows.positive
    positives = to_matrix(rows.users[use], rows.items[use], users, item_ids)
    rated = to_matrix(rows.users[is_known], rows.items[is_known], users, item_ids)
    cold = np.diff(positives.indptr) == 0
    with_positive = set(rows.users[rows.positive])
    report["users"] = len(users)
    report["cold_users"] = int(cold.sum())
    report["users_without_positives"] = int(sum(u not in with_positive for u in users))
    return FoldIn(users, positives, rated, cold, report)


def export_saved_model(
    model: keras.Model,
    item_ids: Sequence[str],
    out_dir: str | os.PathLike,
    top_n: int = 100,
    exclude_inputs: bool = True,
    popularity: np.ndarray | None = None,
) -> Path:
    """A TF SavedModel with endpoint ``serve(items, exclude) -> {items, scores, source}``.

    ``items`` (string[None]) are the user's positive items, the model's input; ``exclude``
    (string[None], may be empty) are further items never to return, such as those the user
    rated below the positive threshold. With ``exclude_inputs`` the input items are never
    returned either. Fewer than ``top_n`` rows come back when fewer items are left. The
    vocabulary is inside (a ``StringLookup``), so a process with TensorFlow alone serves it;
    items the model does not know are ignored. A user with no item the model knows gets the
    ranking by ``popularity`` (training positives per item, as ``gentk recommend`` gives such
    users) with ``source`` ``"popularity"``; otherwise ``source`` is ``"model"``.
    """
    import keras
    import tensorflow as tf

    vocab = [str(i) for i in item_ids]
    n_items = len(vocab)
    k = min(int(top_n), n_items)
    if popularity is None:
        popularity = np.zeros(n_items)
    popularity = tf.constant(np.asarray(popularity, dtype=np.float32))
    lookup = keras.layers.StringLookup(vocabulary=vocab, num_oov_indices=1, name="item_lookup")
    lookup(tf.constant(vocab[:1]))  # builds the layer; export refuses unbuilt layers
    ids = tf.constant(vocab)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(lookup)

    def one_hot(items):
        idx = tf.cast(lookup(items), tf.int64) - 1
        idx = tf.boolean_mask(idx, idx >= 0)
        x = tf.scatter_nd(idx[:, None], tf.ones_like(idx, tf.float32), [n_items])
        return tf.minimum(x, 1.0)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="items"),
            tf.TensorSpec([None], tf.string, name="exclude"),
        ]
    )
    def serve(items, exclude):
        x = one_hot(items)
        known = tf.reduce_sum(x) > 0
        logits = tf.cond(
            known,
            lambda: tf.cast(model(x[None, :], training=False)[0], tf.float32),
            lambda: popularity,
        )
        banned = one_hot(exclude) + (x if exclude_inputs else 0.0)
        logits = tf.where(banned > 0, tf.constant(-np.inf, logits.dtype), logits)
        top = tf.math.top_k(logits, k=k)
        keep = tf.math.is_finite(top.values)
        return {
            "items": tf.boolean_mask(tf.gather(ids, top.indices), keep),
            "scores": tf.boolean_mask(top.values, keep),
            "source": tf.where(known, tf.constant("model"), tf.constant("popularity")),
        }

    archive.add_endpoint("serve", serve)
    archive.write_out(str(out_dir), verbose=False)
    return Path(out_dir)
