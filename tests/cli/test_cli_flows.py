"""The flow recipes end to end: run on a named 2-D dataset and on digits, metrics (NLL and
bits/dim), pictures, sampling with a temperature, exact scores, encode/decode round trips,
SIGKILL + resume, and one-line errors for bad data."""

import json
import tomllib

import numpy as np
import pytest

from tests.conftest import error_lines, kill_at_epoch, run_cli

FAST = ["--set", "hidden=16,16", "--set", "steps=2", "-q"]


def test_realnvp_on_two_moons_writes_nll_density_and_samples(tmp_path):
    out = tmp_path / "realnvp"
    result = run_cli("run", "realnvp", "--data", "two-moons", "-o", out, "--epochs", "3", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["test_nll"]) and metrics["dims"] == 2
    for name in ("samples.png", "density.png", "latent.png", "model.keras"):
        assert (out / name).is_file(), name
    hot = run_cli("sample", out, "-n", "500", "-o", tmp_path / "hot.npz")
    cold = run_cli(
        "sample", out, "-n", "500", "--set", "temperature=0.3", "-o", tmp_path / "cold.npz"
    )
    assert hot.returncode == 0 and cold.returncode == 0, cold.stderr[-2000:]
    spread = [np.load(tmp_path / f)["samples"].std() for f in ("hot.npz", "cold.npz")]
    assert spread[1] < spread[0]  # a colder base draws nearer the modes
    as_csv = run_cli("sample", out, "-n", "7", "-o", tmp_path / "s.csv")
    assert as_csv.returncode == 0, as_csv.stderr[-2000:]
    table = np.genfromtxt(tmp_path / "s.csv", delimiter=",", names=True)
    assert table.dtype.names == ("x0", "x1") and len(table) == 7
    wrong = run_cli("sample", out, "-o", tmp_path / "s.txt")
    assert wrong.returncode == 2 and "s.txt: samples are written as .npz or .csv" in wrong.stderr
    assert not (tmp_path / "s.txt").exists()


def test_glow_on_digits_reports_bits_per_dim_and_scores_rows_exactly(tmp_path):
    out = tmp_path / "glow"
    result = run_cli("run", "glow", "-o", out, "--epochs", "1", *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dequantize_levels"] == 17 and metrics["dims"] == 64
    assert metrics["test_bits_per_dim"] == pytest.approx(
        (metrics["test_nll"] + 64 * np.log(17)) / (64 * np.log(2)), rel=1e-5
    )
    rows = tmp_path / "rows.npz"
    pixels = np.random.default_rng(0).integers(0, 17, size=(5, 64)) / 16.0
    np.savez(rows, x=pixels.reshape(5, 8, 8, 1).astype("float32"))
    scored = run_cli("score", out, "--data", rows, "-o", tmp_path / "s.csv")
    assert scored.returncode == 0, scored.stderr[-2000:]
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert header == "row,negative_log_likelihood"  # named by what it holds
    encoded = run_cli("encode", out, "--data", rows, "-o", tmp_path / "z.csv")
    assert encoded.returncode == 0, encoded.stderr[-2000:]
    decoded = run_cli("decode", out, tmp_path / "z.csv", "-o", tmp_path / "x.npz")
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    back = np.load(tmp_path / "x.npz")
    back = back[back.files[0]].reshape(5, 64)
    np.testing.assert_allclose(back, (np.round(pixels * 16) + 0.5) / 17, atol=2e-3)


@pytest.mark.parametrize(
    ("content", "options", "needle"),
    [
        ("1,2\n3,nan\n" * 20, [], "table.csv:2: x1 is 'nan'; only finite numbers"),
        ("0.1,0.2\n0.3,2.0\n" * 20, ["--set", "dequantize=256"], "needs data in [0, 1]"),
        ("1,2\n3,4\n" * 20, ["--set", "bijectors=affine-coupling,nope"], "unknown bijector 'nope'"),
    ],
    ids=["nan", "outside-dequantisation-range", "unknown-bijector"],
)
def test_bad_data_and_options_are_one_line_errors(tmp_path, content, options, needle):
    data = tmp_path / "table.csv"
    data.write_text(content)
    result = run_cli("run", "maf", "--data", data, "-o", tmp_path / "r", *options, *FAST)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and needle in lines[0], result.stderr[-2000:]
    assert not (tmp_path / "r").exists()


def test_held_out_validation_and_test_files_replace_the_splits(tmp_path):
    """--validation/--test work for flows as for recommenders (#24 item 2): the files' rows
    are the validation and test rows, every row of --data trains; a file whose rows do not
    match the data's is a one-line error naming it, before the run directory exists."""
    rng = np.random.default_rng(0)
    files = {}
    for name, n in (("train", 300), ("valid", 37), ("test", 41)):
        files[name] = tmp_path / f"{name}.csv"
        np.savetxt(files[name], rng.normal(size=(n, 2)), delimiter=",", header="a,b", comments="")
    out = tmp_path / "r"
    result = run_cli("run", "realnvp", "--data", files["train"], "--validation", files["valid"],
                     "--test", files["test"], "-o", out, "--epochs", "2", *FAST)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == 41 and metrics["n_train"] == 300
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["test_data"] == str(files["test"].resolve())
    assert "val_nll" in (out / "history.csv").read_text().splitlines()[0]  # validated
    wide = tmp_path / "wide.csv"
    np.savetxt(wide, rng.normal(size=(9, 3)), delimiter=",", header="a,b,c", comments="")
    bad = run_cli("run", "realnvp", "--data", files["train"], "--test", wide,
                  "-o", tmp_path / "bad", *FAST)  # fmt: skip
    lines = error_lines(bad.stderr)
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr[-2000:]
    assert "wide.csv: test rows of shape (3,) do not match" in lines[0]
    assert not (tmp_path / "bad").exists()


def test_sigkill_and_resume(tmp_path):
    out = tmp_path / "killed"
    args = ["-o", out, "--epochs", "40", "--set", "hidden=16", "--set", "steps=2", "-q",
            "--set", "checkpoint_every=1"]  # fmt: skip
    kill_at_epoch(["run", "nsf", *args], out / "checkpoints" / "state.json", 2)
    resumed = run_cli("run", "nsf", *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 40


def test_a_conditional_flow_samples_the_class_asked_for(tmp_path):
    out = tmp_path / "cmaf"
    args = ["--data", "two-moons", "--set", "conditional=true", "--epochs", "15"]
    result = run_cli("run", "maf", "-o", out, *args, *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    means = []
    for label in (0, 1):
        target = tmp_path / f"moon{label}.npz"
        sampled = run_cli("sample", out, "-n", "400", "--label", str(label), "-o", target)
        assert sampled.returncode == 0, sampled.stderr[-2000:]
        means.append(np.load(target)["samples"].mean(axis=0))
    # the upper moon (0) lies left of and above the lower one (1)
    assert means[0][0] < means[1][0] and means[0][1] > means[1][1]
    bad = run_cli("sample", out, "-n", "4", "--label", "5", "-o", tmp_path / "x.npz")
    assert bad.returncode == 2 and "--label must lie in 0..1" in bad.stderr


def test_a_class_conditional_multiscale_glow_on_digits(tmp_path):
    out = tmp_path / "cglow"
    result = run_cli("run", "glow", "-o", out, "--set", "conditional=true", "--epochs", "1",
                     "--set", "filters=8", *FAST)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["image_layout"] == "multiscale" and config["conditional"] is True
    assert np.isfinite(json.loads((out / "metrics.json").read_text())["test_bits_per_dim"])
    sampled = run_cli("sample", out, "-n", "6", "--label", "3", "-o", tmp_path / "threes.npz")
    assert sampled.returncode == 0, sampled.stderr[-2000:]
    assert np.load(tmp_path / "threes.npz")["samples"].shape == (6, 8, 8, 1)
