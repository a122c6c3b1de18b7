"""One conformance suite over everything registered: each new model or component gets all of it.

The checks live in ``gentk.testing`` (so a plugin author runs the same ones with
``python -m gentk.testing PLUGIN``); see its docstring for what they are.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gentk import testing
from gentk.config import resolve_config
from gentk.plugins import get_registry
from gentk.registry import Entry

REGISTRY = get_registry()
COMPONENTS = [e for e in REGISTRY.entries() if e.kind not in ("model", "dataset")]
MODELS = [e for e in REGISTRY.entries("model")]
SAVED_DIR = Path(tempfile.mkdtemp(prefix="gentk-conformance-"))


@pytest.mark.parametrize("entry", COMPONENTS, ids=lambda e: f"{e.kind}:{e.name}")
def test_component_conformance(entry):
    testing.check_component(entry)


@pytest.mark.parametrize("entry", MODELS, ids=lambda e: e.name)
def test_model_conformance(entry):
    testing.check_model(entry, SAVED_DIR)


@pytest.mark.parametrize("entry", MODELS, ids=lambda e: e.name)
def test_model_trains_under_mixed_precision(entry, tmp_path):
    testing.check_mixed_precision(entry, tmp_path)


def test_every_saved_model_loads_in_a_fresh_process():
    """What the in-process round trip cannot see: a class that only this process registered
    (say, in a module the recipe imported while building) makes ``model.keras`` unloadable
    anywhere else. One new interpreter loads every model saved above."""
    saved = sorted(SAVED_DIR.glob("*.keras"))
    if not saved:
        pytest.skip("runs after test_model_conformance, which saves the models")
    assert len(saved) == len(MODELS)
    testing.check_fresh_load(saved)


def test_plugin_authors_run_the_suite_with_one_command():
    proc = subprocess.run(
        [sys.executable, "-m", "gentk.testing", "example"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert "ok   model:linear-autoencoder" in lines
    assert "ok   divergence:symmetric-least-squares" in lines
    assert "ok   bijector:householder" in lines
    assert lines[-1] == "4 passed, 0 failed"


def test_the_suite_fails_a_model_that_no_new_process_can_load(tmp_path):
    """Pinned no longer to the built-ins, and no longer passing a plugin whose model cannot be
    loaded: a recipe whose model class lives outside any plugin package fails."""
    from tests.test_saving import _ScriptRecipe

    recipe = _ScriptRecipe()
    entry = Entry("model", recipe.name, recipe, recipe.config, recipe.help, "local", "0")
    with pytest.raises(testing.ConformanceError, match="no other process can import"):
        testing.check_model(entry, tmp_path)


@pytest.mark.parametrize("entry", MODELS, ids=lambda e: e.name)
def test_shared_optimizer_options_reach_the_optimizer(entry):
    recipe = entry.factory
    config = resolve_config(
        recipe.config, None, ["weight_decay=0.25", "learning_rate=0.002"], **recipe.smoke
    )
    data = recipe.load_data(config, None)
    model = recipe.build(config, data)
    recipe.compile(model, config, jit_compile=False)
    assert model.optimizer.weight_decay == pytest.approx(0.25)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)
