"""``gentk tune``: the search space grammar, a small study end to end (trials are run
directories; study.csv, study.png, best.json), resuming a study killed mid-trial, and
one-line errors."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gentk.errors import UserError
from gentk.tune import parse_space
from tests.conftest import error_lines, kill_at_epoch, run_cli

VAE = ["--set", "hidden=16", "--set", "nll_samples=0", "--set", "batch_size=256",
       "--set", "checkpoint_every=1"]  # fmt: skip


def test_the_space_grammar():
    dims = {d.name: d for d in parse_space(["a=x,y", "b=1:5", "c=1e-4:1e-1:log", "d=0.1:0.9"])}
    assert dims["a"].choices == ("x", "y")
    assert dims["b"].integer and (dims["b"].low, dims["b"].high) == (1, 5)
    assert dims["c"].log and not dims["c"].integer
    assert not dims["d"].integer
    for bad in ("a", "a=", "a=1:2:3", "a=2:1", "a=0:1:log", "a=x:y", "a=x,,y"):
        with pytest.raises(UserError, match="--space"):
            parse_space([bad])
    with pytest.raises(UserError, match="searched twice"):
        parse_space(["a=1,2", "a=3,4"])


def test_a_study_killed_mid_trial_resumes_the_trial_from_its_checkpoint(tmp_path):
    study = tmp_path / "study"
    args = ["tune", "vae", "--space", "latent_dim=2,3", "--space", "learning_rate=1e-3:1e-2:log",
            "--trials", "3", "--epochs", "4", "--no-prune", "-o", str(study), *VAE]  # fmt: skip
    kill_at_epoch(args, study / "trial-001" / "checkpoints" / "state.json", 2)
    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "trial 1 was interrupted: retried in trial-001" in resumed.stderr
    rows = (study / "study.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:4] == ["trial", "state", "val_loss", "epochs"]
    table = [dict(zip(header, r.split(","))) for r in rows[1:]]
    assert [r["state"] for r in table] == ["complete", "fail", "complete", "complete"]
    assert table[1]["run_dir"] == table[2]["run_dir"] == "trial-001"  # the same run, resumed
    assert table[1]["latent_dim"] == table[2]["latent_dim"]
    # the resumed sampler proposes new values, not the first trials' again
    assert len({r["learning_rate"] for r in table if r["state"] == "complete"}) == 3
    history = (study / "trial-001" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 4  # 4 epochs in all, across the kill
    best = json.loads(resumed.stdout)
    assert best["trial"] in (0, 2, 3) and (study / "study.png").is_file()
    assert best == json.loads((study / "best.json").read_text())
    assert min(float(r["val_loss"]) for r in table if r["state"] == "complete") == pytest.approx(
        best["val_loss"], rel=1e-5
    )
    again = run_cli(*args)  # a finished study: nothing more to run
    assert again.returncode == 0 and "trial" not in again.stderr
    other = run_cli(*[a if a != "latent_dim=2,3" else "latent_dim=4,5" for a in args])
    assert other.returncode == 2 and "holds another study" in error_lines(other.stderr)[0]


def test_pruning_and_a_metric_from_metrics_json(tmp_path):
    out = tmp_path / "s"
    result = run_cli("tune", "vae", "--space", "beta=0.5,1,2", "--trials", "2", "--epochs", "2",
                     "--metric", "test_elbo", "--maximize", "-o", out, *VAE)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    best = json.loads(result.stdout)
    assert set(best) == {"trial", "test_elbo", "params", "run_dir"}
    for trial in ("trial-000", "trial-001"):
        metrics = json.loads((out / trial / "metrics.json").read_text())
        assert "test_elbo" in metrics


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--space", "latent_dimm=2,3"], "has no option 'latent_dimm' (did you mean latent_dim"),
        (["--space", "latent_dim=2,x"], "--space latent_dim=2,x:"),
        (["--space", "latent_dim=3:1"], "needs LOW < HIGH"),
    ],
)
def test_bad_spaces_are_one_line_errors(tmp_path, args, message):
    result = run_cli("tune", "vae", *args, "-o", tmp_path / "s", *VAE)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "s" / "trial-000").exists()


def test_a_third_party_recipe_is_tuned_and_a_second_study_process_is_refused(tmp_path):
    out = tmp_path / "s"
    args = ["tune", "linear-autoencoder", "--space", "latent_dim=2,4", "--trials", "2",
            "--epochs", "2", "-o", out]  # fmt: skip
    exe = [str(Path(sys.executable).with_name("gentk")), *map(str, args)]
    first = subprocess.Popen(exe, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".s.lock"
    deadline = time.time() + 60
    while time.time() < deadline and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.1)
    second = run_cli(*args)
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr[-3000:]
    assert second.returncode == 2
    assert "study directory" in second.stderr and "in use by another gentk process" in second.stderr
    best = json.loads(stdout)
    assert best["params"]["latent_dim"] in (2, 4)  # a number, as searched
    assert (out / f"trial-{best['trial']:03d}" / "model.keras").is_file()
    # the other trials keep their metrics but not their model and checkpoints (--keep-models)
    others = [d for d in out.glob("trial-*") if d.name != f"trial-{best['trial']:03d}"]
    assert others and all((d / "metrics.json").is_file() for d in others)
    assert not any((d / "model.keras").exists() or (d / "checkpoints").exists() for d in others)


def test_a_gan_needs_a_metric(tmp_path):
    result = run_cli("tune", "gan", "--space", "latent_dim=2,4", "-o", tmp_path / "s")
    assert result.returncode == 2
    assert "has no default tuning metric: pass --metric" in error_lines(result.stderr)[0]
