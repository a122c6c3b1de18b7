"""Run directories never lose a run: the lock, ``--force`` that validates first and keeps the old
run until the new one has a checkpoint, ``--resume`` reading its data from ``run.json``, and a
full disk that stops the run with one line and the last good checkpoint intact."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import uuid

import numpy as np
import pytest

import gentk
from gentk.errors import TrainingError, UserError
from gentk.plugins import get_registry
from gentk.training.rundir import RunLock, backup_path
from tests.conftest import error_lines, run_cli

SMALL = ["hidden=16", "nll_samples=5"]


def _vae():
    return get_registry().get("model", "vae").factory


def _finished_run(out, epochs=1):
    gentk.run(_vae(), output=out, verbose=0, epochs=epochs, overrides=SMALL)
    return (out / "model.keras").read_bytes(), (out / "metrics.json").read_text()


def _diverging_force_run(out):
    """A --force run into ``out`` that the NaN guard stops before its first checkpoint."""
    with pytest.raises(TrainingError, match="became (nan|inf)"):
        gentk.run(
            _vae(),
            output=out,
            force=True,
            verbose=0,
            epochs=1,
            overrides=[*SMALL, "learning_rate=1e38"],
        )


def test_a_second_run_into_a_locked_directory_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    with RunLock(out):
        busy = rf"in use by another gentk process \(pid {os.getpid()}\)"
        with pytest.raises(UserError, match=busy):
            gentk.run(_vae(), output=out, verbose=0, epochs=1, overrides=SMALL)
    assert not out.exists()  # the refused run wrote nothing
    _finished_run(out)  # the lock is released with its holder


def test_cli_run_into_a_directory_another_process_holds_exits_2(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys, time
                from gentk.training.rundir import RunLock
                with RunLock({str(out)!r}):
                    print("locked", flush=True)
                    time.sleep(120)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = run_cli("run", "vae", "-o", out, "--epochs", "1", "-q")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        f"Error: run directory {out} is in use by another gentk process (pid {holder.pid}); "
        "wait for it to finish or choose another --output"
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"data": "empty"},
        {"overrides": [*SMALL, "latnet_dim=3"]},
    ],
    ids=["empty-data", "misspelled-option"],
)
def test_force_with_bad_input_leaves_the_finished_run_untouched(tmp_path, bad):
    out = tmp_path / "run"
    model, metrics = _finished_run(out)
    names = sorted(p.name for p in out.iterdir())
    kwargs = {"overrides": SMALL, **bad}
    if kwargs.get("data") == "empty":
        (tmp_path / "empty.npz").write_bytes(b"")
        kwargs["data"] = tmp_path / "empty.npz"
    with pytest.raises(UserError):
        gentk.run(_vae(), output=out, force=True, verbose=0, epochs=1, **kwargs)
    assert sorted(p.name for p in out.iterdir()) == names
    assert (out / "model.keras").read_bytes() == model
    assert (out / "metrics.json").read_text() == metrics
    assert not backup_path(out).exists()


def test_force_that_fails_before_its_first_checkpoint_gives_the_old_run_back(tmp_path):
    out = tmp_path / "run"
    model, _ = _finished_run(out)
    _diverging_force_run(out)
    assert (out / "model.keras").read_bytes() == model
    assert not backup_path(out).exists()


def test_force_replaces_the_old_run_only_when_the_new_one_has_finished(tmp_path):
    out = tmp_path / "run"
    _finished_run(out)
    first = json.loads((out / "run.json").read_text())
    result = gentk.run(_vae(), output=out, force=True, verbose=0, epochs=2, overrides=SMALL)
    assert result.metrics["epochs"] == 2
    assert json.loads((out / "checkpoints" / "state.json").read_text())["epoch"] == 2
    assert not backup_path(out).exists()
    assert json.loads((out / "run.json").read_text())["model"] == first["model"]


def test_after_a_killed_force_run_the_finished_run_is_the_one_kept(tmp_path):
    """SIGKILL after ``--force`` set the old run aside leaves NAME.old (finished) beside an
    unfinished NAME; the next ``--force`` discards the unfinished run, never the finished one,
    and gives the finished one back if it fails too."""
    out = tmp_path / "run"
    model, _ = _finished_run(out)
    out.rename(backup_path(out))  # what the killed --force run left: the old run aside ...
    (out / "checkpoints").mkdir(parents=True)  # ... and its own unfinished directory
    (out / "run.json").write_text('{"model": "vae"}')
    _diverging_force_run(out)
    assert (out / "model.keras").read_bytes() == model
    assert not backup_path(out).exists()


def test_resume_without_data_reads_the_data_from_run_json(tmp_path):
    from gentk.data import digits

    d = digits()
    data = tmp_path / "digits.npz"
    np.savez(data, x=d.x[:400], y=d.labels[:400])
    out = tmp_path / "run"
    gentk.run(_vae(), data=data, output=out, verbose=0, epochs=1, overrides=SMALL)
    meta = json.loads((out / "run.json").read_text())
    assert meta["data"] == str(data.resolve()) and len(meta["data_sha256"]) == 64
    result = gentk.run(_vae(), output=out, resume=True, verbose=0, epochs=2)
    assert result.metrics["epochs"] == 2 and result.data.shape == (8, 8, 1)
    other = tmp_path / "other.npz"
    np.savez(other, x=d.x[400:800], y=d.labels[400:800])
    with pytest.raises(UserError, match="differs from the data this run was trained on"):
        gentk.run(_vae(), data=other, output=out, resume=True, verbose=0, epochs=3)
    with pytest.raises(UserError, match=r"does not fit the model .*changed: .*hidden"):
        gentk.run(_vae(), output=out, resume=True, verbose=0, epochs=3, overrides=["hidden=8"])
    # the run's own config is kept
    assert tomllib.loads((out / "config.toml").read_text())["hidden"] == [16]
    data.unlink()
    with pytest.raises(UserError, match="no longer exists; pass --data"):
        gentk.run(_vae(), output=out, resume=True, verbose=0, epochs=3)


def test_resume_of_a_run_on_a_named_dataset_without_data(tmp_path):
    proc = run_cli(
        "run",
        "vae",
        "--data",
        "digits",
        "-o",
        tmp_path / "r",
        "--epochs",
        "1",
        "--set",
        "hidden=16",
        "--set",
        "nll_samples=5",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli("run", "vae", "-o", tmp_path / "r", "--epochs", "2", "--resume", "-q")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["epochs"] == 2


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: room for one VAE checkpoint (1.2 MB with Adam's moments), not two."""
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root on Linux to mount a small tmpfs")
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_during_a_checkpoint_stops_with_one_line_and_keeps_the_last_one(small_disk):
    out = small_disk / "run"
    every = ["--set", "checkpoint_every=1"]
    proc = run_cli("run", "vae", "-o", out, "--epochs", "3", "-q", *every)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert error_lines(proc.stderr) == [
        f"Error: no space left on {out / 'checkpoints'} while writing epoch-0002.weights.h5; "
        f"the last good checkpoint (epoch 1) is kept in {out / 'checkpoints'}; free some "
        "space, then --resume"
    ]
    assert "Traceback" not in proc.stderr
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1
    kept = out / "checkpoints" / state["weights"]
    assert kept.stat().st_size > 1_000_000
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        kept.name,
        "history.jsonl",
        "state.json",
    ]
    assert "ERROR run stopped: DiskFullError: no space left" in (out / "run.log").read_text()
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    proc = run_cli("run", "vae", "-o", out, "--epochs", "3", "--resume", "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 3


def test_a_symlink_to_a_run_directory_takes_the_same_lock(tmp_path):
    """``runs/link -> run``: a run through the link while the run is held is refused, and the
    lock file sits beside the real directory."""
    out = tmp_path / "run"
    _finished_run(out)
    link = tmp_path / "link"
    link.symlink_to(out.name)
    with RunLock(out):
        with pytest.raises(UserError, match="in use by another gentk process"):
            gentk.run(_vae(), output=link, resume=True, verbose=0, epochs=2, overrides=SMALL)
    with RunLock(link):
        with pytest.raises(UserError, match="in use by another gentk process"):
            gentk.run(_vae(), output=out, resume=True, verbose=0, epochs=2, overrides=SMALL)
    assert not (tmp_path / ".link.lock").exists()
    # through the link, --force replaces the run the link points at and keeps the link
    gentk.run(_vae(), output=link, force=True, verbose=0, epochs=1, overrides=SMALL)
    assert link.is_symlink() and (out / "metrics.json").is_file()


def test_a_study_through_a_symlink_takes_the_study_lock(tmp_path):
    from gentk.tune import tune

    study = tmp_path / "study"
    study.mkdir()
    (tmp_path / "link").symlink_to("study")
    recipe = get_registry().get("model", "linear-autoencoder").factory
    with RunLock(study, what="study directory"):
        with pytest.raises(UserError, match="study directory .* in use by another gentk"):
            tune(recipe, space=["latent_dim=2,4"], output=tmp_path / "link", trials=1, epochs=1)
    assert sorted(p.name for p in study.iterdir()) == []


def test_force_replaces_runs_only_never_a_folder_of_other_files(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.txt").write_text("four years")
    with pytest.raises(UserError, match=r"--force: .*thesis is not a gentk run \(no run.json\)"):
        gentk.run(_vae(), output=out, force=True, verbose=0, epochs=1, overrides=SMALL)
    assert [p.name for p in out.iterdir()] == ["thesis.txt"]
    proc = run_cli("run", "vae", "-o", out, "--force", "--epochs", "1", "-q")
    assert proc.returncode == 2 and "is not a gentk run" in proc.stderr
    assert (out / "thesis.txt").read_text() == "four years"


@pytest.mark.parametrize("where", ["/", ".", ".."])
def test_the_root_and_the_current_directory_are_never_run_directories(tmp_path, where):
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "notes.txt").write_text("mine")
    proc = run_cli("run", "vae", "-o", where, "--force", "--epochs", "1", "-q", cwd=cwd)
    assert proc.returncode == 2, proc.stderr
    assert len(error_lines(proc.stderr)) == 1
    assert "root" in proc.stderr or "current directory" in proc.stderr
    assert (cwd / "notes.txt").read_text() == "mine"
    assert not os.path.exists("/..lock") and sorted(os.listdir(tmp_path)) == ["work"]


@pytest.mark.parametrize(
    "change", [{"seed": 7}, {"overrides": [*SMALL, "validation_fraction=0.3"]}], ids=str
)
def test_resume_refuses_options_that_change_the_data_or_the_split(tmp_path, change):
    out = tmp_path / "run"
    gentk.run(_vae(), output=out, verbose=0, epochs=1, overrides=SMALL)
    (out / "metrics.json").unlink()  # as if killed before the end
    kwargs = {"overrides": SMALL, **change}
    with pytest.raises(UserError, match=r"--resume: (seed=0 -> 7|validation_fraction=0.1 -> 0.3) "
                                        r"would change the data or its split"):  # fmt: skip
        gentk.run(_vae(), output=out, resume=True, verbose=0, epochs=2, **kwargs)
    assert json.loads((out / "checkpoints" / "state.json").read_text())["epoch"] == 1


def test_a_hand_edited_config_toml_is_named_when_resume_refuses_it(tmp_path):
    out = tmp_path / "run"
    gentk.run(_vae(), output=out, verbose=0, epochs=1, overrides=SMALL)
    (out / "metrics.json").unlink()
    text = (out / "config.toml").read_text()
    edited = "\n".join(
        "latent_dim = 7" if line.startswith("latent_dim") else line for line in text.splitlines()
    )
    (out / "config.toml").write_text(edited + "\n")
    with pytest.raises(UserError, match=r"\(changed: latent_dim\)"):
        gentk.run(_vae(), output=out, resume=True, verbose=0)


def test_a_released_lock_leaves_no_file_and_a_deleted_one_is_not_shared(tmp_path):
    out = tmp_path / "run"
    with RunLock(out) as first:
        assert first.path.read_text().strip() == str(os.getpid())
    assert sorted(os.listdir(tmp_path)) == []
    # a lock file deleted under its holder (as a release does) is never taken as free
    with RunLock(out) as held:
        os.unlink(held.path)  # what a releasing holder does just before closing
        with RunLock(out):  # the path is free: a new file, a new lock
            pass
    assert sorted(os.listdir(tmp_path)) == []


def test_a_run_left_in_name_old_is_named_by_resume_and_sample(tmp_path):
    """kill -9 of a --force run before its first checkpoint leaves the old run in NAME.old and
    the new one without a checkpoint: both commands point at NAME.old."""
    out = tmp_path / "run"
    _finished_run(out)
    out.rename(backup_path(out))
    out.mkdir()
    (out / "run.json").write_text('{"model": "vae"}')
    with pytest.raises(UserError, match=r"holds no checkpoint .*previous run is kept in .*run.old"):
        gentk.run(_vae(), output=out, resume=True, verbose=0, overrides=SMALL)
    proc = run_cli("sample", out, "-o", tmp_path / "s.png")
    assert proc.returncode == 2
    assert "previous run is kept in" in proc.stderr and "run.old" in proc.stderr
