"""``gentk`` end to end on tiny settings: run, sample, evaluate, resume, and bad inputs."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import error_lines, kill_at_epoch, run_cli

TINY = ["--set", "hidden=16", "--set", "nll_samples=10", "--batch-size", "64"]


def _no_temp_files(run_dir: Path):
    return [p for p in run_dir.rglob("*") if ".tmp-" in p.name]


def test_run_sample_evaluate(tmp_path):
    out = tmp_path / "run"
    result = run_cli("run", "vae", "--epochs", "2", "-o", out, "-q", *TINY)
    assert result.returncode == 0, result.stderr
    for name in (
        "config.toml",
        "model.keras",
        "history.csv",
        "metrics.json",
        "run.log",
        "samples.png",
        "reconstructions.png",
        "latent.png",
        "training_curves.png",
        "run.json",
    ):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_elbo"] < 0 and metrics["epochs"] == 2
    assert metrics["test_nll"] <= -metrics["test_elbo"] + 1.0
    assert not _no_temp_files(out)

    sampled = run_cli("sample", out, "-n", "10", "-o", tmp_path / "s.npz")
    assert sampled.returncode == 0, sampled.stderr
    samples = np.load(tmp_path / "s.npz")["samples"]
    assert samples.shape == (10, 8, 8, 1) and (tmp_path / "s.png").is_file()

    evaluated = run_cli("evaluate", out)
    assert evaluated.returncode == 0, evaluated.stderr
    again = json.loads(evaluated.stdout[evaluated.stdout.index("{") :])
    assert again["test_elbo"] == pytest.approx(metrics["test_elbo"], abs=0.5)


def test_same_seed_same_metrics(tmp_path):
    runs = [
        run_cli(
            "run",
            "autoencoder",
            "--epochs",
            "2",
            "-o",
            tmp_path / f"r{k}",
            "-q",
            "--set",
            "hidden=16",
            "--seed",
            "5",
        )
        for k in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    a, b = (json.loads((tmp_path / f"r{k}" / "metrics.json").read_text()) for k in range(2))
    assert a["test_loss"] == b["test_loss"] and a["test_mse"] == b["test_mse"]


def test_resume_after_sigkill_ends_with_the_same_number_of_epochs(tmp_path):
    out = tmp_path / "run"
    args = ["run", "autoencoder", "--epochs", "150", "-o", out, "-q", "--set", "hidden=16",
            "--set", "checkpoint_every=1", "--set", "validation_every=1"]  # fmt: skip
    state = out / "checkpoints" / "state.json"
    kill_at_epoch(args, state, 3)
    header = (out / "history.csv").read_text().splitlines()[0]
    killed_at = json.loads(state.read_text())["epoch"]
    assert 3 <= killed_at < 150, "the run finished before it could be killed"
    assert not (out / "model.keras").exists()
    refused = run_cli("run", "autoencoder", "-o", out)
    assert refused.returncode == 2 and "--resume" in error_lines(refused.stderr)[0]
    resumed = run_cli("run", "autoencoder", "-o", out, "--resume", "-q")
    assert resumed.returncode == 0, resumed.stderr
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0] == header  # the same columns in the same order after the resume
    history = lines[1:]
    epochs = [int(line.split(",")[0]) for line in history]
    assert epochs == list(range(1, 151))
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 150
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "epoch-0150.weights.h5",
        "history.jsonl",
        "state.json",
    ]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "no-such-model"], "unknown model 'no-such-model'"),
        (["run", "vea"], "did you mean vae"),
        (["run", "vae", "--data", "/no/such/file.npz"], "no such file or folder, and no dataset"),
        (["run", "vae", "--set", "latent_dim=abc"], "option 'latent_dim' expects int"),
        (["run", "vae", "--set", "colour=red"], "unknown option 'colour'"),
        (
            ["run", "vae", "--set", "latent_dim=0"],
            "`latent_dim` must be >= 1. Received: latent_dim=0",
        ),
        (["run", "vae", "--epochs", "-1"], "--epochs"),
        (["sample", "."], "not a gentk run directory"),
        (["info", "nothing-here"], "unknown model"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, args, needle):
    result = (
        run_cli(*args, "-o" if args[0] == "run" else "", tmp_path / "o")
        if False
        else run_cli(*args, cwd=tmp_path)
    )
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert any(needle in line for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs" / "vae" / "model.keras").exists()


@pytest.mark.parametrize(
    "content, needle",
    [
        ("a,b\n1,2\n3\n", "bad.csv:3: expected 2 columns, found 1"),
        ("a,b\n1,2\n3,nan\n", "bad.csv:3: b is 'nan'"),
        ("", "bad.csv: file is empty"),
    ],
)
def test_bad_data_names_file_and_line_and_writes_no_outputs(tmp_path, content, needle):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    out = tmp_path / "run"
    result = run_cli("run", "vae", "--data", bad, "-o", out)
    assert result.returncode == 2
    assert needle in error_lines(result.stderr)[0]
    assert not (out / "model.keras").exists() and not (out / "metrics.json").exists()
    assert not _no_temp_files(out)
    bad.write_text("a,b\n" + "".join(f"{k % 7},{k % 5}\n" for k in range(30)))  # fixed
    again = run_cli(
        "run",
        "vae",
        "--data",
        bad,
        "-o",
        out,
        "--epochs",
        "1",
        "-q",
        "--set",
        "likelihood=gaussian",
        "--set",
        "nll_samples=2",
    )
    assert again.returncode == 0, again.stderr


def test_tabular_csv_trains(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "t.csv"
    rows = rng.random((200, 4))
    path.write_text("a,b,c,d\n" + "\n".join(",".join(f"{v:.4f}" for v in r) for r in rows))
    result = run_cli(
        "run",
        "vae",
        "--data",
        path,
        "--epochs",
        "1",
        "-o",
        tmp_path / "r",
        "-q",
        "--set",
        "likelihood=gaussian",
        "--set",
        "nll_samples=5",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r" / "latent.png").is_file()


def test_force_replaces_and_help_is_fast():
    start = time.perf_counter()
    result = run_cli("--help")
    assert result.returncode == 0 and "run" in result.stdout
    assert time.perf_counter() - start < 5.0
    version = run_cli("--version")
    assert "0.1.0" in version.stdout


def test_registered_dataset_by_name_trains_and_evaluates(tmp_path):
    out = tmp_path / "ring"
    args = ["--set", "likelihood=gaussian", "--set", "sigma=0.1", "--set", "nll_samples=5"]
    result = run_cli(
        "run", "vae", "--data", "gaussian-ring", "--epochs", "1", "-o", out, "-q", *args
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "run.json").read_text())["data"] == "gaussian-ring"
    assert json.loads((out / "metrics.json").read_text())["n_train"] == 3200
    evaluated = run_cli("evaluate", out)
    assert evaluated.returncode == 0, evaluated.stderr
    assert '"n_train": 3200' in evaluated.stdout


def test_plugins_and_info_list_entries_with_plugin_and_version():
    listed = run_cli("plugins")
    assert listed.returncode == 0, listed.stderr
    assert "recommender-vae" in listed.stdout and "example 0.1.0" in listed.stdout
    as_json = json.loads(run_cli("plugins", "--json").stdout)
    assert {"kind": "model", "name": "vae"}.items() <= next(
        e for e in as_json if e["name"] == "vae"
    ).items()
    info = run_cli("info", "recommender-vae")
    assert info.returncode == 0 and "--set anneal_cap=0.2" in info.stdout
    assert "--set hidden=600" in info.stdout


def test_a_run_ends_with_a_short_summary_not_the_whole_metrics_json(tmp_path):
    result = run_cli("run", "vae", "-o", tmp_path / "v", "--epochs", "1", "-q",
                     "--set", "hidden=8", "--set", "nll_samples=5")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("Metrics: epochs 1") and "{" not in result.stdout
    assert any(line.strip().startswith("test_nll = ") for line in lines)
    assert lines[-1].endswith("(every metric in metrics.json)") and len(lines) <= 9
