"""``gentk.replicas`` under a real ``MirroredStrategy`` (two logical CPUs, in a new process:
logical devices must be set before TensorFlow starts) and without a strategy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from gentk.replicas import from_first_replica, global_moments, replica_sum, run_if


def test_without_a_strategy_each_helper_is_the_plain_computation():
    x = tf.constant(np.random.default_rng(0).normal(size=(6, 3)), tf.float32)
    mean, var = global_moments(x, axes=[0])
    np.testing.assert_allclose(mean, x.numpy().mean(0), atol=1e-6)
    np.testing.assert_allclose(var, x.numpy().var(0), atol=1e-5)
    assert replica_sum(x) is x and from_first_replica(x) is x
    v = tf.Variable(0.0)
    run_if(tf.constant(True), lambda: v.assign_add(1.0))
    run_if(tf.constant(False), lambda: v.assign_add(10.0))
    assert float(v) == 1.0


def test_under_a_mirrored_strategy_statistics_are_global_and_updates_conditional(tmp_path):
    script = textwrap.dedent(f"""
        import json, numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        import gentk
        from gentk.replicas import from_first_replica, global_moments, replica_sum, run_if
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
        shares = [x[:4], x[4:]]  # shares of different sizes
        values = strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(shares[ctx.replica_id_in_sync_group]))
        with strategy.scope():
            w = tf.Variable(1.0)
            opt = keras.optimizers.SGD(1.0)
            opt.build([w])

        @tf.function
        def step(v, due):
            def replica(v):
                mean, var = global_moments(v, axes=[0])
                def update(v):
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_sum(v) * w / 10.0
                    opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
                run_if(due, update, v)
                first = from_first_replica(tf.reduce_sum(v))
                return mean, var, replica_sum(tf.shape(v)[0]), first
            return strategy.run(replica, args=(v,))

        out = step(values, tf.constant(False))
        w_before = float(w.numpy())
        step(values, tf.constant(True))
        w_after = float(w.numpy())
        local = lambda t: [np.asarray(a).tolist() for a in strategy.experimental_local_results(t)]
        print(json.dumps({{"mean": local(out[0]), "var": local(out[1]), "rows": local(out[2]),
                          "first": local(out[3]), "w": [w_before, w_after],
                          "expected_w": 1.0 - float(x.sum()) / 10.0}}))
        # WGAN's generator update is conditional: auto trains it on one device, mirrored
        # refuses it in one line
        recipe = gentk.get_registry().get("model", "wgan").factory
        result = gentk.run(recipe, output={str(tmp_path / "wgan")!r}, verbose=0, **recipe.smoke)
        try:
            gentk.run(recipe, output={str(tmp_path / "wgan2")!r}, verbose=0,
                      overrides=["distribute=mirrored"], **recipe.smoke)
            refused = ""
        except gentk.UserError as err:
            refused = str(err)
        print(json.dumps({{"wgan_epochs": result.metrics["epochs"], "refused": refused}}))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ},
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    got, wgan = json.loads(lines[-2]), json.loads(lines[-1])
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    for replica in range(2):  # every replica sees the moments of all 10 rows
        np.testing.assert_allclose(got["mean"][replica], x.mean(0), atol=1e-5)
        np.testing.assert_allclose(got["var"][replica], x.var(0), atol=1e-5)
        assert got["rows"][replica] == 10
        assert got["first"][replica] == pytest.approx(float(x[:4].sum()), abs=1e-5)
    # no update when not due; when due, one SGD step on the gradient summed over replicas
    assert got["w"][0] == 1.0
    assert got["w"][1] == pytest.approx(got["expected_w"], abs=1e-5)
    assert wgan["wgan_epochs"] >= 1
    assert "1 replica(s)" in (tmp_path / "wgan" / "run.log").read_text()
    assert "cannot run it, training on one device" in (tmp_path / "wgan" / "run.log").read_text()
    assert "MirroredStrategy cannot run over several local devices" in wgan["refused"]
