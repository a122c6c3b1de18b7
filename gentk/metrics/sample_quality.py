"""Sample-quality figures that mean something without downloaded networks: the Fréchet distance
and k-NN precision/recall in the feature space of a classifier trained on the same data set,
and mode coverage on 2-D mixtures.

The feature extractor is a small MLP classifier (256-128 ReLU, softmax head) trained on labelled
rows of the same data set (the GAN recipes use the held-out rows, so the training rows they
compare were never its training images); its 128-unit penultimate layer gives the features, so
the figures are named after the data (``fd_digits``), not Inception. It is cached per data set
(by a hash of its training rows) under ``$GENTK_CACHE`` (default ``~/.cache/gentk``), so
every run on one data set uses the same extractor.

#### Mathematical details
- Fréchet distance between Gaussians fitted to two feature sets:
  ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))  (Heusel et al., 2017).
- Kernel distance (KID, Bińkowski et al., 2018): the unbiased estimate of the squared MMD with
  the cubic kernel k(x, y) = (x.y / d + 1)^3,
  MMD^2 = mean_{i!=j} k(a_i, a_j) + mean_{i!=j} k(b_i, b_j) - 2 mean_{i,j} k(a_i, b_j);
  unlike FD it has no bias that depends on the number of samples (it can be slightly negative).
- Standard errors: the bootstrap over both sets (rows drawn with replacement, the statistic
  recomputed), the spread a figure would show with other samples of the same size.
- Precision and recall (Kynkäänniemi et al., 2019): each real feature vector gets a ball whose
  radius is the distance to its k-th nearest real neighbour; precision is the share of
  generated vectors inside some real ball, recall the share of real vectors inside some
  generated ball (radii from the generated set).
- 2-D mixtures (Metz et al., 2017; Srivastava et al., 2017): a sample is of high quality when
  it lies within 3 standard deviations of its nearest mode; a mode is covered when it receives
  at least 10% of the high-quality samples a perfect generator would give it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "bootstrap_se",
    "frechet_distance",
    "kernel_distance",
    "precision_recall",
    "mode_coverage",
    "FeatureExtractor",
    "cache_dir",
]


def cache_dir() -> Path:
    return Path(os.environ.get("GENTK_CACHE", Path.home() / ".cache" / "gentk"))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and ``b``.

    Tr((S_1 S_2)^(1/2)) is computed as the sum of the square roots of the eigenvalues of the
    symmetric PSD matrix S_1^(1/2) S_2 S_1^(1/2) (same spectrum), which stays exact for the
    singular covariances that ReLU features give.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1 = np.atleast_2d(np.cov(a, rowvar=False))
    s2 = np.atleast_2d(np.cov(b, rowvar=False))
    root = _psd_sqrt(s1)
    middle = root @ s2 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)


def kernel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased squared MMD between the rows of ``a`` and ``b`` with the cubic polynomial
    kernel (KID); 0 in expectation when both come from one distribution."""
    kernels = _cubic_kernels(a, b)
    ones_a, ones_b = np.ones((1, len(kernels[0]))), np.ones((1, len(kernels[1])))
    return float(_kid_of_counts(*kernels, ones_a, ones_b)[0])


def _cubic_kernels(a, b):
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    d = a.shape[1]
    return (a @ a.T / d + 1.0) ** 3, (b @ b.T / d + 1.0) ** 3, (a @ b.T / d + 1.0) ** 3


def _kid_of_counts(kaa, kbb, kab, counts_a, counts_b) -> np.ndarray:
    """KID of the sets that hold row i of ``a`` ``counts_a[r, i]`` times (and so for ``b``),
    one value per row r of the counts: a set redrawn with replacement, without its kernels
    computed again. Pairs are pairs of positions, so a row drawn twice pairs with itself."""
    m, n = counts_a.shape[1], counts_b.shape[1]
    within_a = ((counts_a @ kaa) * counts_a).sum(1) - counts_a @ np.diag(kaa)
    within_b = ((counts_b @ kbb) * counts_b).sum(1) - counts_b @ np.diag(kbb)
    cross = ((counts_a @ kab) * counts_b).sum(1)
    return within_a / (m * (m - 1)) + within_b / (n * (n - 1)) - 2.0 * cross / (m * n)


def bootstrap_se(
    statistic: Callable[[np.ndarray], float],
    a: np.ndarray,
    b: np.ndarray,
    rounds: int = 30,
    seed: int = 0,
):
    """Bootstrap standard error of ``statistic(a, b)``: rows of both sets redrawn with
    replacement ``rounds`` times. For ``kernel_distance`` the kernels are computed once and
    each redraw weighs their entries by how often it drew each row (the same values)."""
    rng = np.random.default_rng(seed)
    draws = [
        (rng.integers(0, len(a), len(a)), rng.integers(0, len(b), len(b))) for _ in range(rounds)
    ]
    if statistic is kernel_distance:
        counts_a = np.stack([np.bincount(i, minlength=len(a)) for i, _ in draws]).astype(float)
        counts_b = np.stack([np.bincount(j, minlength=len(b)) for _, j in draws]).astype(float)
        values = _kid_of_counts(*_cubic_kernels(a, b), counts_a, counts_b)
    else:
        values = [statistic(a[i], b[j]) for i, j in draws]
    return float(np.std(values, ddof=1))


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    d = np.sqrt(np.maximum(_sq_dist(x, x), 0.0))
    d.sort(axis=1)
    return d[:, min(k, len(x) - 1)]  # column 0 is the point itself


def _sq_dist(a, b):
    return (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """k-NN manifold precision and recall of ``fake`` against ``real`` (Kynkäänniemi et al.)."""
    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = np.sqrt(np.maximum(_sq_dist(fake, real), 0.0))  # [n_fake, n_real]
    precision = float(np.mean((d <= r_real[None, :]).any(axis=1)))
    recall = float(np.mean((d.T <= r_fake[None, :]).any(axis=1)))
    return precision, recall


def mode_coverage(samples: np.ndarray, centers: np.ndarray, stds: np.ndarray) -> dict:
    """High-quality share and modes covered of 2-D ``samples`` against a mixture's modes."""
    samples = np.asarray(samples, np.float64)
    d = np.sqrt(np.maximum(_sq_dist(samples, np.asarray(centers, np.float64)), 0.0))
    nearest = d.argmin(1)
    good = d[np.arange(len(samples)), nearest] <= 3.0 * np.asarray(stds)[nearest]
    per_mode = np.bincount(nearest[good], minlength=len(centers))
    needed = 0.1 * len(samples) / len(centers)
    return {
        "modes": int(len(centers)),
        "modes_covered": int((per_mode >= needed).sum()),
        "high_quality_share": float(good.mean()),
    }


class FeatureExtractor:
    """A classifier trained on ``(x, labels)``; ``features(x)`` is its penultimate layer.

    Args:
        x: training images or vectors.
        labels: integer classes.
        seed: training seed.
        epochs: training epochs.
    """

    def __init__(self, x: np.ndarray, labels: np.ndarray, seed: int = 0, epochs: int = 40):
        import keras

        x = np.asarray(x, np.float32).reshape(len(x), -1)
        labels = np.asarray(labels).astype(np.int64)
        self.n_classes = int(labels.max()) + 1
        digest = hashlib.sha256(x.tobytes() + labels.tobytes() + f"{seed},{epochs}".encode())
        self.path = cache_dir() / "extractors" / f"{digest.hexdigest()[:24]}.keras"
        model = None
        if self.path.is_file():
            try:
                model = keras.models.load_model(self.path, safe_mode=True)
            except Exception:  # noqa: BLE001 - a damaged cache entry is retrained
                model = None
        if model is None:
            model = self._train(x, labels, seed, epochs)
        self.model = model
        self.body = keras.Model(model.inputs, model.get_layer("features").output)

    def _train(self, x, labels, seed, epochs):
        import keras

        from gentk.atomic import atomic_path

        keras.utils.set_random_seed(seed)
        inputs = keras.Input((x.shape[1],))
        h = keras.layers.Dense(256, activation="relu")(inputs)
        h = keras.layers.Dense(128, activation="relu", name="features")(h)
        out = keras.layers.Dense(self.n_classes, activation="softmax")(h)
        model = keras.Model(inputs, out)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.fit(x, labels, batch_size=128, epochs=epochs, verbose=0, shuffle=True)
        try:
            with atomic_path(self.path) as tmp:
                model.save(tmp)
        except OSError:
            pass  # an unwritable cache only costs the retraining
        return model

    def features(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        # one eager call per 4,096 rows: Keras' predict costs ~0.1 s of set-up per call
        chunks = [x[i : i + 4096] for i in range(0, len(x), 4096)] or [x]
        return np.concatenate([np.asarray(self.body([c], training=False)) for c in chunks])

    def accuracy(self, x: np.ndarray, labels: np.ndarray) -> float:
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        pred = np.asarray(self.model.predict(x, batch_size=512, verbose=0)).argmax(1)
        return float(np.mean(pred == np.asarray(labels)))
