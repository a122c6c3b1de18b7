"""The recommender's temporal protocols on hand-made files: ``split=time`` (each held-out
user's latest items are the targets) and ``split=time-cut`` (one global cut: nothing after it
trains), beside the paper's random ``split=users``."""

import json

import numpy as np
import pytest
from gentk_recommender.data import prepare
from gentk_recommender.recipe import RecommenderConfig

from gentk.config import resolve_config
from gentk.errors import DataError, UserError

USERS, PER_USER = 12, 6


def _config(**kw):
    base = {"validation_users": 2, "test_users": 3, "seed": 0, "fold_in_fraction": 0.5}
    return resolve_config(RecommenderConfig, None, [], **{**base, **kw})


def _timed_file(path):
    """User k clicks item ``i{(k + j) % 9}`` at time ``10 j + k / 100`` (j = 0..5), listed in
    shuffled order: step j of every user happens between 10 j and 10 j + 0.11."""
    steps = [(k, j) for k in range(USERS) for j in range(PER_USER)]
    rows = [(f"u{k}", f"i{(k + j) % 9}", 10 * j + k / 100) for k, j in steps]
    order = np.random.default_rng(0).permutation(len(rows))
    lines = [f"{rows[r][0]},{rows[r][1]},{rows[r][2]:.2f}" for r in order]
    path.write_text("user,item,timestamp\n" + "\n".join(lines) + "\n")
    return path


def _items(data, matrix, row):
    return set(data.item_ids[matrix[row].indices].tolist())


def _steps(user: str, items: set) -> set:
    """Which steps j of ``user`` the ``items`` are."""
    k = int(user[1:])
    return {j for j in range(PER_USER) if f"i{(k + j) % 9}" in items}


def test_split_time_makes_each_held_out_users_latest_items_the_targets(tmp_path):
    data = prepare(_config(split="time"), _timed_file(tmp_path / "r.csv"))
    assert len(data.test_users) == 3 and len(data.validation_users) == 2
    for users, fold_in, targets in (
        (data.test_users, data.test_fold_in, data.test_targets),
        (data.validation_users, data.validation_fold_in, data.validation_targets),
    ):
        for r, user in enumerate(users):
            assert _steps(user, _items(data, fold_in, r)) == {0, 1, 2}
            assert _steps(user, _items(data, targets, r)) == {3, 4, 5}
    assert data.stats["split"] == "time"
    # the same file split the paper's way mixes early and late items in the targets
    mixed = prepare(_config(split="users"), tmp_path / "r.csv")
    late = [_steps(u, _items(mixed, mixed.test_targets, r)) for r, u in enumerate(mixed.test_users)]
    assert any(steps != {3, 4, 5} for steps in late)


def test_split_time_cut_trains_on_nothing_after_the_cut(tmp_path):
    data = prepare(_config(split="time-cut", time_cut=30.0), _timed_file(tmp_path / "r.csv"))
    assert data.stats["time_cut"] == 30.0 and len(data.train_users) == USERS - 5
    for r, user in enumerate(data.train_users):
        assert _steps(user, _items(data, data.train, r)) == {0, 1, 2}  # before the cut only
    for r, user in enumerate(data.test_users):
        assert _steps(user, _items(data, data.test_fold_in, r)) == {0, 1, 2}
        targets = _items(data, data.test_targets, r)
        assert targets and _steps(user, targets) <= {3, 4, 5}
    # without time_cut the cut is the time by which fold_in_fraction of the clicks happened
    default = prepare(_config(split="time-cut"), tmp_path / "r.csv")
    assert 20.0 < default.stats["time_cut"] <= 30.11
    # held-out fractions are of the users with positives on both sides of the cut
    config = _config(split="time-cut", validation_users=None, test_users=None, test_fraction=0.25)
    assert len(prepare(config, tmp_path / "r.csv").test_users) == 3  # a quarter of 12


def test_temporal_splits_refuse_what_they_cannot_use(tmp_path):
    no_times = tmp_path / "clicks.csv"
    no_times.write_text("user,item\n" + "".join(f"u{k % 8},i{k % 11}\n" for k in range(80)))
    with pytest.raises(DataError, match=r"clicks\.csv.*split=time needs a timestamp column"):
        prepare(_config(split="time"), no_times)
    timed = _timed_file(tmp_path / "r.csv")
    with pytest.raises(UserError, match="split=time-cut draws the held-out users"):
        prepare(_config(split="time-cut", validation_data=str(timed)), timed)
    with pytest.raises(UserError, match="too few for 2 validation and 3 test users"):
        prepare(_config(split="time-cut", time_cut=1000.0), timed)  # nobody after it
    with pytest.raises(UserError, match="`split` must be one of users, time, time-cut"):
        _config(split="temporal")


def test_a_run_on_the_time_split_reports_the_baselines_on_the_same_split(tmp_path):
    import gentk

    result = gentk.run(
        "recommender-dae",
        data=_timed_file(tmp_path / "r.csv"),
        output=tmp_path / "run",
        epochs=2,
        verbose=0,
        overrides=["split=time", "hidden=(8,)", "latent_dim=4", "ease_max_items=100"],
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in ("test_ndcg@100", "popularity_test_ndcg@100", "ease_test_ndcg@100"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert result.config.split == "time"
