"""Distribution-strategy selection through ``tf.distribute`` (no home-made distribution layer)."""

from __future__ import annotations

import json
import os

from gentk.errors import UserError

__all__ = ["select_strategy"]


def select_strategy(mode: str = "auto"):
    """The strategy for this process.

    ``auto``: ``MirroredStrategy`` when several local GPUs (or, without GPUs, several logical
    CPU devices) are visible, else the default strategy. ``default`` forces one device;
    ``mirrored`` forces ``MirroredStrategy`` over the local devices. A ``TF_CONFIG`` naming
    several workers is refused: Keras 3.15's ``fit`` fails under ``MultiWorkerMirroredStrategy``
    (keras-team/keras#20585), which would need a custom ``strategy.run`` loop.
    """
    import tensorflow as tf

    if mode not in ("auto", "default", "mirrored"):
        raise UserError(
            f"option 'distribute' must be auto, default or mirrored. Received: {mode!r}"
        )
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    workers = tf_config.get("cluster", {}).get("worker", [])
    if len(workers) > 1:
        raise UserError(
            "TF_CONFIG names several workers; multi-worker training is not supported with "
            "Keras 3 fit (keras-team/keras#20585)"
        )
    if mode == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if mode == "mirrored" or len(devices) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()
