"""One line and exit 2 instead of crashes: an empty test split, damaged run files, out-of-range
options, and control characters from input files that must not reach the terminal raw."""

import json

import numpy as np
import pytest

import gentk
from gentk.errors import UserError
from gentk.plugins import get_registry
from tests.conftest import error_lines, run_cli


def _vae():
    return get_registry().get("model", "vae").factory


def test_an_empty_test_split_is_refused_before_training(tmp_path):
    tiny = tmp_path / "three.npz"
    np.savez(tiny, x=np.random.default_rng(0).random((3, 8, 8)))
    result = run_cli("run", "vae", "--data", tiny, "-o", tmp_path / "r", "--epochs", "1")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "Error: the test split of 3 examples is empty (test_fraction=0.1); the run reports "
        "test metrics: give more data, a larger test_fraction or a --test file"
    ]
    assert not (tmp_path / "r" / "checkpoints").exists()
    with pytest.raises(UserError, match="test split of 1797 examples is empty"):
        gentk.run(_vae(), output=tmp_path / "r2", verbose=0, overrides=["test_fraction=0"])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    gentk.run(_vae(), output=out, verbose=0, epochs=1, overrides=["hidden=8", "nll_samples=5"])
    return out


@pytest.mark.parametrize(
    "damage, command, needle",
    [
        ("run.json", "sample", "run.json: not a valid run record (JSONDecodeError)"),
        ("model.keras", "sample", "model.keras: cannot read the saved model (truncated"),
        ("checkpoints/state.json", "resume", "state.json: not a valid checkpoint record"),
    ],
)
def test_damaged_run_files_are_one_line_naming_the_file(
    finished, tmp_path, damage, command, needle
):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    target = run / damage
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    if command == "sample":
        result = run_cli("sample", run, "-n", "4", "-o", tmp_path / "s.npz")
    else:
        result = run_cli("run", "vae", "-o", run, "--resume", "--epochs", "2")
    assert result.returncode == 2, result.stderr[-2000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and needle in lines[0], lines
    assert "Traceback" not in result.stderr


def test_out_of_range_options_exit_2_from_the_cli(tmp_path):
    result = run_cli("run", "vae", "-o", tmp_path / "r", "--set", "learning_rate=-1")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "Error: `learning_rate` must be > 0. Received: learning_rate=-1.0"
    ]
    assert not (tmp_path / "r").exists()


def test_control_characters_from_a_file_are_escaped(tmp_path):
    bad = tmp_path / "evil.csv"
    bad.write_text("user,it\x1b[2Jem,rating\n1,2,5\n")
    result = run_cli(
        "run", "recommender-vae", "--data", bad, "--set", "item_column=item", "-o", tmp_path / "r"
    )
    assert result.returncode == 2
    assert "\x1b" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert "no item column named 'item'; header: user, it\\x1b[2Jem, rating" in line


def test_run_json_records_what_resume_needs(finished):
    meta = json.loads((finished / "run.json").read_text())
    assert meta["model"] == "vae" and meta["data"] is None and meta["data_shape"] == [8, 8, 1]


def test_out_of_memory_is_one_line_naming_the_tensor():
    from gentk.cli import _out_of_memory

    class ResourceExhaustedError(Exception):  # TensorFlow's, by name
        pass

    err = ResourceExhaustedError(
        "Exception encountered when calling Dense.call().\n\n{{function_node x}} OOM when "
        "allocating tensor with shape[100000000,64] and type float on /job:localhost"
    )
    assert _out_of_memory(err) == (
        "out of memory: a float tensor of shape [100000000, 64] (25.6 GB) in Dense did not "
        "fit; lower the sizes that make it (batch size, widths, number of samples)"
    )
    assert _out_of_memory(MemoryError()).startswith("out of memory; lower the sizes")
    assert _out_of_memory(ValueError("OOM when allocating")) is None


def test_a_model_keras_with_python_code_is_refused_with_exit_2(finished, tmp_path):
    import keras

    lam = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    lam.save(tmp_path / "lambda.keras")
    with pytest.raises(UserError, match=r"lambda.keras: refused: it holds Python code"):
        gentk.load_model(tmp_path / "lambda.keras")
    run = tmp_path / "run"
    import shutil

    shutil.copytree(finished, run)
    shutil.copy(tmp_path / "lambda.keras", run / "model.keras")
    proc = run_cli("sample", run, "-n", "4", "-o", tmp_path / "s.png")
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc.stderr) == [
        f"Error: {run / 'model.keras'}: refused: it holds Python code (a Lambda layer or a "
        "lambda), which loading would run; gentk loads models with safe_mode on"
    ]


@pytest.mark.parametrize(
    "model, option, needle",
    [
        ("nsf", "likelihood=gaussian", "a flow's likelihood is its exact density"),
        ("nsf", "sigma=5", "a flow's likelihood is its exact density"),
        ("realnvp", "bins=4", "no spline step among bijectors"),
        ("gan", "filters=8,8", "options of the dcgan generator; generator=mlp-generator"),
        ("dcgan", "hidden=8", "have no MLP widths"),  # components by the data: at build
        ("gan", "labelled=10", "ssgan"),
    ],
)
def test_options_a_model_ignores_are_refused_and_not_listed(tmp_path, model, option, needle):
    proc = run_cli("run", model, "--set", option, "-o", tmp_path / "r", "--epochs", "1", "-q")
    assert proc.returncode == 2
    key = option.split("=")[0]
    assert error_lines(proc.stderr)[0].startswith(f"Error: {key}=")
    assert needle in proc.stderr and not (tmp_path / "r").exists()
    info = run_cli("info", model, "--kind", "model")
    # a GAN's components follow the data (auto): its info lists what acts on some data, except
    # options of a mode it does not have (labelled: ssgan)
    hidden = model not in ("gan", "dcgan") or key == "labelled"
    assert info.returncode == 0 and (f"--set {key}=" not in info.stdout) == hidden
