"""Anomaly detection on digits: train on every class but one, score the test set, AUROC of the
held-out class.

Detectors, each trained on the same rows: the VAE's negative ELBO (10 draws of z), the
autoencoder's reconstruction error, and as the baseline PCA's reconstruction error with the
same number of components as the autoencoder's code. Prints the AUROC per held-out class, the
mean, and each detector's ratio to the baseline.

    python benchmarks/anomaly_detection.py --epochs 60
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--code", type=int, default=8, help="code size of the AE, VAE and PCA")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import keras
    from gentk_autoencoders.components import MLPDecoder, MLPEncoder
    from gentk_autoencoders.model import Autoencoder
    from gentk_vae.model import VAE
    from sklearn.metrics import roc_auc_score

    from gentk.data import digits, split_indices

    data = digits()
    tr, _, te = split_indices(len(data.x), 0.0, 0.3, args.seed)
    rows = []
    for held in args.classes:
        train = data.x[tr][data.labels[tr] != held]
        test, is_anomaly = data.x[te], (data.labels[te] == held).astype(int)
        scores = {}
        keras.utils.set_random_seed(args.seed)
        vae = VAE(
            MLPEncoder(args.code, hidden=(256, 128)), MLPDecoder((8, 8, 1), hidden=(128, 256))
        )
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        vae.fit(train, batch_size=64, epochs=args.epochs, verbose=0)
        scores["VAE -ELBO"] = -np.asarray(vae.elbo(test, n_samples=10))
        keras.utils.set_random_seed(args.seed)
        ae = Autoencoder(
            MLPEncoder(args.code, hidden=(256, 128), distribution="deterministic"),
            MLPDecoder((8, 8, 1), hidden=(128, 256)),
        )
        ae.compile(optimizer=keras.optimizers.Adam(1e-3))
        ae.fit(train, batch_size=64, epochs=args.epochs, verbose=0)
        scores["AE recon. error"] = np.mean((np.asarray(ae(test)) - test) ** 2, axis=(1, 2, 3))
        flat, flat_te = train.reshape(len(train), -1), test.reshape(len(test), -1)
        mean = flat.mean(0)
        basis = np.linalg.svd(flat - mean, full_matrices=False)[2][: args.code].T
        recon = (flat_te - mean) @ basis @ basis.T + mean
        scores["PCA recon. error"] = np.mean((recon - flat_te) ** 2, axis=1)
        row = {"held-out class": held, "anomalies": int(is_anomaly.sum())}
        for name, s in scores.items():
            row[name] = roc_auc_score(is_anomaly, s)
        rows.append(row)
        print(
            f"class {held}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k in scores),
            flush=True,
        )
    names = ["VAE -ELBO", "AE recon. error", "PCA recon. error"]
    mean_row = {"held-out class": "mean", "anomalies": ""}
    for n in names:
        mean_row[n] = float(np.mean([r[n] for r in rows]))
    ratio_row = {"held-out class": "mean / PCA", "anomalies": ""}
    for n in names:
        ratio_row[n] = mean_row[n] / mean_row["PCA recon. error"]
    out = []
    for r in [*rows, mean_row, ratio_row]:
        out.append({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in r.items()})
    print(f"digits, trained on 9 classes, {args.epochs} epochs, code size {args.code}; AUROC:")
    print(table(out, ["held-out class", "anomalies", *names]))


if __name__ == "__main__":
    main()
