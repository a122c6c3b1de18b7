"""Sample-quality metrics as math: the Fréchet distance against its closed form for Gaussians,
k-NN precision/recall on identical and disjoint sets, and mode coverage on a known mixture."""

import numpy as np
import pytest
from scipy import linalg

from gentk.metrics.sample_quality import frechet_distance, mode_coverage, precision_recall


def test_frechet_distance_matches_the_closed_form_for_gaussian_samples():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3)) @ np.diag([1.0, 2.0, 0.5])
    b = rng.normal(size=(4000, 3)) @ np.array([[1, 0.3, 0], [0, 1, 0], [0, 0, 1.5]]) + 1.0
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    exact = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(
        s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2))
    )
    assert frechet_distance(a, b) == pytest.approx(exact, rel=1e-8)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # singular covariances (dead ReLU features) stay finite and exact
    c = np.concatenate([a, np.zeros((4000, 2))], axis=1)
    assert frechet_distance(c, c) == pytest.approx(0.0, abs=1e-8)


def test_precision_and_recall_on_identical_disjoint_and_collapsed_sets():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(500, 2))
    p, r = precision_recall(real, rng.normal(size=(500, 2)))
    assert p > 0.85 and r > 0.85
    assert precision_recall(real, rng.normal(size=(500, 2)) + 50.0) == (0.0, 0.0)
    collapsed = 0.05 * rng.normal(size=(500, 2))  # all samples in the densest spot
    p, r = precision_recall(real, collapsed)
    assert p > 0.9 and r < 0.3


def test_mode_coverage_counts_modes_and_high_quality_samples():
    centers = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    stds = np.full(3, 0.1)
    rng = np.random.default_rng(2)
    good = np.concatenate([c + 0.1 * rng.normal(size=(100, 2)) for c in centers[:2]])
    junk = rng.uniform(10, 20, size=(50, 2))
    out = mode_coverage(np.concatenate([good, junk]), centers, stds)
    assert out["modes"] == 3 and out["modes_covered"] == 2
    assert out["high_quality_share"] == pytest.approx(200 / 250, abs=0.02)
