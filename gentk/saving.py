"""Safe loading (plugins first, ``safe_mode=True``) and atomic write-then-rename of outputs.

Writes are durable as well as atomic: the new file is fsynced before the rename and its
directory after it, so neither a kill nor a power loss leaves an empty or truncated file under
the final name. A full disk (or quota, or file-size limit) becomes one ``DiskFullError`` naming
the file, and the previous version of the file is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import tempfile
from pathlib import Path

from gentk.errors import DiskFullError

__all__ = [
    "load_model",
    "atomic_path",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_bytes",
    "append_text",
    "sync_file",
    "disk_full",
    "save_weights",
    "saved_classes",
    "unloadable_classes",
    "read_archive_config",
]

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms that cannot open a directory (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def disk_full(path):
    """A context in which a full disk (or quota, or file-size limit) while writing ``path`` is a
    ``DiskFullError``; TensorFlow's C++ writers report it as an ``OpError`` whose text alone
    names it."""

    @contextlib.contextmanager
    def guard():
        try:
            yield
        except OSError as err:
            if err.errno in _FULL:
                raise DiskFullError(path, err) from None
            raise
        except Exception as err:
            text = str(getattr(err, "message", "")).lower()
            if type(err).__module__.startswith("tensorflow"):
                for code, needle in ((errno.ENOSPC, "no space left"), (errno.EDQUOT, "quota")):
                    if needle in text:
                        raise DiskFullError(path, OSError(code, needle)) from None
            raise

    return guard()


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
        with disk_full(path):
            yield Path(tmp)
            _fsync_file(Path(tmp))
            os.replace(tmp, path)
            _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def append_text(path, text: str, durable: bool = True) -> None:
    """Append ``text`` to ``path`` and fsync it (unless not ``durable``: then ``sync_file``
    later, before anything that counts on it); a full disk is a ``DiskFullError`` and the file
    is cut back to its old length (no partial line is left)."""
    path = Path(path)
    with disk_full(path), open(path, "a", encoding="utf-8") as f:
        size = f.tell()
        try:
            f.write(text)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        except OSError:
            try:
                f.truncate(size)
            except OSError:
                pass
            raise


def sync_file(path) -> None:
    """fsync ``path``: what was appended to it reaches the disk."""
    with disk_full(Path(path)), open(path, "rb") as f:
        os.fsync(f.fileno())


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def save_weights(model, path) -> None:
    """``model.save_weights(path)`` made atomic, durable and safe on a full disk.

    The HDF5 file is built in memory and written with plain file I/O: HDF5 that meets a full
    disk half-way leaves objects whose clean-up crashes the interpreter, whereas a failed
    ``write`` is an ordinary ``OSError`` (reported as ``DiskFullError``, old file intact).
    """
    buffer = io.BytesIO()
    try:
        from keras.src.saving import saving_lib
    except ImportError:  # a Keras without this module: its own writer, still atomic
        with atomic_path(path) as tmp:
            model.save_weights(tmp)
        return
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(
            model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set()
        )
    finally:
        store.close()
    atomic_write_bytes(path, buffer.getvalue())


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def saved_classes(config) -> list[tuple[str | None, str | None, str]]:
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


def unloadable_classes(config) -> list[str]:
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


def import_saved_modules(config) -> None:
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


def load_model(path, *, compile: bool = True, safe_mode: bool = True):
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
