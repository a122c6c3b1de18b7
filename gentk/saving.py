"""Safe loading of saved models: the plugins that define their classes imported first, then
``keras.saving.load_model`` with ``safe_mode=True``; the classes an archive names and whether a
fresh process could import them.

The atomic writers live in ``gentk.atomic`` (a leaf module); they are re-exported here for
plugins written against earlier versions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gentk.atomic import (  # noqa: F401 - re-exported (see the docstring)
    append_text,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    disk_full,
    save_weights,
    sync_file,
)

if TYPE_CHECKING:
    import keras

__all__ = [
    "load_model",
    "saved_classes",
    "unloadable_classes",
    "read_archive_config",
    "import_saved_modules",
]


def saved_classes(config: dict) -> list[tuple[str | None, str | None, str]]:
    """``(module, registered_name, class_name)`` of every object in a serialized Keras config.
    Keras records a class defined in ``__main__`` (a script) with module None; it is reported
    as ``__main__`` (the objects Keras writes without a module key, tuples and arrays, as None)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("class_name"), str) and "config" in node:
                module = node.get("module")
                if module is None and "module" in node:
                    module = "__main__"
                found.append((module, node.get("registered_name"), node["class_name"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found


def read_archive_config(path: Path) -> dict:
    import zipfile

    from gentk.errors import UserError

    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        reason = "truncated or not a .keras archive" if not isinstance(err, KeyError) else err
        raise UserError(f"{path}: cannot read the saved model ({reason})") from None


def _is_keras(module: str | None) -> bool:
    return not module or module == "keras" or module.startswith(("keras.", "builtins"))


def unloadable_classes(config: dict) -> list[str]:
    """Classes in a serialized model that a fresh process could not find: those defined
    outside gentk, Keras and the loaded plugins' packages (a script, a notebook, a test)."""
    from gentk.plugins import plugin_packages

    allowed = plugin_packages()
    bad = []
    for module, registered, class_name in saved_classes(config):
        if _is_keras(module) or module.split(".")[0] in allowed:
            continue
        bad.append(f"{registered or class_name} (module {module})")
    return sorted(set(bad))


def import_saved_modules(config: dict) -> None:
    """Import the plugin modules that define a saved model's classes, so a class that its
    plugin registers only when its module is imported (not when the hooks run) still loads.
    Only modules inside gentk's and the loaded plugins' packages are imported: the archive
    cannot make gentk import anything else."""
    import importlib

    import keras

    from gentk.plugins import plugin_packages

    allowed = plugin_packages()
    for module, registered, _ in saved_classes(config):
        if _is_keras(module) or module.split(".")[0] not in allowed:
            continue
        if registered and keras.saving.get_registered_object(registered) is not None:
            continue
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # Keras names the missing class below


def load_model(
    path: str | os.PathLike, *, compile: bool = True, safe_mode: bool = True
) -> keras.Model:
    """Load a ``.keras`` model after loading every plugin, so plugin classes are registered.

    Args:
        path: a ``.keras`` file, or a run directory holding ``model.keras``.
        compile: restore the compile configuration as saved.
        safe_mode: keep Keras' safe mode on (no lambdas, no pickles). Default True.

    Raises:
        UserError: no file, a truncated or tampered archive, or a class no plugin provides;
            the message names the file.
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
    import_saved_modules(read_archive_config(path))
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=safe_mode)
    except ValueError as err:
        if "safe_mode" not in str(err):
            raise
        raise UserError(
            f"{path}: refused: it holds Python code (a Lambda layer or a lambda), which "
            "loading would run; gentk loads models with safe_mode on"
        ) from None
    except TypeError as err:
        if "Could not locate" not in str(err) and "could not be deserialized" not in str(err):
            raise
        missing = sorted(
            {
                f"{registered} (module {module})"
                for module, registered, _ in saved_classes(read_archive_config(path))
                if registered and keras.saving.get_registered_object(registered) is None
            }
        ) or [str(err).split("\n")[0]]
        raise UserError(
            f"{path}: cannot load {', '.join(missing)}: no installed gentk plugin provides it "
            "(install or enable the plugin that trained this model)"
        ) from None
