"""Epoch metrics are exact means over rows: every tracker is weighted by its batch's rows."""

import keras
import numpy as np
import tensorflow as tf

from gentk.models import GenerativeModel, batch_rows


class _RowMean(GenerativeModel):
    """loss = the batch mean of each row's value (the first column): its exact epoch mean is
    the mean over all rows, whatever the batch sizes."""

    loss_names = ("loss", "double")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.w = keras.layers.Dense(1)

    def call(self, x):
        return self.w(x)

    def compute_losses(self, data, training=False):
        x = data["x"] if isinstance(data, dict) else data
        per_row = x[:, 0] + 0.0 * self.w(x)[:, 0]
        return {"loss": tf.reduce_mean(per_row), "double": 2.0 * tf.reduce_mean(per_row)}


def test_400_rows_in_batches_of_128_give_the_exact_mean():
    x = np.arange(400, dtype=np.float32)[:, None] ** 1.5  # the last batch (16 rows) differs
    model = _RowMean()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = model.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(128), return_dict=True,
                          verbose=0)  # fmt: skip
    exact = float(np.mean(x[:, 0], dtype=np.float64))
    unweighted = float(np.mean([x[i : i + 128, 0].mean() for i in range(0, 400, 128)]))
    assert abs(unweighted - exact) > 100  # what the per-batch mean of means would report
    np.testing.assert_allclose(logs["loss"], exact, rtol=1e-6)
    np.testing.assert_allclose(logs["double"], 2 * exact, rtol=1e-6)
    batches = tf.data.Dataset.from_tensor_slices(x).batch(128)
    history = model.fit(batches, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(history.history["loss"][0], exact, rtol=1e-6)


def test_batch_rows_reads_dicts_tuples_and_sparse_batches():
    assert float(batch_rows(tf.zeros((5, 3)))) == 5
    assert float(batch_rows((tf.zeros((4, 2)), tf.zeros((4,))))) == 4
    assert float(batch_rows({"x": tf.zeros((3, 2)), "label": tf.zeros((3,), tf.int32)})) == 3
    sparse = tf.sparse.from_dense(tf.eye(6))
    assert float(batch_rows(sparse)) == 6
