"""The conformance suite as a library: the checks gentk runs on every registered entry, for
plugin authors to run on their own entries with one command.

    python -m gentk.testing PLUGIN            # every entry the plugin registered
    python -m gentk.testing PLUGIN --entry model:NAME

Components: built from their ``example()``, finite outputs, gradients reaching every trainable
weight, a ``get_config`` round trip with identical outputs (adversarial divergences: finite
losses with gradients to the scores they read, and a config round trip; bijectors: ``inverse``
undoes ``forward``, ``forward_log_det_jacobian == -inverse_log_det_jacobian`` at matching
points, the log-determinant equals log|det| of the autodiff Jacobian, the one-call
``inverse_and_log_det`` a density uses gives the same inverse and log-determinant, gradients of
a log-likelihood through it reach every weight, and a serialization round trip keeps the
bijection; priors:
finite samples and log-densities with gradients to every weight, and a round trip).
Models: built from the recipe's ``smoke`` options on its default data (with XLA where the recipe
supports it), three training steps
with finite logs, each optimizer's loss reaching every weight it updates, a config round trip,
``save`` ->
``gentk.load_model(safe_mode=True)`` with the same outputs and every optimizer's state, and
finally every saved model loaded again in a fresh interpreter (what a class registered only in
the running process would fail). Models that declare ``supports_mixed_precision`` also train
three steps under ``mixed_bfloat16`` (CPU-friendly) with finite float32 losses, weights kept in
float32, and the same weights after save and load. Every model also trains two steps in two
worker processes on loopback under ``MultiWorkerMirroredStrategy`` (the runner's multi-worker
loop), ending with identical weights and optimizer state on both (Keras' batch-norm moving
statistics excepted: Keras keeps them per replica). Each failed check raises
``ConformanceError`` naming it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from gentk.registry import Entry

__all__ = [
    "ConformanceError",
    "check_component",
    "check_adversarial_divergence",
    "check_bijector",
    "check_prior",
    "check_model",
    "check_mixed_precision",
    "check_fresh_load",
    "check_multi_worker",
    "multi_worker_steps",
    "fresh_load_errors",
    "check_plugin",
    "main",
]


class ConformanceError(AssertionError):
    """An entry broke the contract; the message names the entry and the check."""


def _require(condition, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


def _close(a, b, rtol=1e-5, atol=1e-6) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))


def _tensors_of(out):
    """Differentiable tensors that summarise an output (a distribution or a tensor)."""
    import tensorflow as tf

    if isinstance(out, (tf.Tensor, np.ndarray)):
        return [tf.convert_to_tensor(out)]
    tensors = []
    for method in ("mean", "stddev"):
        try:
            tensors.append(getattr(out, method)())
        except (NotImplementedError, TypeError, ValueError):
            pass
    _require(tensors, f"cannot read an output of type {type(out).__name__}")
    return tensors


def _nonzero(grad) -> bool:
    import tensorflow as tf

    return grad is not None and bool(np.any(tf.convert_to_tensor(grad).numpy() != 0))


def check_adversarial_divergence(divergence: Any, args: dict) -> None:
    """Finite scalar losses, gradients to the scores each reads, and a config round trip."""
    import tensorflow as tf

    real, fake = (tf.Variable(a) for a in args)
    with tf.GradientTape(persistent=True) as tape:
        critic = divergence.critic_loss(real, fake)
        generator = divergence.generator_loss(fake)
    for value in (critic, generator):
        _require(value.shape == () and np.isfinite(float(value)), "losses must be finite scalars")
    _require(_nonzero(tape.gradient(critic, real)), "the critic loss ignores the real scores")
    _require(_nonzero(tape.gradient(critic, fake)), "the critic loss ignores the fake scores")
    _require(_nonzero(tape.gradient(generator, fake)), "the generator loss ignores its scores")
    clone = type(divergence)(**divergence.get_config())
    _require(_close(clone.critic_loss(*args), critic), "get_config round trip changes losses")
    _require(_close(clone.generator_loss(args[1]), generator), "get_config round trip differs")


def check_bijector(layer: keras.layers.Layer, x: tf.Tensor) -> None:
    """The bijection checks of a Bijector layer on points ``x`` ``[B, ...event]`` (vectors or
    images; see the module docstring); weights are moved off their initial values first
    (couplings start as the identity, where every check would pass trivially)."""
    import keras
    import tensorflow as tf

    x = tf.constant(np.asarray(x, dtype="float32"))
    layer(condition=None)  # builds
    rng = np.random.default_rng(0)
    for w in layer.trainable_weights:
        w.assign(w.numpy() + 0.2 * rng.normal(size=w.shape).astype("float32"))
    bij = layer(condition=None)
    y = bij.forward(x)
    _require(np.all(np.isfinite(y.numpy())), "forward gives non-finite values")
    _require(_close(bij.inverse(y), x, 1e-3, 1e-3), "inverse(forward(x)) != x")
    n, nd = x.shape[0], len(x.shape) - 1
    fldj = np.broadcast_to(bij.forward_log_det_jacobian(x, event_ndims=nd).numpy(), (n,))
    ildj = np.broadcast_to(bij.inverse_log_det_jacobian(y, event_ndims=nd).numpy(), (n,))
    _require(
        _close(fldj, -ildj, 1e-3, 1e-3), "forward_log_det_jacobian != -inverse_log_det_jacobian"
    )
    _require(
        _close(bij.inverse(tf.identity(y)), x, 1e-3, 1e-3), "inverse(forward(x)) != x (uncached)"
    )
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = tf.reshape(bij.forward(tf.identity(x)), (n, -1))  # new tensor: TFP caches by input
    d = out.shape[1]
    # row by row: pfor cannot vectorise every op (an ODE solver's while loop), and the
    # examples are small
    jac = tape.batch_jacobian(out, x, experimental_use_pfor=False)
    del tape
    jac = jac.numpy().astype(np.float64).reshape(n, d, d)
    _require(
        _close(fldj, np.linalg.slogdet(jac)[1], 1e-2, 1e-2), "log-det != log|det J| (autodiff)"
    )
    one_call = getattr(layer, "inverse_and_log_det", None)
    if one_call is not None:  # what FlowModel's density calls
        z, log_det = one_call(tf.identity(y), None, False, nd)
        _require(_close(z, x, 1e-3, 1e-3), "inverse_and_log_det: x differs from inverse(y)")
        _require(
            _close(np.broadcast_to(log_det.numpy(), (n,)), ildj, 1e-3, 1e-3),
            "inverse_and_log_det: the log-det differs from inverse_log_det_jacobian",
        )
    with tf.GradientTape() as tape:
        if one_call is not None:
            z, log_det = one_call(tf.identity(y), None, False, nd)
        else:
            z = layer(condition=None).inverse(tf.identity(y))
            log_det = layer(condition=None).inverse_log_det_jacobian(tf.identity(y), nd)
        nll = tf.reduce_sum(z**2) / 2 - tf.reduce_sum(log_det)
    weights = layer.trainable_weights
    for w, g in zip(weights, tape.gradient(nll, weights)):
        _require(_nonzero(g), f"no gradient reaches {w.path}")
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer), safe_mode=True
    )
    clone(condition=None)
    clone.set_weights(layer.get_weights())
    _require(
        _close(clone(condition=None).forward(x), y, 1e-5, 1e-5), "a round trip changes forward"
    )


def check_prior(layer: keras.layers.Layer) -> None:
    """A prior layer: ``layer()`` is a distribution over ``[latent_dim]`` whose samples and
    log-densities are finite; the log-density's gradient reaches every weight (moved off its
    initial value first); a serialization round trip keeps the log-densities."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for w in layer.trainable_weights:
        w.assign(w.numpy() + 0.2 * rng.normal(size=w.shape).astype("float32"))
    dist = layer()
    z = dist.sample(6, seed=tf.constant([0, 1], tf.int32))
    _require(tuple(z.shape) == (6, layer.latent_dim), "samples must be [n, latent_dim]")
    with tf.GradientTape() as tape:
        log_p = layer().log_prob(tf.identity(z))
        loss = -tf.reduce_sum(log_p)
    _require(log_p.shape == (6,) and np.all(np.isfinite(log_p.numpy())), "bad log_prob")
    weights = layer.trainable_weights
    for w, g in zip(weights, tape.gradient(loss, weights)):
        _require(_nonzero(g), f"no gradient reaches {w.path}")
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer), safe_mode=True
    )
    clone.set_weights(layer.get_weights())
    _require(_close(clone().log_prob(z), log_p, 1e-5, 1e-5), "a round trip changes log_prob")


def check_component(entry: Entry) -> None:
    """The checks of one registered component (see the module docstring)."""
    import keras
    import tensorflow as tf

    from gentk.interfaces import Bijector, Divergence, Prior

    _require(entry.example is not None, f"{entry.kind} {entry.name} has no example()")
    component, args = entry.example()
    if isinstance(component, Bijector):
        check_bijector(component, args[0])
        return
    if isinstance(component, Prior):
        check_prior(component)
        return
    if isinstance(component, Divergence) and "adversarial" in component.supports:
        check_adversarial_divergence(component, args)
        return
    if isinstance(component, Divergence):
        q, p = args
        value = component.between(q, p, q.sample(seed=tf.constant([0, 1])))
        _require("latent" in component.supports, "a divergence must declare what it supports")
        _require(value.shape == q.batch_shape and np.all(np.isfinite(value)), "bad between()")
        return
    if not isinstance(component, keras.layers.Layer):
        values = np.asarray(component(*args))
        _require(np.all(np.isfinite(values)), "outputs must be finite")
        clone = type(component)(**component.get_config())
        _require(_close(clone(*args), values), "get_config round trip changes outputs")
        return
    rng = np.random.default_rng(0)
    with tf.GradientTape() as tape:
        tensors = _tensors_of(component(*args))
        loss = tf.add_n(
            [tf.reduce_sum(t * rng.normal(size=t.shape).astype("float32")) for t in tensors]
        )
    for t in tensors:
        _require(np.all(np.isfinite(t.numpy())), "outputs must be finite")
        _require(t.shape[0] == np.asarray(args[0]).shape[0], "outputs must keep the batch size")
    _require(component.trainable_weights, "a component with no trainable weights")
    for w, g in zip(component.trainable_weights, tape.gradient(loss, component.trainable_weights)):
        _require(_nonzero(g), f"no gradient reaches {w.path}")
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(component), safe_mode=True
    )
    clone(*args)
    clone.set_weights(component.get_weights())
    for a, b in zip(_tensors_of(component(*args)), _tensors_of(clone(*args))):
        _require(_close(a, b), "a serialization round trip changes the outputs")


def check_model(entry: Entry, workdir: Path) -> Path:
    """The checks of one registered model recipe; returns the saved ``.keras`` file (with an
    ``.npz`` of inputs and outputs beside it) for ``check_fresh_load``."""
    import keras
    import tensorflow as tf

    import gentk
    from gentk.config import resolve_config
    from gentk.errors import UserError
    from gentk.recipe import check_active_options
    from gentk.saving import unloadable_classes
    from gentk.training.contract import optimizers, training_contract
    from gentk.training.runner import build_compiled_model, seed_everything

    recipe = entry.factory
    _require(recipe.name == entry.name and entry.help, "a recipe needs its name and help")
    # XLA wherever the recipe supports it (jit_compile=auto would leave it off on CPU)
    config = resolve_config(recipe.config, None, [], **recipe.smoke)
    try:
        check_active_options(recipe, config)
    except UserError as err:
        raise ConformanceError(f"its smoke options: {err}") from None
    if recipe.jit_supported(config):
        config = resolve_config(recipe.config, None, ["jit_compile=true"], **recipe.smoke)
    seed_everything(0)
    data = recipe.load_data(config, None)
    model = build_compiled_model(recipe, config, data)
    _require(isinstance(model, keras.Model) and model.built, "build() must return a keras.Model")
    bad = unloadable_classes(keras.saving.serialize_keras_object(model))
    _require(not bad, f"classes no other process can import: {', '.join(bad)}")
    batch = next(iter(recipe.train_dataset(config, data)))
    history = model.fit(
        recipe.train_dataset(config, data).take(3), epochs=1, verbose=0, shuffle=False
    )
    for key, values in history.history.items():
        _require(np.all(np.isfinite(values)), f"{key} is not finite after 3 steps")
    covered = set()
    for part in training_contract(model):  # what each optimizer minimises, and updates
        variables = list(part.variables)
        with tf.GradientTape() as tape:
            loss = model.compute_losses(batch, training=True)[part.loss]
        for w, g in zip(variables, tape.gradient(loss, variables)):
            _require(_nonzero(g), f"{part.loss} does not reach {w.path}")
            covered.add(id(w))
    _require(
        covered == {id(w) for w in model.trainable_variables},
        "some trainable weights belong to no objective",
    )
    clone = type(model).from_config(model.get_config())
    _require(clone.get_config() == model.get_config(), "from_config(get_config()) differs")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{entry.name}.keras"
    model.save(path)
    loaded = gentk.load_model(path)
    x = batch[0] if isinstance(batch, tuple) else batch
    _require(_close(model(x), loaded(x), atol=1e-5), "the loaded model's outputs differ")
    mine, theirs = optimizers(model), optimizers(loaded)
    _require(int(mine[-1].iterations) == 3, "three batches must make three optimizer steps")
    _require(len(theirs) == len(mine), "an optimizer was not restored by load_model")
    for a, b in zip(mine, theirs):
        _require(int(a.iterations) == int(b.iterations), "an optimizer's step count was lost")
        _require(len(a.variables) == len(b.variables), "an optimizer's state was lost")
        for va, vb in zip(a.variables, b.variables):
            _require(_close(va, vb), "an optimizer's state changed in the round trip")
    y = np.asarray(model(x))
    if isinstance(x, dict):
        np.savez(path.with_suffix(".npz"), y=y, **{f"x_{k}": np.asarray(v) for k, v in x.items()})
    else:
        np.savez(path.with_suffix(".npz"), x=np.asarray(x), y=y)
    return path


_FRESH_LOAD = """
import sys, json
from pathlib import Path
import numpy as np
import gentk

out = {}
for path in map(Path, sys.argv[1:]):
    try:
        model = gentk.load_model(path)
        arrays = np.load(path.with_suffix(".npz"))
        x = arrays["x"] if "x" in arrays else {
            k[2:]: arrays[k] for k in arrays.files if k.startswith("x_")}
        out[path.stem] = float(np.max(np.abs(np.asarray(model(x)) - arrays["y"])))
    except Exception as err:
        out[path.stem] = f"{type(err).__name__}: {err}"
print(json.dumps(out))
"""


def fresh_load_errors(paths: Sequence[Path], tolerance: float = 1e-4) -> dict[str, str | None]:
    """Load every saved model again in one new interpreter and compare its outputs; return
    each file's problem (None when it loads and agrees)."""
    paths = [str(p) for p in paths]
    if not paths:
        return {}
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH_LOAD, *paths], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        return {Path(p).stem: f"the fresh interpreter failed: {proc.stderr[-1000:]}" for p in paths}
    out = {}
    for name, diff in json.loads(proc.stdout.strip().splitlines()[-1]).items():
        if not isinstance(diff, float):
            out[name] = f"does not load in a new process: {diff}"
        elif not diff < tolerance:
            out[name] = f"outputs differ by {diff} after loading in a new process"
        else:
            out[name] = None
    return out


def check_mixed_precision(entry: Entry, workdir: Path, policy: str = "mixed_bfloat16") -> None:
    """Three training steps of the recipe's smoke model built under ``policy``: finite float32
    losses, float32 weights, and the same weights after save and load."""
    import keras
    import tensorflow as tf

    import gentk
    from gentk.config import resolve_config
    from gentk.training.runner import build_compiled_model, dtype_policy, seed_everything

    recipe = entry.factory
    if not getattr(recipe, "supports_mixed_precision", True):
        return
    config = resolve_config(recipe.config, None, [f"precision={policy}"], **recipe.smoke)
    seed_everything(0)
    data = recipe.load_data(config, None)
    with dtype_policy(policy):
        model = build_compiled_model(recipe, config, data)
        batch = next(iter(recipe.train_dataset(config, data)))
        history = model.fit(
            recipe.train_dataset(config, data).take(3), epochs=1, verbose=0, shuffle=False
        )
        losses = model.compute_losses(batch, training=False)
    for key, values in history.history.items():
        _require(np.all(np.isfinite(values)), f"{policy}: {key} is not finite after 3 steps")
    for key, value in losses.items():
        _require(tf.convert_to_tensor(value).dtype == tf.float32, f"{policy}: {key} not float32")
    odd = [w.path for w in model.weights if w.dtype not in ("float32", "int32", "int64", "bool")]
    _require(not odd, f"{policy}: weights not in float32: {', '.join(odd[:3])}")
    path = Path(workdir) / f"{entry.name}-{policy}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    loaded = gentk.load_model(path)
    # a loaded model computes in the policy of the process that loads it: its weights must be
    # the trained ones (outputs of argmax-like layers may differ between 16 and 32 bits)
    mine, theirs = model.get_weights(), loaded.get_weights()
    _require(len(mine) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(mine, theirs)),
             f"{policy}: a round trip changes the weights")  # fmt: skip
    _require(keras.config.dtype_policy().name == "float32", "the global policy was not restored")


def multi_worker_steps(labels: Sequence[str], steps: int = 2) -> dict:
    """In a worker of a multi-worker cluster (``TF_CONFIG`` set, nothing run yet): each model
    ``labels`` names (``model:NAME``, or ``model:NAME@key=value;key=value`` with options)
    built from its smoke options under ``MultiWorkerMirroredStrategy`` and trained ``steps``
    steps by the runner's loop. Returns, per label, an error or the logs and a checksum of
    every weight and optimizer variable, which the caller compares across workers (equal when
    the replicas stayed in sync)."""
    from gentk.training.multiworker import multi_worker_strategy

    strategy = multi_worker_strategy()  # before any other TensorFlow operation
    import keras

    from gentk.config import resolve_config
    from gentk.plugins import get_registry
    from gentk.training.contract import optimizer_variables, optimizers
    from gentk.training.multiworker import fit_distributed
    from gentk.training.runner import build_compiled_model, seed_everything

    registry, out = get_registry(), {}
    for label in labels:
        entry, _, options = label.partition("@")
        recipe = registry.get(*entry.split(":", 1)).factory
        try:
            overrides = [o for o in options.split(";") if o]
            config = resolve_config(recipe.config, None, overrides, **recipe.smoke)
            seed_everything(0)
            data = recipe.load_data(config, None)
            model = build_compiled_model(recipe, config, data, strategy)
            history = fit_distributed(
                model, strategy, recipe.train_dataset(config, data).take(steps),
                epochs=1, callbacks=[], verbose=0,
            )  # fmt: skip
            # Keras' BatchNormalization keeps its moving statistics per replica, by design
            # (each replica's running average of its own shares; the chief's are saved)
            local = {
                id(v)
                for layer in model._flatten_layers()
                if isinstance(layer, keras.layers.BatchNormalization)
                for v in (layer.moving_mean, layer.moving_variance)
            }
            variables = [v for v in model.weights if id(v) not in local]
            variables += optimizer_variables(model)
            sums = {
                f"{i}:{v.path}": float(np.abs(np.asarray(v, dtype=np.float64)).sum())
                for i, v in enumerate(variables)
            }
            steps_done = int(np.asarray(optimizers(model)[-1].iterations))
            logs = {k: float(v[-1]) for k, v in history.history.items()}
            out[label] = {"logs": logs, "checksums": sums, "steps": steps_done}
        except Exception as err:  # noqa: BLE001 - reported per entry
            out[label] = {"error": f"{type(err).__name__}: {err}"}
    return out


def check_multi_worker(
    labels: Sequence[str], workers: int = 2, steps: int = 2, timeout: float = 900
) -> dict:
    """``multi_worker_steps`` in ``workers`` local processes on loopback; returns
    ``{label: error or None}``: an error when an entry failed on a worker, logged a non-finite
    value, made other than ``steps`` optimizer steps, or ended with weights that differ
    between workers."""
    from gentk.cli.launch import tf_configs

    labels = list(labels)
    code = "import json, sys; from gentk.testing import multi_worker_steps; "
    code += f"print(json.dumps(multi_worker_steps(sys.argv[1:], {int(steps)})))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *labels],
            env={**os.environ, "TF_CONFIG": tf_config},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tf_config in tf_configs(workers)
    ]
    reports = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise ConformanceError(f"multi-worker: no result within {timeout:.0f} s") from None
        if p.returncode != 0:
            raise ConformanceError(f"multi-worker: a worker failed: {stderr[-2000:]}")
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    errors = {}
    for label in labels:
        results = [r[label] for r in reports]
        failed = next((r["error"] for r in results if "error" in r), None)
        if failed is None and not all(np.isfinite(list(r["logs"].values())).all() for r in results):
            failed = f"logs not finite: {results[0]['logs']}"
        if failed is None and any(r["steps"] != steps for r in results):
            failed = f"{results[0]['steps']} optimizer steps, not {steps}"
        if failed is None:
            first = results[0]["checksums"]
            differ = [
                k.split(":", 1)[1]
                for r in results[1:]
                for k, v in r["checksums"].items()
                if not np.isclose(v, first.get(k, np.nan), rtol=1e-6)
            ]
            if differ:
                failed = (
                    f"the workers' values of {', '.join(sorted(set(differ))[:4])} differ after "
                    "training (an update that is not synchronised across replicas)"
                )
        errors[label] = failed
    return errors


def check_fresh_load(paths: Sequence[Path], tolerance: float = 1e-4) -> None:
    """``fresh_load_errors`` as a check: raise ``ConformanceError`` naming the first failure."""
    for name, error in fresh_load_errors(paths, tolerance).items():
        _require(error is None, f"{name}: {error}")


def check_plugin(
    plugin: str, entries: Sequence[str] | None = None, workdir: Path | None = None
) -> list[tuple[str, str | None]]:
    """Run every check on the entries ``plugin`` registered (or on ``entries``, given as
    ``kind:name``); return ``(entry, error or None)`` pairs."""
    from gentk.plugins import get_registry

    registry = get_registry()
    chosen = [
        e
        for e in registry.entries()
        if e.plugin == plugin and e.kind != "dataset"
        and (entries is None or f"{e.kind}:{e.name}" in entries)
    ]  # fmt: skip
    if not chosen:
        raise SystemExit(f"no entries of plugin {plugin!r} (see `gentk plugins`)")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="gentk-conformance-"))
    results, saved = [], {}
    for e in chosen:
        label = f"{e.kind}:{e.name}"
        try:
            if e.kind == "model":
                saved[label] = check_model(e, workdir)
                check_mixed_precision(e, workdir / "mixed")
            else:
                check_component(e)
            results.append((label, None))
        except Exception as err:  # noqa: BLE001 - reported per entry
            results.append((label, f"{type(err).__name__}: {err}"))
    fresh = fresh_load_errors(saved.values())
    models = [label for label, error in results if label in saved and error is None]
    if models:
        try:
            parallel = check_multi_worker(models)
        except ConformanceError as err:
            parallel = dict.fromkeys(models, str(err))
        results = [
            (label, error or (f"multi-worker: {parallel[label]}" if parallel.get(label) else None))
            for label, error in results
        ]
    return [
        (label, error or (fresh.get(Path(saved[label]).stem) if label in saved else None))
        for label, error in results
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gentk.testing",
        description="Run gentk's conformance checks on the entries a plugin registered.",
    )
    parser.add_argument("plugin", help="the plugin's entry-point name (see `gentk plugins`)")
    parser.add_argument("--entry", action="append", help="only KIND:NAME (repeatable)")
    args = parser.parse_args(argv)
    results = check_plugin(args.plugin, args.entry)
    for label, error in results:
        print(f"ok   {label}" if error is None else f"FAIL {label}: {error}")
    failed = sum(error is not None for _, error in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
