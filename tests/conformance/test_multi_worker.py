"""The registry under ``MultiWorkerMirroredStrategy``: its own file, so that pytest-xdist runs
it beside the rest of the conformance suite (``--dist loadfile``)."""

from gentk import testing
from gentk.plugins import get_registry

MODELS = list(get_registry().entries("model"))

# state that is updated outside the gradients, in options the smoke configs leave off
MULTI_WORKER_EXTRAS = [
    "model:realnvp@bijectors=affine-coupling,batch-norm,reverse",
    "model:vq-vae@ema=true",
]


def test_every_model_trains_in_sync_under_two_workers():
    """Two worker processes on loopback (``MultiWorkerMirroredStrategy``) train every
    registered model two steps with the runner's loop: finite logs, the right optimizer step
    count, and identical weights and optimizer state on both workers afterwards."""
    labels = [f"model:{e.name}" for e in MODELS] + MULTI_WORKER_EXTRAS
    errors = testing.check_multi_worker(labels)
    assert set(errors) == set(labels)
    assert {k: v for k, v in errors.items() if v} == {}
