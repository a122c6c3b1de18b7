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
    for key in ("test_recall@20", "test_recall@50", "test_ndcg@100", "popularity_test_ndcg@100",
                "ease_test_ndcg@100", "ease_test_recall@20"):  # fmt: skip
        assert 0 <= metrics[key] <= 1, key
    assert metrics["ease_lambda"] in (100, 300, 1000, 3000)
    stats = metrics["data"]
    assert stats["n_users"] + stats["users_below_min_interactions"] == 300
    assert stats["min_rating"] == 4.0 and stats["rows_below_min_rating"] > 0
    with open(trained_run / "recommendations.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["user", "item", "rank", "score", "source"]
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
    assert "1 user(s) have no positive item the model knows" in result.stderr
    with open(out) as f:
        all_rows = list(csv.DictReader(f))
    assert list(all_rows[0]) == ["user", "item", "rank", "score", "source"]
    rows = [r for r in all_rows if r["user"] == "new1"]
    assert len(rows) == 10 and {r["source"] for r in rows} == {"model"}
    assert not {"50", "100", "181"} & {r["item"] for r in rows}
    cold = [r for r in all_rows if r["user"] == "new2"]  # knows no item: popularity
    assert len(cold) == 10 and {r["source"] for r in cold} == {"popularity"}

    export_dir = tmp_path / "export"
    exported = run_cli("export", trained_run, "-o", export_dir, "-n", "10")
    assert exported.returncode == 0, exported.stderr
    script = textwrap.dedent(f"""
        import json, sys, tensorflow as tf
        assert "gentk" not in sys.modules
        served = tf.saved_model.load({str(export_dir)!r})
        none = tf.constant([], tf.string)
        out = served.serve(tf.constant(["50", "100", "181", "no-such"]), none)
        assert not any(m.startswith("gentk") for m in sys.modules)
        items = [i.decode() for i in out["items"].numpy()]
        # the items to exclude (say, rated below min_rating) never come back
        again = served.serve(tf.constant(["50", "100", "181"]), tf.constant(items[:2]))
        assert [i.decode() for i in again["items"].numpy()][:8] == items[2:], again
        # a history of nearly the whole catalogue: only the items left, no -inf rows
        vocab = json.load(open({str(trained_run / "items.json")!r}))["items"]
        rest = served.serve(tf.constant(vocab[3:]), none)
        assert sorted(i.decode() for i in rest["items"].numpy()) == sorted(vocab[:3])
        assert all(abs(s) < 1e30 for s in rest["scores"].numpy())
        assert out["source"].numpy() == b"model"
        # no item the model knows: the popularity ranking, as gentk recommend gives
        cold = served.serve(tf.constant(["unknown-item"]), none)
        assert cold["source"].numpy() == b"popularity"
        empty = served.serve(none, none)
        assert empty["items"].numpy().tolist() == cold["items"].numpy().tolist()
        print(json.dumps({{"items": items, "scores": out["scores"].numpy().tolist(),
                           "cold": [i.decode() for i in cold["items"].numpy()]}}))
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
    assert served["cold"] == [r["item"] for r in cold]  # the CLI's popularity list for new2
    for a, b in zip(served["scores"], [float(r["score"]) for r in rows]):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-4)


def test_recommend_leaves_out_every_rated_item_by_default(trained_run, movielens_sample, tmp_path):
    """The reported defect: five MovieLens users folded in got items they had rated 2 and 3
    back. Only ratings >= min_rating are the input, but no rated item comes back (``seen``)."""
    from tests.conftest import SHARED_DATA

    lines = [
        line.split("\t")
        for line in (SHARED_DATA / "ml-100k" / "u.data").read_text().splitlines()
        if 901 <= int(line.split("\t")[0]) <= 905
    ]
    new = tmp_path / "five.data"
    new.write_text("\n".join("\t".join(f) for f in lines) + "\n")
    rated = {(u, i) for u, i, r, _ in lines}
    low = {(u, i) for u, i, r, _ in lines if float(r) < 4}
    assert low  # the five users did rate some items 1-3

    def recommend(*extra):
        out = tmp_path / f"recs{len(extra)}{''.join(extra)}.csv"
        result = run_cli("recommend", trained_run, "--data", new, "-n", "100", "-o", out, *extra)
        assert result.returncode == 0, result.stderr
        with open(out) as f:
            return {(r["user"], r["item"]) for r in csv.DictReader(f)}, result.stderr

    seen, stderr = recommend()
    assert "rows read; " in stderr and "kept as positives" in stderr
    assert {u for u, _ in seen} == {"901", "902", "903", "904", "905"}
    assert not seen & rated
    positives_only, _ = recommend("--exclude", "positives")
    assert not positives_only & (rated - low) and positives_only & low
    everything, _ = recommend("--exclude", "none")
    assert everything & (rated - low)


def test_cold_start_users_get_the_popularity_ranking(trained_run, tmp_path):
    new = tmp_path / "cold.csv"
    new.write_text("user,item,rating\nx,nope,5\ny,50,2\ny,100,1\n")
    out = tmp_path / "r.csv"
    result = run_cli("recommend", trained_run, "--data", new, "-n", "5", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "2 user(s) have no positive item the model knows (1 with every rating below 4)" in (
        result.stderr
    )
    with open(out) as f:
        rows = list(csv.DictReader(f))
    by_user = {u: [r for r in rows if r["user"] == u] for u in ("x", "y")}
    assert {r["source"] for r in rows} == {"popularity"}
    assert len(by_user["x"]) == 5 and len(by_user["y"]) == 5
    assert not {"50", "100"} & {r["item"] for r in by_user["y"]}  # rated: left out
    # the popularity ranking is the training one: x's list is y's with 50/100 removed
    ranked_x = [r["item"] for r in by_user["x"]]
    assert [i for i in ranked_x if i not in ("50", "100")] == [r["item"] for r in by_user["y"]][
        : len([i for i in ranked_x if i not in ("50", "100")])
    ]


def test_run_recommendations_leave_out_low_rated_items(trained_run, movielens_sample):
    rated = {tuple(line.split("\t")[:2]) for line in movielens_sample.read_text().splitlines()}
    with open(trained_run / "recommendations.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["source"] for r in rows} == {"model"}
    assert not {(r["user"], r["item"]) for r in rows} & rated


def test_own_validation_and_test_files_and_no_selection(movielens_sample, tmp_path):
    lines = movielens_sample.read_text().splitlines()

    def by_user(lo, hi):
        return [line for line in lines if lo <= int(line.split("\t")[0]) <= hi]

    train, val, test = tmp_path / "train.data", tmp_path / "val.data", tmp_path / "test.data"
    train.write_text("\n".join(by_user(1, 200)) + "\n")
    val.write_text("\n".join(by_user(201, 250)) + "\n")
    test.write_text("\n".join(by_user(251, 300)) + "\n")
    out = tmp_path / "own"
    result = run_cli(
        "run", "recommender-vae", "--data", train, "--validation", val, "--test", test,
        "-o", out, *TINY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "metrics.json").read_text())["data"]
    split = [r.split(",") for r in (out / "split.csv").read_text().splitlines()[1:]]
    val_users = {u for u, _, s in split if s.startswith("validation")}
    test_users = {u for u, _, s in split if s.startswith("test")}
    train_users = {u for u, _, s in split if s == "train"}
    assert val_users <= {str(u) for u in range(201, 251)} and len(val_users) > 40
    assert test_users <= {str(u) for u in range(251, 301)} and len(test_users) > 40
    assert train_users <= {str(u) for u in range(1, 201)}
    assert stats["n_validation_users"] == len(val_users)
    # the same users as validation data and training data: refused, naming the file
    clash = run_cli("run", "recommender-vae", "--data", train, "--validation", train,
                    "-o", tmp_path / "clash", *TINY)  # fmt: skip
    assert clash.returncode == 2
    assert "also appear in the training data" in error_lines(clash.stderr)[0]
    # zero held-out users: every user trains, the last epoch is kept, no test metrics
    out0 = tmp_path / "all"
    result = run_cli("run", "recommender-vae", "--data", train, "-o", out0, *TINY,
                     "--set", "validation_users=0", "--set", "test_users=0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out0 / "metrics.json").read_text())
    assert not any(k.startswith("test_") for k in metrics) and "best_epoch" not in metrics
    assert metrics["data"]["n_train_users"] == metrics["data"]["n_users"]
    assert "val_ndcg@100" not in (out0 / "history.csv").read_text()
    assert "No test users" in result.stderr


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


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_export_force_replaces_an_export_and_nothing_else(trained_run, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine")
    refused = run_cli("export", trained_run, "-o", notes, "--force")
    assert refused.returncode == 2 and "is not a gentk export (notes.txt)" in refused.stderr
    # the current directory, and a folder that holds the run, are never replaced
    here = run_cli("export", trained_run, "-o", ".", "--force", cwd=notes)
    assert here.returncode == 2 and "current directory" in here.stderr, here.stderr
    parent = run_cli("export", trained_run, "-o", trained_run.parent, "--force")
    assert parent.returncode == 2 and "holds the run" in parent.stderr
    assert (notes / "notes.txt").read_text() == "mine" and (trained_run / "model.keras").exists()
    out = tmp_path / "export"
    assert run_cli("export", trained_run, "-o", out, "-n", "5").returncode == 0
    again = run_cli("export", trained_run, "-o", out, "-n", "5")
    assert again.returncode == 2 and "pass --force" in again.stderr
    first = (out / "saved_model.pb").stat().st_ino
    replaced = run_cli("export", trained_run, "-o", out, "-n", "5", "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert (out / "saved_model.pb").stat().st_ino != first
    assert sorted(p.name for p in tmp_path.iterdir() if "export" in p.name) == ["export"]


def test_an_export_killed_mid_swap_is_given_back_then_replaced(trained_run, tmp_path):
    """What SIGKILL can leave between 'old aside' and 'new in': no ``export/``, the previous
    export in ``.export.export-old-*`` and a partial new one in ``.export.export-new-*``. The
    next export restores the previous one and deletes the partial one before anything else."""
    import shutil

    out = tmp_path / "export"
    assert run_cli("export", trained_run, "-o", out, "-n", "5").returncode == 0
    aside = tmp_path / ".export.export-old-abc123"
    aside.mkdir()
    out.rename(aside / "model")
    partial = tmp_path / ".export.export-new-def456" / "model"
    partial.mkdir(parents=True)
    shutil.copytree(aside / "model" / "variables", partial / "variables")
    refused = run_cli("export", trained_run, "-o", out, "-n", "5")  # no --force: it is back
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert (out / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert run_cli("export", trained_run, "-o", out, "-n", "5", "--force").returncode == 0


def test_fold_in_files_follow_the_runs_feedback_rule(trained_run, tmp_path):
    """The run trained on ratings >= 4: a file of one user's 1-star ratings is not implicit
    feedback (all positives) just because every rating in it is the same."""
    low = tmp_path / "low.csv"
    low.write_text("user,item,rating\nlow,50,1\nlow,100,1\nlow,181,1\nlow,1,1\nlow,7,1\n")
    out = tmp_path / "low_recs.csv"
    result = run_cli("recommend", trained_run, "--data", low, "-n", "5", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "0 with rating >= 4 kept as positives (the run's rule)" in result.stderr
    assert {r["source"] for r in _rows(out)} == {"popularity"}
    # another user's 5-star row does not change how the first user's rows are read
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(low.read_text() + "fan,50,5\n")
    out2 = tmp_path / "mixed_recs.csv"
    assert run_cli("recommend", trained_run, "--data", mixed, "-n", "5", "-o", out2).returncode == 0
    rows = _rows(out2)
    assert {r["source"] for r in rows if r["user"] == "low"} == {"popularity"}
    assert {r["source"] for r in rows if r["user"] == "fan"} == {"model"}


def test_users_who_get_no_or_few_recommendations_are_named(trained_run, tmp_path):
    items = json.loads((trained_run / "items.json").read_text())["items"]
    new = tmp_path / "all.csv"
    new.write_text(
        "user,item,rating\n"
        + "".join(f"everything,{i},5\n" for i in items)
        + "".join(f"most,{i},5\n" for i in items[2:])
        + "one,50,5\n"
    )
    out = tmp_path / "recs.csv"
    result = run_cli("recommend", trained_run, "--data", new, "-n", "10", "-o", out)
    assert result.returncode == 0, result.stderr
    assert (
        f"1 user(s) got no recommendation: every item the model knows ({len(items):,}) is one "
        "they rated (--exclude seen): everything"
    ) in result.stderr
    assert "1 user(s) got fewer than 10 recommendations" in result.stderr
    assert ": most" in result.stderr
    assert {r["user"] for r in _rows(out)} == {"most", "one"}


def test_item_ids_with_line_separators_round_trip(movielens_sample, tmp_path):
    """U+0085, U+2028 and a form feed are line breaks to ``str.splitlines``; a cp1252 file read
    as Latin-1 puts them into ids. The run's vocabulary must read back item for item."""
    odd = {"50": "a\x85b", "100": "c\u2028d", "181": "e\x0cf", "258": 'g"h,i'}
    lines = []
    for line in movielens_sample.read_text().splitlines():
        user, item, rating, stamp = line.split("\t")
        lines.append([user, odd.get(item, item), rating, stamp])
    data = tmp_path / "odd.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["user", "item", "rating", "timestamp"], *lines])
    run = tmp_path / "odd"
    result = run_cli("run", "recommender-dae", "--data", data, "-o", run, *TINY)
    assert result.returncode == 0, result.stderr
    vocab = json.loads((run / "items.json").read_text())["items"]
    assert set(odd.values()) <= set(vocab)
    new = tmp_path / "new.csv"
    with open(new, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["user", "item", "rating"], ["n", "a\x85b", 5], ["n", "1", 5]])
    recs = tmp_path / "recs.csv"
    result = run_cli("recommend", run, "--data", new, "-n", "5", "-o", recs)
    assert result.returncode == 0, result.stderr
    assert len(_rows(recs)) == 5
    assert run_cli("export", run, "-o", tmp_path / "export", "-n", "5").returncode == 0


def test_sample_on_a_recommender_run_is_one_line_exit_2(trained_run, tmp_path):
    proc = run_cli("sample", trained_run, "-o", tmp_path / "s.png")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        "Error: model 'recommender-vae' draws no samples; `gentk recommend RUN --data FILE` "
        "recommends items for users"
    ]


def test_a_full_disk_during_export_is_exit_3_and_keeps_the_old_export(trained_run, tmp_path):
    """TensorFlow's writers report ENOSPC as an OpError; the guard the export shares with every
    atomic write makes it the same one line as a full disk during training."""
    import errno

    import tensorflow as tf

    from gentk.atomic import disk_full
    from gentk.errors import DiskFullError

    with pytest.raises(DiskFullError, match="^no space left on"):
        with disk_full(tmp_path / "x"):
            raise tf.errors.ResourceExhaustedError(None, None, "write: No space left on device")
    with pytest.raises(DiskFullError, match="^no space left on"):
        with disk_full(tmp_path / "x"):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(ValueError):
        with disk_full(tmp_path / "x"):
            raise ValueError("other errors pass through")


def test_a_skipped_ease_baseline_is_said(movielens_sample, tmp_path):
    out = tmp_path / "r"
    result = run_cli("run", "recommender-dae", "--data", movielens_sample, "-o", out, *TINY,
                     "--set", "ease_max_items=10")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "EASE baseline skipped: " in result.stderr and "> ease_max_items=10" in result.stderr
    # a note (gentk.progress.note, through logging): on the terminal and in the run's log
    assert "EASE baseline skipped: " in (out / "run.log").read_text()
    assert not any(k.startswith("ease") for k in json.loads((out / "metrics.json").read_text()))
