"""Safe loading (plugins first, ``safe_mode=True``) and atomic write-then-rename of outputs."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["load_model", "atomic_path", "atomic_write_text", "atomic_write_json"]


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A killed process leaves at most a ``.tmp-*`` file behind, never a truncated ``path``.
    ``suffix`` defaults to the target's own (Keras insists on ``.keras`` / ``.weights.h5``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(path.suffixes) or ""
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name.split('.')[0]}.tmp-", suffix=suffix, dir=path.parent
    )
    os.close(fd)
    os.unlink(tmp)  # writers such as h5py and zipfile want to create the file themselves
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def load_model(path, *, compile: bool = True, safe_mode: bool = True):
    """Load a ``.keras`` model after loading every plugin, so plugin classes are registered.

    Args:
        path: a ``.keras`` file, or a run directory holding ``model.keras``.
        compile: restore the compile configuration as saved.
        safe_mode: keep Keras' safe mode on (no lambdas, no pickles). Default True.
    """
    import keras

    from gentk.errors import UserError
    from gentk.plugins import get_registry

    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise UserError(f"no saved model at {path}")
    get_registry()  # imports every plugin module, which registers their Keras classes
    return keras.models.load_model(path, compile=compile, safe_mode=safe_mode)
