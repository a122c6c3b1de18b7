"""The autoencoder/VAE family from the command line: every model runs on the default data, and
``gentk encode`` / ``decode`` / ``score`` / ``sample --label`` do what users need."""

import csv
import json

import numpy as np
import pytest

from tests.conftest import error_lines, run_cli

FAST = ["--epochs", "1", "-q", "--set", "nll_samples=10"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    "name, extra, files",
    [
        ("denoising-autoencoder", [], ["reconstructions.png", "latent.png"]),
        ("autoencoder", ["--set", "pretrain_epochs=2"], ["reconstructions.png"]),
        ("contractive-autoencoder", [], ["reconstructions.png"]),
        ("sparse-autoencoder", [], ["reconstructions.png"]),
        ("unpooling-autoencoder", [], ["reconstructions.png"]),
        ("iwae", [], ["samples.png"]),
        ("vq-vae", ["--set", "ema=true"], ["samples.png", "codebook_usage.png"]),
    ],
)
def test_each_model_runs_from_the_cli_on_the_default_data(tmp_path, name, extra, files):
    fast = FAST if name == "iwae" else FAST[:3]
    result = run_cli("run", name, "-o", tmp_path / "r", *fast, *extra)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert all(np.isfinite(v) for v in metrics.values() if isinstance(v, float))
    assert "test_latent_kmeans_ari" in metrics
    for f in files:
        assert (tmp_path / "r" / f).is_file(), f
    if name == "vq-vae":
        assert 0 < metrics["test_code_usage"] <= 1 and metrics["test_code_perplexity"] >= 1


def test_cvae_classifier_samples_by_label_and_encodes_decodes_scores(tmp_path):
    run = tmp_path / "cvae"
    result = run_cli("run", "cvae-classifier", "-o", run, "--epochs", "2", *FAST[2:])
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert "test_classifier_accuracy" in metrics and "test_nll" in metrics

    sampled = run_cli("sample", run, "-n", "6", "--label", "3", "-o", tmp_path / "three.npz")
    assert sampled.returncode == 0, sampled.stderr
    assert np.load(tmp_path / "three.npz")["samples"].shape == (6, 8, 8, 1)
    bad = run_cli("sample", run, "--label", "10", "-o", tmp_path / "x.npz")
    assert bad.returncode == 2 and error_lines(bad.stderr) == [
        "Error: --label must be a class in 0..9. Received: 10"
    ]

    encoded = run_cli("encode", run, "-o", tmp_path / "codes.npz")
    assert encoded.returncode == 0, encoded.stderr
    with np.load(tmp_path / "codes.npz") as f:
        assert f["codes"].shape == (1797, 2) and f["labels"].shape == (1797,)
    decoded = run_cli("decode", run, tmp_path / "codes.npz", "-o", tmp_path / "dec.npz")
    assert decoded.returncode == 0, decoded.stderr
    assert np.load(tmp_path / "dec.npz")["x"].shape == (1797, 8, 8, 1)
    assert (tmp_path / "dec.png").is_file()

    scored = run_cli("score", run, "-o", tmp_path / "scores.csv")
    assert scored.returncode == 0, scored.stderr
    rows = _rows(tmp_path / "scores.csv")
    assert len(rows) == 1797 and list(rows[0]) == ["row", "negative_elbo", "label"]


def test_vae_scores_noise_above_digits_and_bad_inputs_fail_cleanly(tmp_path):
    from gentk.data import digits

    run = tmp_path / "vae"
    result = run_cli("run", "vae", "-o", run, "--epochs", "15", *FAST[2:])
    assert result.returncode == 0, result.stderr
    x = digits().x[:100]
    noise = np.random.default_rng(0).random((100, 8, 8, 1)).astype("float32")
    np.savez(tmp_path / "mixed.npz", x=np.concatenate([x, noise]))
    scored = run_cli("score", run, "--data", tmp_path / "mixed.npz", "-o", tmp_path / "s.csv")
    assert scored.returncode == 0, scored.stderr
    scores = np.array([float(r["negative_elbo"]) for r in _rows(tmp_path / "s.csv")])
    assert np.mean(scores[100:] > np.median(scores[:100])) > 0.95  # noise is the anomaly

    np.savez(tmp_path / "wrong.npz", x=np.zeros((3, 5, 5, 1), "float32"))
    wrong = run_cli("encode", run, "--data", tmp_path / "wrong.npz", "-o", tmp_path / "c.npz")
    assert wrong.returncode == 2 and "do not match the model's input (8, 8, 1)" in wrong.stderr
    assert not (tmp_path / "c.npz").exists()
    (tmp_path / "junk.npz").write_text("not a zip")
    junk = run_cli("decode", run, tmp_path / "junk.npz", "-o", tmp_path / "d.npz")
    assert junk.returncode == 2 and len(error_lines(junk.stderr)) == 1
    label = run_cli("sample", run, "--label", "1")
    assert label.returncode == 2 and "not class-conditional" in label.stderr
