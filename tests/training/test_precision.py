"""Mixed precision (``--set precision=``): the same problem reaches the same loss in float32
and in 16-bit compute within a stated tolerance, the global policy is restored after a run
(also a failed one), and models that need float32 refuse it in one line."""

import keras
import numpy as np
import pytest

import gentk
from gentk.errors import UserError
from gentk.plugins import get_registry

SMALL = ["hidden=64", "latent_dim=4", "nll_samples=0", "batch_size=64"]


def _run(name, tmp_path, *overrides, epochs=4):
    recipe = get_registry().get("model", name).factory
    return gentk.run(recipe, output=tmp_path / f"{name}-{len(overrides)}-{overrides[-1]}",
                     verbose=0, epochs=epochs, overrides=list(overrides))  # fmt: skip


def test_float32_and_mixed_bfloat16_reach_the_same_loss(tmp_path):
    full = _run("vae", tmp_path, *SMALL, "precision=float32")
    mixed = _run("vae", tmp_path, *SMALL, "precision=mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"
    a, b = full.metrics["test_loss"], mixed.metrics["test_loss"]
    # bfloat16 keeps 8 bits of mantissa; after 4 epochs the test ELBOs agree to 3%
    assert b == pytest.approx(a, rel=0.03), (a, b)
    assert mixed.model.dtype_policy.name == "mixed_bfloat16"
    assert all(w.dtype == "float32" for w in mixed.model.trainable_weights)


def test_a_flow_refuses_mixed_precision_and_the_policy_is_restored(tmp_path):
    with pytest.raises(UserError, match="computes in float32 only: precision=mixed_float16"):
        _run("realnvp", tmp_path, "precision=mixed_float16", epochs=1)
    with pytest.raises(UserError, match="`precision` must be one of"):
        _run("vae", tmp_path, "precision=half", epochs=1)
    assert keras.config.dtype_policy().name == "float32"


def test_a_sampled_softmax_trains_in_mixed_precision(tmp_path):
    """The sampled rows of the float32 output layer meet hidden units computed in bfloat16
    (they failed with a dtype error before): the run trains, the weights stay float32."""
    from tests.plugins.test_recommender import _planted_file

    recipe = get_registry().get("model", "recommender-vae").factory
    result = gentk.run(recipe, data=_planted_file(tmp_path / "r.csv", n_users=200),
                       output=tmp_path / "run", verbose=0, epochs=2,
                       overrides=["sampled_softmax=16", "hidden=(16,)", "latent_dim=4",
                                  "precision=mixed_bfloat16"])  # fmt: skip
    assert np.isfinite(result.history[-1]["loss"])
    assert all(w.dtype == "float32" for w in result.model.trainable_weights)
