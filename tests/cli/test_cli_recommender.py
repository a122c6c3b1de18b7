"""``gentk run recommender-vae`` end to end on a MovieLens sample; recommend; export; bad files."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import error_lines, run_cli

TINY = [
    "--set",
    "hidden=32",
    "--set",
    "latent_dim=16",
    "--epochs",
    "3",
    "--batch-size",
    "100",
    "-q",
]


@pytest.fixture(scope="module")
def movielens_sample(tmp_path_factory):
    """The first 300 users of ML-100K's u.data (tab-separated, no header), left untouched."""
    from tests.conftest import SHARED_DATA

    source = SHARED_DATA / "ml-100k" / "u.data"
    if not source.exists():
        pytest.skip("../shared/data is not present")
    lines = [line for line in source.read_text().splitlines() if int(line.split("\t")[0]) <= 300]
    root = tmp_path_factory.mktemp("ml")
    train = root / "u.data"
    train.write_text("\n".join(lines) + "\n")
    return train


@pytest.fixture(scope="module")
def trained_run(movielens_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "rec"
    result = run_cli("run", "recommender-vae", "--data", movielens_sample, "-o", out, *TINY)
    assert result.returncode == 0, result.stderr
    return out


def test_run_writes_metrics_and_recommendations(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    for key in ("test_recall@20", "test_recall@50", "test_ndcg@100", "popularity_test_ndcg@100"):
        assert 0 <= metrics[key] <= 1, key
    stats = metrics["data"]
    assert stats["n_users"] + stats["users_below_min_interactions"] == 300
    assert stats["min_rating"] == 4.0 and stats["rows_below_min_rating"] > 0
    with open(trained_run / "recommendations.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["user", "item", "rank", "score"]
    split = (trained_run / "split.csv").read_text().splitlines()
    assert {r["user"] for r in rows} == {line.split(",")[0] for line in split[1:]}
    assert len({r["user"] for r in rows}) == stats["n_users"]
    first = [r for r in rows if r["user"] == rows[0]["user"]]
    assert [int(r["rank"]) for r in first] == list(range(1, 101))
    scores = [float(r["score"]) for r in first]
    assert scores == sorted(scores, reverse=True)
    seen = {(r.split(",")[0], r.split(",")[1]) for r in split[1:]}
    assert not any((r["user"], r["item"]) in seen for r in rows), "recommended a seen item"
    assert (trained_run / "training_curves.png").is_file()
    history = (trained_run / "history.csv").read_text().splitlines()[0]
    assert "val_ndcg@100" in history and "beta" in history


def test_recommend_for_unseen_users_and_export_serves_the_same(trained_run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text(
        "user,item,rating\nnew1,50,5\nnew1,100,4\nnew1,181,5\nnew1,no-such,5\nnew2,unknown-item,5\n"
    )
    out = tmp_path / "recs.csv"
    result = run_cli("recommend", trained_run, "--data", new, "-n", "10", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "Skipped 2 rows of 2 items" in result.stderr
    assert "1 user(s) have no item the model knows" in result.stderr
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert {r["user"] for r in rows} == {"new1"} and len(rows) == 10
    assert not {"50", "100", "181"} & {r["item"] for r in rows}

    export_dir = tmp_path / "export"
    exported = run_cli("export", trained_run, "-o", export_dir, "-n", "10")
    assert exported.returncode == 0, exported.stderr
    script = textwrap.dedent(f"""
        import json, sys, tensorflow as tf
        assert "gentk" not in sys.modules
        served = tf.saved_model.load({str(export_dir)!r})
        out = served.serve(tf.constant(["50", "100", "181", "no-such"]))
        assert not any(m.startswith("gentk") for m in sys.modules)
        print(json.dumps({{"items": [i.decode() for i in out["items"].numpy()],
                           "scores": out["scores"].numpy().tolist()}}))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    assert served["items"] == [r["item"] for r in rows]
    for a, b in zip(served["scores"], [float(r["score"]) for r in rows]):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-4)


def test_recommend_with_no_known_items_is_a_clear_error(trained_run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("user,item\nx,nope\n")
    result = run_cli("recommend", trained_run, "--data", new, "-o", tmp_path / "r.csv")
    assert result.returncode == 2
    assert "none of the users has an item the model knows" in error_lines(result.stderr)[0]
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize(
    "content, needle",
    [
        ("1\t2\t5\t0\n1\t3\t4\n", "bad.data:2: expected 4 columns, found 3"),
        ("user,item,rating\n1,2,five\n", "bad.data:2: rating is not a number: 'five'"),
        ("1,2,5\n1,3,inf\n", "bad.data:2: rating is 'inf'"),
    ],
)
def test_bad_interaction_files_exit_2_naming_the_line(tmp_path, content, needle):
    bad = tmp_path / "bad.data"
    bad.write_text(content)
    result = run_cli("run", "recommender-vae", "--data", bad, "-o", tmp_path / "r")
    assert result.returncode == 2
    assert needle in error_lines(result.stderr)[0], result.stderr
    assert "Traceback" not in result.stderr


def test_runs_on_the_embedded_default_data(tmp_path):
    out = tmp_path / "default"
    result = run_cli("run", "recommender-dae", "-o", out, *TINY)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["source"].endswith("ratings.csv")
    assert metrics["data"]["rows_read"] == 100_836
    assert metrics["test_ndcg@100"] > 0
