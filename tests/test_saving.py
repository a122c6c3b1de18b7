"""Saving and loading: durable atomic writes, a full disk as one error, models that load in a new
process (plugin classes imported on demand, and only from plugin packages), damaged archives."""

import errno
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

import gentk
from gentk.atomic import atomic_write_text, keras_state_writer, save_weights
from gentk.errors import DiskFullError, PluginError, UserError
from gentk.image_recipe import ImageRecipe
from gentk.plugins import get_registry


def test_atomic_writes_fsync_the_file_and_its_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic_write_text(tmp_path / "a.txt", "hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert any(".a.tmp-" in p for p in synced), synced  # the new file, before the rename
    assert synced[-1] == str(tmp_path)  # the directory, after it


def test_a_full_disk_is_one_error_naming_the_file_and_the_old_file_stays(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    target.write_text("old")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(DiskFullError, match=rf"^no space left on {tmp_path} while writing state"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left


def test_the_pinned_keras_still_has_the_private_in_memory_weights_writer():
    """``save_weights`` uses ``keras.src.saving.saving_lib``'s ``H5IOStore`` and
    ``_save_state`` (private names); this fails when a Keras upgrade moves them, rather than
    letting every checkpoint silently take the fallback."""
    assert keras_state_writer() is not None, f"Keras {keras.__version__} moved saving_lib names"


def test_save_weights_falls_back_to_keras_own_writer_atomically(tmp_path, monkeypatch):
    import gentk.atomic

    monkeypatch.setattr(gentk.atomic, "keras_state_writer", lambda: None)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    save_weights(model, tmp_path / "w.weights.h5")
    clone = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    clone.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(model.get_weights()[0], clone.get_weights()[0])
    assert [p.name for p in tmp_path.iterdir()] == ["w.weights.h5"]


def test_the_core_modules_import_no_circle():
    """Module-level and function-level imports between gentk's core modules form no cycle
    (the atomic writers are a leaf: loading models needs the plugins, writing files does not)."""
    import ast
    from pathlib import Path

    root = Path(gentk.__file__).parent
    modules = {
        ".".join(p.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in root.rglob("*.py")
    }
    edges = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from pkg import submodule`` depends on the submodule, not on the package
                targets = [f"{node.module}.{a.name}" for a in node.names]
                if any(t not in modules for t in targets):
                    targets.append(node.module)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges[name] |= {t for t in targets if t in modules and t != name and t != "gentk"}

    def cycle_from(start, node, seen):
        for nxt in edges[node]:
            if nxt == start:
                return [node, nxt]
            if nxt not in seen:
                seen.add(nxt)
                rest = cycle_from(start, nxt, seen)
                if rest:
                    return [node, *rest]
        return None

    cycles = {name: cycle_from(name, name, {name}) for name in edges}
    assert not {k: v for k, v in cycles.items() if v}, cycles


def test_save_weights_writes_what_keras_loads(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    save_weights(model, tmp_path / "w.weights.h5")
    clone = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    clone.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_plugin_model_class_imported_only_when_building_loads_in_a_new_process(tmp_path):
    """The example plugin imports ``gentk_example_plugin.model`` only in ``build``: the saved
    model must still load where nothing but ``gentk.load_model`` ran."""
    recipe = get_registry().get("model", "linear-autoencoder").factory
    out = tmp_path / "run"
    gentk.run(recipe, output=out, verbose=0, epochs=1)
    script = textwrap.dedent(f"""
        import sys, gentk
        assert "gentk_example_plugin.model" not in sys.modules
        model = gentk.load_model({str(out)!r})
        print(type(model).__module__, type(model).__name__)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ["gentk_example_plugin.model", "LinearAutoencoder"]


@keras.saving.register_keras_serializable(package="gentk_tests")
class _ScriptModel(keras.Model):
    """A model class defined outside any plugin package (like one in a notebook)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(64)

    def call(self, x):
        return keras.ops.reshape(self.dense(keras.ops.reshape(x, (-1, 64))), (-1, 8, 8, 1))

    def compute_losses(self, data, training=False):
        return {"loss": keras.ops.mean((self(data) - data) ** 2)}


class _ScriptRecipe(ImageRecipe):
    name = "script-model"
    help = "a recipe whose model class no other process can import"

    def build(self, config, data):
        return _ScriptModel()


def test_the_runner_refuses_a_model_class_that_no_new_process_could_import(tmp_path):
    with pytest.raises(PluginError, match=r"gentk_tests>_ScriptModel \(module tests\.test_saving"):
        gentk.run(_ScriptRecipe(), output=tmp_path / "run", verbose=0, epochs=1)
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before training


def test_the_runner_refuses_a_model_class_defined_in_a_script(tmp_path):
    """Keras records a class of ``__main__`` with module None; that is no Keras class."""
    import inspect

    script = "\n".join([
        "import keras, gentk",
        "from gentk.errors import PluginError",
        "from gentk.image_recipe import ImageRecipe",
        inspect.getsource(_ScriptModel),  # the same class, now defined in __main__
        "class Recipe(ImageRecipe):",
        "    name = 'mine'",
        "    def build(self, config, data):",
        "        return _ScriptModel()",
        "try:",
        f"    gentk.run(Recipe(), output={str(tmp_path / 'run')!r}, verbose=0, epochs=1)",
        "except PluginError as err:",
        "    print('refused:', err)",
    ])  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "refused: model 'mine': gentk_tests>_ScriptModel (module __main__)" in proc.stdout
    assert not (tmp_path / "run" / "model.keras").exists()


@pytest.fixture
def saved_vae(tmp_path):
    recipe = get_registry().get("model", "vae").factory
    gentk.run(recipe, output=tmp_path / "run", verbose=0, epochs=1, overrides=["hidden=8"])
    return tmp_path / "run" / "model.keras"


def _with_model_class(source, target, module, registered_name):
    """A copy of the ``.keras`` archive ``source`` whose model names another class."""
    with zipfile.ZipFile(source) as archive:
        config = json.loads(archive.read("config.json"))
        files = {n: archive.read(n) for n in archive.namelist()}
    config["registered_name"], config["module"] = registered_name, module
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, json.dumps(config) if name == "config.json" else content)
    return target


def test_a_truncated_or_tampered_model_is_one_error_naming_the_file(saved_vae, tmp_path):
    data = saved_vae.read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=rf"^{truncated}: cannot read the saved model \(trunc"):
        gentk.load_model(truncated)
    tampered = _with_model_class(saved_vae, tmp_path / "tampered.keras", "gentk_nowhere.model",
                                 "gentk_nowhere>Model")  # fmt: skip
    with pytest.raises(UserError, match=r"cannot load gentk_nowhere>Model .*no installed gentk"):
        gentk.load_model(tampered)


def test_loading_imports_modules_of_plugin_packages_only(saved_vae, tmp_path, monkeypatch):
    canary = tmp_path / "canary_module_xyz.py"
    marker = tmp_path / "imported"
    canary.write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    crafted = _with_model_class(saved_vae, tmp_path / "crafted.keras", "canary_module_xyz",
                                "canary>Model")  # fmt: skip
    with pytest.raises(UserError, match="cannot load canary>Model"):
        gentk.load_model(crafted)
    assert not marker.exists()
