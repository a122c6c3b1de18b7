"""``jit_compile=auto|true|false``: when the runner compiles with XLA, and XLA under a
``MirroredStrategy`` (each replica's forward and backward pass compiled)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from gentk.config import TrainConfig, resolve_config
from gentk.errors import UserError
from gentk.recipe import Recipe
from gentk.training.runner import use_xla


class _Plain(Recipe):
    name = "plain"


class _MeasuredFaster(Recipe):
    name = "faster"
    xla_on_cpu = True


class _NoXla(Recipe):
    name = "no-xla"
    supports_jit = False


@pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")), reason="CPU-only rule")
def test_auto_is_off_on_cpu_unless_the_recipe_measured_xla_faster():
    auto, on, off = (TrainConfig(jit_compile=v) for v in ("auto", "true", "false"))
    assert not use_xla(_Plain(), auto) and use_xla(_MeasuredFaster(), auto)
    assert use_xla(_Plain(), on) and not use_xla(_MeasuredFaster(), off)
    assert not use_xla(_NoXla(), on)  # a recipe XLA cannot compile is never compiled


def test_jit_compile_reads_older_booleans_and_refuses_other_words(tmp_path):
    old = tmp_path / "config.toml"
    old.write_text("jit_compile = true\n")
    assert resolve_config(TrainConfig, old).jit_compile == "true"
    assert resolve_config(TrainConfig, None, ["jit_compile=off"]).jit_compile == "false"
    assert TrainConfig().jit_compile == "auto"
    with pytest.raises((UserError, ValueError), match="auto, true or false"):
        resolve_config(TrainConfig, None, ["jit_compile=sometimes"])


def test_xla_under_a_mirrored_strategy_compiles_each_replica(tmp_path):
    """Keras' own jit_compile cannot compile a step across two devices; the runner compiles
    each replica's pass instead, and training converges as without XLA."""
    script = textwrap.dedent(f"""
        import json, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import gentk
        recipe = gentk.get_registry().get("model", "autoencoder").factory
        result = gentk.run(recipe, output={str(tmp_path / "run")!r}, verbose=0, epochs=2,
                           overrides=["hidden=16", "jit_compile=true"])
        print(json.dumps({{**result.metrics, "per_replica": bool(
            result.model.xla_per_replica or False)}}))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ},
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert metrics["epochs"] == 2 and metrics["test_mse"] < 0.2
    assert "2 replica(s)" in (tmp_path / "run" / "run.log").read_text()
