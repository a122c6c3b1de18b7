"""``RunPlan``: a run's decisions resolved once, before anything on disk changes; frozen; a
resume's plan reads the run back; a dataset's name works from Python as from the CLI."""

import dataclasses
import json

import pytest

import gentk
from gentk.errors import UserError
from gentk.plugins import get_registry
from gentk.training.plan import RunPlan, plan_run


def _recipe(name="autoencoder"):
    return get_registry().get("model", name).factory


SMALL = ["hidden=16", "latent_dim=2"]


def test_a_plan_decides_everything_and_changes_nothing_on_disk(tmp_path):
    old = tmp_path / "old"
    gentk.run(_recipe(), output=old, verbose=0, epochs=1, overrides=SMALL)
    before = sorted(p.name for p in old.iterdir())
    plan = plan_run(_recipe(), run_dir=old, force=True, overrides=SMALL, direct={"epochs": 3})
    assert isinstance(plan, RunPlan) and plan.action == "replace" and not plan.resuming
    assert plan.config.epochs == 3 and plan.data_obj is not None and plan.xla is False
    assert sorted(p.name for p in old.iterdir()) == before  # nothing set aside yet
    fresh = plan_run(_recipe(), run_dir=tmp_path / "new", overrides=SMALL)
    assert fresh.action == "new" and not (tmp_path / "new").exists()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fresh.config = None


def test_a_resumes_plan_reads_the_run_back(tmp_path):
    out = tmp_path / "run"
    gentk.run(_recipe(), output=out, verbose=0, epochs=1, overrides=SMALL)
    plan = plan_run(_recipe(), run_dir=out, resume=True, direct={"epochs": 2})
    assert plan.action == "resume" and plan.resuming and plan.state["epoch"] == 1
    assert plan.meta["model"] == "autoencoder" and plan.config.hidden == (16,)
    assert plan.config.epochs == 2 and plan.saved_config.epochs == 1
    with pytest.raises(UserError, match="is a 'autoencoder' run, not 'vae'"):
        plan_run(_recipe("vae"), run_dir=out, resume=True)


def test_gentk_run_takes_a_datasets_name_and_records_it(tmp_path):
    """From Python as from the CLI: a registered dataset's name loads it, run.json records the
    name (so --resume finds it again), and a name that is neither a path nor a dataset is one
    error listing the datasets."""
    out = tmp_path / "run"
    result = gentk.run("autoencoder", data="digits", output=out, verbose=0, epochs=1,
                       overrides=SMALL)  # fmt: skip
    assert json.loads((out / "run.json").read_text())["data"] == "digits"
    assert result.metrics["epochs"] == 1
    resumed = gentk.run("autoencoder", output=out, resume=True, verbose=0, epochs=2)
    assert resumed.metrics["epochs"] == 2
    with pytest.raises(UserError, match=r"--data 'digitz': no such file.*datasets: .*digits"):
        plan_run(_recipe(), run_dir=tmp_path / "x", data="digitz")
    assert not (tmp_path / "x").exists()


def test_hooks_that_declare_plan_receive_it(tmp_path):
    """A recipe hook with a ``plan`` parameter gets the run's RunPlan; hooks without it are
    called as before (``call_hook``)."""
    from gentk_autoencoders.recipe import AutoencoderRecipe

    seen = {}

    class Planned(AutoencoderRecipe):
        def callbacks(self, model, config, data, run_dir, *, plan):
            seen["callbacks"] = plan
            return []

        def evaluate(self, model, config, data, plan=None):
            seen["evaluate"] = plan
            return super().evaluate(model, config, data)

    out = tmp_path / "run"
    gentk.run(Planned(), output=out, verbose=0, epochs=1, overrides=SMALL)
    assert isinstance(seen["callbacks"], RunPlan) and seen["callbacks"] is seen["evaluate"]
    assert seen["callbacks"].run_dir == out and seen["callbacks"].action == "new"
