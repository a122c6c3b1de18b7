"""Multi-worker training: each worker's share of a global batch, the cluster roles from
TF_CONFIG, and two worker processes on 127.0.0.1 (``gentk launch``) against one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gentk.errors import UserError
from gentk.training.multiworker import cluster_workers, is_chief, worker_share

GENTK = str(Path(sys.executable).with_name("gentk"))


def _batches(dataset):
    return [tf.nest.map_structure(lambda t: t, b) for b in dataset]


def test_each_replica_takes_every_rth_row_of_each_global_batch():
    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    y = np.arange(7)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)  # global batches of 4 and 3
    second = _batches(worker_share(ds, replicas=2, first=1, count=1))
    assert [b[1].numpy().tolist() for b in second] == [[1, 3], [5]]
    np.testing.assert_array_equal(second[0][0].numpy(), x[[1, 3]])
    both = _batches(worker_share(ds, replicas=2, first=0, count=2))
    assert [b[1].numpy().tolist() for b in both] == [[0, 2], [1, 3], [4, 6], [5]]
    # a global batch with fewer rows than replicas is skipped by every worker alike
    assert len(_batches(worker_share(ds, replicas=4, first=0, count=4))) == 4


def test_a_sparse_batch_is_shared_by_rows_without_densifying():
    dense = np.array([[1, 0, 2], [0, 3, 0], [4, 0, 0], [0, 0, 5], [6, 7, 0]], np.float32)
    sparse = tf.sparse.from_dense(dense)
    ds = tf.data.Dataset.from_tensors(sparse)
    parts = _batches(worker_share(ds, replicas=2, first=0, count=2))
    assert all(isinstance(p, tf.SparseTensor) for p in parts)
    np.testing.assert_array_equal(tf.sparse.to_dense(parts[0]).numpy(), dense[0::2])
    np.testing.assert_array_equal(tf.sparse.to_dense(parts[1]).numpy(), dense[1::2])


def test_roles_come_from_tf_config(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_workers() == 1 and is_chief()
    for index, chief in ((0, True), (1, False)):
        task = {"type": "worker", "index": index}
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        assert cluster_workers() == 2 and is_chief() is chief
    with_chief = {"chief": ["127.0.0.1:3"], **cluster}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}})
    )
    assert cluster_workers() == 3 and not is_chief()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UserError, match="TF_CONFIG"):
        cluster_workers()


def test_a_one_process_strategy_is_refused_when_tf_config_names_a_cluster(monkeypatch):
    from gentk.training.strategy import select_strategy

    task = {"type": "worker", "index": 0}
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    with pytest.raises(UserError, match="names 2 workers but distribute=default"):
        select_strategy("default")


def _gentk(*args, timeout=600):
    proc = subprocess.run(
        [GENTK, *map(str, args)], capture_output=True, text=True, timeout=timeout,
        env={**os.environ},
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def _last(run_dir, key):
    from gentk.training.callbacks import read_checkpoint_state

    rows = read_checkpoint_state(run_dir)["history"]
    return rows[-1][key]


@pytest.mark.parametrize(
    "name, options, logged, metric, tolerance",
    [
        (
            "vae",
            ["--set", "hidden=(32,)", "--set", "nll_samples=20"],
            ("loss", "val_loss"),
            "test_elbo",
            {"rel": 0.05},
        ),
        (
            "recommender-vae",
            ["--set", "input_mode=sparse", "--set", "hidden=(64,)"],
            ("loss", "neg_ll"),
            "test_ndcg@100",
            {"abs": 0.03},
        ),
    ],  # fmt: skip
)
def test_two_workers_on_loopback_match_one_process(
    tmp_path, name, options, logged, metric, tolerance
):
    """Same global batch and seed: the two-worker run follows the one-process run within 3%
    on the logged losses (the replicas draw their own dropout and sampling noise, hence a
    tolerance, not equality); the test metric, noisier after 3 epochs, within ``tolerance``."""
    common = ["run", name, "--epochs", "3", "--seed", "1", "-q", *options]
    launched = _gentk("launch", "--workers", "2", "--", GENTK, *common, "-o", tmp_path / "two")
    assert "Worker finished; the chief writes" in launched.stdout
    assert "[worker 1]" in launched.stdout and "[worker 0]" in launched.stdout
    _gentk(*common, "-o", tmp_path / "one")
    two, one = tmp_path / "two", tmp_path / "one"
    log = (two / "run.log").read_text()
    assert "2 replica(s)" in log
    for key in logged:
        assert _last(two, key) == pytest.approx(_last(one, key), rel=0.03), key
    m2 = json.loads((two / "metrics.json").read_text())
    m1 = json.loads((one / "metrics.json").read_text())
    assert m2["epochs"] == m1["epochs"] == 3
    assert m2[metric] == pytest.approx(m1[metric], **tolerance)
    assert (two / "model.keras").is_file() and not (tmp_path / "two.old").exists()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_a_killed_worker_stops_the_run_and_both_resume_from_the_chief(tmp_path):
    run_dir = tmp_path / "run"
    args = ["run", "vae", "--epochs", "4", "--set", "hidden=(32,)", "-q", "-o", run_dir,
            "--set", "checkpoint_every=1"]  # fmt: skip
    launcher = subprocess.Popen(
        [GENTK, "launch", "--workers", "2", "--", GENTK, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    state = run_dir / "checkpoints" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and launcher.poll() is None:
        if state.is_file() and json.loads(state.read_text() or "{}").get("epoch", 0) >= 1:
            break
        time.sleep(0.05)
    workers = _children(launcher.pid)
    assert len(workers) == 2 and launcher.poll() is None
    os.kill(workers[1], signal.SIGKILL)
    started = time.time()
    stdout, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode != 0 and time.time() - started < 60
    assert "worker 1 was killed by signal 9; the other workers were stopped" in stderr
    assert "--resume" in stderr
    kept = json.loads(state.read_text())["epoch"]
    assert 1 <= kept < 4
    _gentk("launch", "--workers", "2", "--", GENTK, *args, "--resume")
    from gentk.training.callbacks import read_checkpoint_state

    history = read_checkpoint_state(run_dir)["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 4
    assert "resumed after epoch" in (run_dir / "run.log").read_text()


def test_a_third_party_recipe_trains_under_two_workers_unchanged(tmp_path):
    out = tmp_path / "run"
    _gentk("launch", "--", GENTK, "run", "linear-autoencoder", "--epochs", "2", "-q", "-o", out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert "2 replica(s)" in (out / "run.log").read_text()


def test_launch_reports_a_failing_worker_in_one_line(tmp_path):
    proc = subprocess.run(
        [GENTK, "launch", "--workers", "2", "--", GENTK, "run", "no-such-model"],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Error: worker" in proc.stderr and "exited with code" in proc.stderr
