"""Start-up of the CLI (#10 item 12): listing plugins and --help import no TensorFlow, and
TensorFlow's C++ start-up lines and its deprecation notices about its own libraries reach the
terminal only under --debug."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gentk.cli.native_log import NOISE
from tests.conftest import run_cli

_NO_TF = """
import sys
from gentk.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("tensorflow", "keras", "tensorflow_probability") if m in sys.modules)
print("HEAVY", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv", [["plugins"], ["plugins", "--json"], ["--help"], ["run", "--help"]]
)
def test_listing_plugins_and_help_import_no_tensorflow(argv):
    """Every plugin, the example third-party one included, registers its factories by
    reference; `gentk plugins` took 13 s when each hook imported TensorFlow."""
    done = subprocess.run(
        [sys.executable, "-c", _NO_TF.format(argv=argv)], capture_output=True, text=True
    )
    assert "HEAVY []" in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("name", ["vae", "wgan-gp", "recommender-recvae"])
def test_info_imports_no_tensorflow(name):
    """#22 item 18: `gentk info` took 6-11 s, importing TensorFlow for the options; recipes
    and their configs are importable without it (the models come when a recipe builds one)."""
    done = subprocess.run(
        [sys.executable, "-c", _NO_TF.format(argv=["info", name])], capture_output=True, text=True
    )
    assert "HEAVY []" in done.stderr, done.stderr[-2000:]
    assert "--set latent_dim" in done.stdout


def test_every_recipe_and_its_options_import_no_tensorflow():
    code = """
import sys
from gentk.plugins import get_registry
for e in get_registry().entries("model"):
    e.factory.inactive_options(e.config())
heavy = sorted(m for m in ("tensorflow", "keras", "tensorflow_probability") if m in sys.modules)
print("HEAVY", heavy)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in done.stdout, done.stderr[-2000:]


def test_tensorflow_start_up_lines_are_filtered_unless_debug(tmp_path):
    tiny = tmp_path / "three.npz"
    np.savez(tiny, x=np.zeros((3, 8, 8)))
    args = ["run", "vae", "--data", tiny, "-o", tmp_path / "r"]  # imports TensorFlow, then stops
    quiet = run_cli(*args, fresh=True)  # the native log filter is the process's own
    assert quiet.returncode == 2
    assert quiet.stderr.strip().startswith("Error: the test split of 3"), quiet.stderr
    loud = run_cli("--debug", *args, fresh=True)
    assert "absl::InitializeLog" in loud.stderr, loud.stderr


def test_the_filter_knows_the_start_up_lines_and_keeps_the_rest():
    noise = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        b"I0000 00:00:1795922047.519113   22688 port.cc:153] oneDNN custom operations are on.",
        b"I0000 00:00:1795922047.519561   22688 cudart_stub.cc:31] Could not find cuda drivers",
        b"E0000 00:00:1795922056.546906   22693 cuda_platform.cc:52] failed call to cuInit: X",
        b"E0000 00:00:1796421238.183102   20628 meta_optimizer.cc:967] remapper failed: "
        b"INVALID_ARGUMENT: Mutation::Apply error: fanout 'StatefulPartitionedCall/gradient_tape"
        b"/dcgan_critic_1/LeakyRelu_1/LeakyReluGrad' exist for missing node 'x/BiasAdd'.",
        b"E0000 00:00:1796421238.183102   20628 ring_alg.cc:290] Aborting RingReduce with "
        b"UNAVAILABLE: Collective ops is aborted by: failed to connect to all addresses",
    ]
    kept = [
        b"E0000 00:00:1796421238.183102   20628 meta_optimizer.cc:967] layout failed: X",
        b"E0000 00:00:1795922056.546906   22693 op_kernel.cc:1857] OP_REQUIRES failed",
        b"Error: no such file: ratings.csv",
        b"Fatal Python error: Segmentation fault",
    ]
    assert all(NOISE.match(line) for line in noise)
    assert not any(NOISE.match(line) for line in kept)


def test_a_lazily_registered_model_that_cannot_be_imported_is_one_line():
    from gentk.errors import PluginError
    from gentk.registry import Entry

    entry = Entry("model", "ghost", "no_such_package.recipes:Ghost", plugin="ghosts")
    with pytest.raises(PluginError, match="plugin 'ghosts' registered model 'ghost' as"):
        _ = entry.factory
    wrong = Entry("model", "vae-copy", "gentk_vae.recipe:VAERecipe", plugin="copies")
    with pytest.raises(PluginError, match="but its recipe is named 'vae'"):
        _ = wrong.factory


def test_deprecation_notices_from_inside_the_libraries_are_dropped_and_others_kept():
    import logging

    from gentk.cli.native_log import _LibraryDeprecations

    def record(message):
        return logging.LogRecord("tensorflow", logging.WARNING, "x.py", 1, message, None, None)

    drop = _LibraryDeprecations()
    inside = (
        "From /venv/lib/python3.11/site-packages/tensorflow_probability/python/math/ode/base.py"
        ":448: calling while_loop_v2 (from tensorflow.python.ops.while_loop) with "
        "back_prop=False is deprecated and will be removed in a future version."
    )
    mine = "From /home/me/plugin/flow.py:12: calling foo is deprecated and will be removed"
    assert not drop.filter(record(inside))
    assert drop.filter(record(mine))  # a plugin author's own call still warns
    assert drop.filter(record("Compiled cluster using XLA!"))
