"""Distribution-strategy selection through ``tf.distribute`` (no home-made distribution layer)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gentk.config import DISTRIBUTE_MODES
from gentk.errors import UserError

if TYPE_CHECKING:
    from gentk.recipe import Recipe

__all__ = ["select_strategy", "DISTRIBUTE_MODES"]


def select_strategy(mode: str = "auto", recipe: Recipe | None = None, config: Any = None):
    """The strategy for this process.

    ``auto``: ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several workers, else
    ``MirroredStrategy`` when several local GPUs (or, without GPUs, several logical CPU
    devices) are visible, else the default strategy. ``default`` forces one device;
    ``mirrored`` forces ``MirroredStrategy`` over the local devices; ``multi-worker`` forces
    ``MultiWorkerMirroredStrategy`` (one worker when ``TF_CONFIG`` names none), which the
    runner trains with ``gentk.training.multiworker.fit_distributed``. A ``recipe`` whose
    ``mirrored_supported(config)`` is false is refused ``mirrored`` over several devices and
    gets one device under ``auto``.
    """
    import tensorflow as tf

    from gentk.training.multiworker import cluster_workers, multi_worker_strategy

    if mode not in DISTRIBUTE_MODES:
        raise UserError(
            f"option 'distribute' must be {', '.join(DISTRIBUTE_MODES)}. Received: {mode!r}"
        )
    workers = cluster_workers()
    if workers > 1 and mode in ("default", "mirrored"):
        raise UserError(
            f"TF_CONFIG names {workers} workers but distribute={mode} trains in one process; "
            "use distribute=auto or multi-worker, or unset TF_CONFIG"
        )
    if mode == "multi-worker" or workers > 1:
        return multi_worker_strategy()
    if mode == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if mode == "mirrored" or len(devices) > 1:
        if recipe is not None and not recipe.mirrored_supported(config) and len(devices) > 1:
            if mode == "mirrored":
                raise UserError(
                    f"model {recipe.name!r} applies some updates conditionally (as these "
                    "options set it up), which MirroredStrategy cannot run over several local "
                    "devices; use distribute=default, or one worker per device with "
                    "gentk launch (distribute=multi-worker)"
                )
            logging.getLogger("gentk.run").warning(
                "model %s updates conditionally: MirroredStrategy over %d devices cannot run "
                "it, training on one device (gentk launch runs one worker per device)",
                recipe.name,
                len(devices),
            )
            return tf.distribute.get_strategy()
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()
