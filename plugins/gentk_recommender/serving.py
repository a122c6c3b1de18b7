"""Recommendations for users the model never saw (fold-in, no retraining) and the SavedModel
export whose serving signature maps item identifiers to the top-N items and scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gentk.errors import DataError

__all__ = ["read_items", "fold_in_users", "export_saved_model"]


def read_items(run_dir) -> np.ndarray:
    path = Path(run_dir) / "items.txt"
    if not path.is_file():
        raise DataError("run has no item vocabulary (items.txt)", path)
    return np.asarray(path.read_text(encoding="utf-8").splitlines(), dtype=object)


def fold_in_users(config, path, item_ids):
    """Read new users' interactions and map them onto the model's items.

    Returns:
        (user ids, CSR fold-in matrix, report) where the report counts unknown items and users
        left with no known item (who get no recommendations).
    """
    from gentk_recommender.data import load_interactions, to_matrix

    users, items, report = load_interactions(config, path)
    if len(users) == 0:
        raise DataError(f"no interactions with rating >= {config.min_rating}", path)
    known = set(item_ids)
    is_known = np.fromiter((i in known for i in items), bool, count=len(items))
    report["unknown_item_rows"] = int((~is_known).sum())
    report["unknown_items"] = int(len(set(items[~is_known])))
    all_users = np.unique(users)
    kept = np.unique(users[is_known])
    report["users"] = len(all_users)
    report["users_without_known_items"] = int(len(all_users) - len(kept))
    if len(kept) == 0:
        raise DataError("none of the users has an item the model knows; nothing to recommend", path)
    return kept, to_matrix(users[is_known], items[is_known], kept, item_ids), report


def export_saved_model(model, item_ids, out_dir, top_n: int = 100) -> Path:
    """A TF SavedModel with endpoint ``serve(items: string[None]) -> {items, scores}``.

    The vocabulary is inside (a ``StringLookup``), so a process with TensorFlow alone serves it.
    Items the model does not know are ignored; input items are never recommended.
    """
    import keras
    import tensorflow as tf

    vocab = [str(i) for i in item_ids]
    n_items = len(vocab)
    k = min(int(top_n), n_items)
    lookup = keras.layers.StringLookup(vocabulary=vocab, num_oov_indices=1, name="item_lookup")
    lookup(tf.constant(vocab[:1]))  # builds the layer; export refuses unbuilt layers
    ids = tf.constant(vocab)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(lookup)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="items")])
    def serve(items):
        idx = tf.cast(lookup(items), tf.int64) - 1
        idx = tf.boolean_mask(idx, idx >= 0)
        x = tf.scatter_nd(idx[:, None], tf.ones_like(idx, tf.float32), [n_items])
        x = tf.minimum(x, 1.0)[None, :]
        logits = model(x, training=False)[0]
        logits = tf.where(x[0] > 0, tf.constant(-np.inf, logits.dtype), logits)
        top = tf.math.top_k(logits, k=k)
        return {"items": tf.gather(ids, top.indices), "scores": top.values}

    archive.add_endpoint("serve", serve)
    archive.write_out(str(out_dir), verbose=False)
    return Path(out_dir)
