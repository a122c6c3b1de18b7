"""The runner in Python: the NaN guard keeps the last good checkpoint; MirroredStrategy runs."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import gentk
from gentk.errors import TrainingError, UserError
from gentk.plugins import get_registry


def _vae():
    return get_registry().get("model", "vae").factory


def test_nan_loss_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    gentk.run(_vae(), output=out, verbose=0, epochs=2, overrides=["hidden=16", "nll_samples=5"])
    with pytest.raises(TrainingError, match=r"became (nan|inf).*last good checkpoint \(epoch 2\)"):
        gentk.run(
            _vae(), output=out, resume=True, verbose=0, epochs=4, overrides=["learning_rate=1e38"]
        )
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2 and (out / "checkpoints" / state["weights"]).is_file()


def test_model_fit_from_python_as_the_readme_shows(tmp_path):
    import keras
    from gentk_autoencoders.components import MLPDecoder, MLPEncoder
    from gentk_vae.model import VAE

    from gentk.data import digits

    x = digits().x
    vae = VAE(
        MLPEncoder(latent_dim=2, hidden=(32,)), MLPDecoder(output_shape=(8, 8, 1), hidden=(32,))
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    history = vae.fit(x, batch_size=128, epochs=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    vae.save(tmp_path / "vae.keras")
    loaded = gentk.load_model(tmp_path / "vae.keras")
    assert loaded.sample(3).shape == (3, 8, 8, 1)


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    script = textwrap.dedent(f"""
        import json, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import gentk
        from gentk.training.strategy import select_strategy
        assert select_strategy().num_replicas_in_sync == 2
        recipe = gentk.get_registry().get("model", "autoencoder").factory
        result = gentk.run(recipe, output={str(tmp_path / "run")!r}, verbose=0, epochs=2,
                           overrides=["hidden=16"])
        print(json.dumps(result.metrics))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert metrics["epochs"] == 2 and metrics["test_mse"] < 0.2
    assert "2 replica(s)" in (tmp_path / "run" / "run.log").read_text()


def test_history_columns_keep_their_order_after_a_resume(tmp_path):
    """Rows read back from state.json come with sorted keys: the header must not change."""
    from gentk.training.callbacks import write_history_csv

    logged = [{"epoch": 1, "loss": 2.0, "elbo": -2.0}]  # as Keras logs them
    resumed = [*logged, dict(sorted({"epoch": 2, "loss": 1.5, "elbo": -1.5}.items()))]
    write_history_csv(tmp_path / "a.csv", logged)
    write_history_csv(tmp_path / "b.csv", [dict(sorted(r.items())) for r in resumed])
    first = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert first == (tmp_path / "b.csv").read_text().splitlines()[0] == "epoch,elbo,loss"


def test_the_checkpoint_state_stays_small_and_history_rows_past_it_are_dropped(tmp_path):
    """state.json counts the history rows (appended to history.jsonl one per epoch) instead of
    holding them: it stays a few hundred bytes however long the run. A row appended by an epoch
    whose checkpoint was never completed (a kill between the two) is dropped on resume."""
    from gentk.training.callbacks import read_checkpoint_state

    out = tmp_path / "run"
    small = ["hidden=8", "nll_samples=5"]
    gentk.run(_vae(), output=out, verbose=0, epochs=3, overrides=small)
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert "history" not in state and state["history_rows"] == 3
    assert (out / "checkpoints" / "state.json").stat().st_size < 1000
    with open(out / "checkpoints" / "history.jsonl", "a") as f:
        f.write('{"epoch": 4, "loss": 1.0}\n{"epoch": 5, "lo')  # a killed epoch's row, cut
    assert [r["epoch"] for r in read_checkpoint_state(out)["history"]] == [1, 2, 3]
    (out / "metrics.json").unlink()
    gentk.run(_vae(), output=out, resume=True, verbose=0, epochs=5, overrides=small)
    rows = read_checkpoint_state(out)["history"]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5] and rows[3]["loss"] != 1.0
    csv_epochs = [line.split(",")[0] for line in (out / "history.csv").read_text().splitlines()]
    assert csv_epochs == ["epoch", "1", "2", "3", "4", "5"]


def test_epochs_and_importance_samples_have_upper_bounds():
    from gentk.config import resolve_config

    recipe = _vae()
    with pytest.raises(UserError, match=r"`epochs` must be in \[0, 1000000\]"):
        resolve_config(recipe.config, None, ["epochs=99999999999999999999"])
    with pytest.raises(UserError, match=r"`nll_samples` must be in \[0, 100000\]"):
        resolve_config(recipe.config, None, ["nll_samples=1000000000"])
