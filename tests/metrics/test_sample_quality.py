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


def test_kernel_distance_is_the_unbiased_mmd_of_the_cubic_kernel():
    from gentk.metrics.sample_quality import kernel_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(1.0, 1.0, size=(5, 3))

    def k(x, y):
        return (x @ y / 3 + 1.0) ** 3

    aa = sum(k(a[i], a[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    bb = sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    ab = sum(k(x, y) for x in a for y in b) / (7 * 5)
    assert kernel_distance(a, b) == pytest.approx(aa + bb - 2 * ab, rel=1e-10)
    # unbiased: over many pairs of small samples of one distribution the mean is 0 ...
    same = [kernel_distance(rng.normal(size=(20, 4)), rng.normal(size=(20, 4))) for _ in range(300)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(300)
    # ... and a shifted distribution is told apart at that size
    assert kernel_distance(rng.normal(size=(200, 4)), rng.normal(0.5, 1, size=(200, 4))) > 0.1


def test_the_bootstrap_error_of_kid_weighs_the_kernels_by_draw_counts_as_redrawn_rows_would():
    from gentk.metrics.sample_quality import bootstrap_se, kernel_distance

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(40, 5)), rng.normal(0.2, 1.1, size=(30, 5))
    draws = np.random.default_rng(7)
    redrawn = [
        kernel_distance(a[draws.integers(0, 40, 40)], b[draws.integers(0, 30, 30)])
        for _ in range(25)
    ]
    assert bootstrap_se(kernel_distance, a, b, rounds=25, seed=7) == pytest.approx(
        np.std(redrawn, ddof=1), rel=1e-9
    )


def test_the_bootstrap_error_of_fd_matches_its_spread_over_fresh_samples():
    from gentk.metrics.sample_quality import bootstrap_se, frechet_distance

    rng = np.random.default_rng(1)

    def draw():
        return rng.normal(size=(300, 4)), rng.normal(0.3, 1.2, size=(300, 4))

    spread = np.std([frechet_distance(*draw()) for _ in range(60)], ddof=1)
    se = bootstrap_se(frechet_distance, *draw(), rounds=60)
    assert 0.5 * spread < se < 2.0 * spread
