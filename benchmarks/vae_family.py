"""VAE family quality: test NLL of the VAE and the IWAE (K=5, K=50) at the same training budget,
VQ-VAE reconstruction error, and a linear autoencoder beside PCA at the same code size.

The likelihood models follow Burda et al. (2016, Table 1): one stochastic layer of 50 units,
two deterministic layers of 200 tanh units each side, Bernoulli pixels, dynamically binarised
training data (a fresh binarisation every epoch), a fixed binarisation of the test set, and
the test NLL estimated by importance sampling with ``--nll-samples`` proposals (5,000 there).
Their figures after ~3,280 passes over MNIST: VAE 86.76 nats, IWAE (K=50) 84.78 nats.

    python benchmarks/vae_family.py --dataset digits --epochs 200
    python benchmarks/vae_family.py --dataset mnist --epochs 10 --test-rows 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import mnist_files, table

from gentk.image_recipe import in_batches

BURDA = {"vae": 86.76, "iwae-50": 84.78}


def load(dataset: str, seed: int):
    from gentk.data import digits, load_images, split_indices

    if dataset == "digits":
        data = digits()
        tr, _, te = split_indices(len(data.x), 0.0, 0.2, seed)
        return data.x[tr], data.x[te], data.labels[tr], data.labels[te]
    train_path, test_path = mnist_files()
    train, test = load_images(train_path), load_images(test_path)
    return train.x, test.x, train.labels, test.labels


def binarised(x, seed):
    return (np.random.default_rng(seed).random(x.shape) < x).astype("float32")


def train_likelihood_model(kind, k, x_train, args):
    import keras
    import tensorflow as tf
    from gentk_autoencoders.components import MLPDecoder, MLPEncoder
    from gentk_vae.iwae import IWAE
    from gentk_vae.model import VAE

    keras.utils.set_random_seed(args.seed)
    hidden = tuple(args.hidden)
    encoder = MLPEncoder(args.latent, hidden=hidden, activation="tanh")
    decoder = MLPDecoder(x_train.shape[1:], hidden=hidden[::-1], activation="tanh")
    model = (IWAE if kind == "iwae" else VAE)(encoder, decoder, n_samples=k, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-4), jit_compile=False)

    def epoch_data(epoch):  # dynamic binarisation: a fresh Bernoulli draw every epoch
        xb = binarised(x_train, args.seed * 1000 + epoch)
        return tf.data.Dataset.from_tensor_slices(xb).shuffle(len(xb), seed=epoch).batch(100)

    model.build_on(epoch_data(0))
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.fit(epoch_data(epoch), epochs=1, verbose=0, shuffle=False)
    return model, time.perf_counter() - start


def nll(model, x, samples):
    lp = in_batches(lambda b: model.log_prob(b, n_samples=samples, batch_samples=500), x, size=100)
    return float(-np.mean(lp))


def linear_ae_vs_pca(x_train, x_test, code, seed):
    import keras
    from gentk_autoencoders.components import MLPDecoder, MLPEncoder
    from gentk_autoencoders.model import Autoencoder

    flat_tr, flat_te = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    mean = flat_tr.mean(0)
    _, _, vt = np.linalg.svd(flat_tr - mean, full_matrices=False)
    basis = vt[:code].T
    pca = np.mean(((flat_te - mean) @ basis @ basis.T + mean - flat_te) ** 2)
    keras.utils.set_random_seed(seed)
    ae = Autoencoder(
        MLPEncoder(code, hidden=(), distribution="deterministic"),
        MLPDecoder((flat_tr.shape[1],), hidden=(), likelihood="gaussian"),
    )
    ae.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    ae.fit(flat_tr, batch_size=128, epochs=60, verbose=0)
    lin = float(np.mean((np.asarray(ae(flat_te)) - flat_te) ** 2))
    return pca, lin


def vq_vae(x_train, x_test, args):
    import keras
    from gentk_vqvae.model import VQVAE

    keras.utils.set_random_seed(args.seed)
    filters = (32,) if x_train.shape[1] <= 8 else (32, 64)
    model = VQVAE(x_train.shape[1:], filters=filters, num_codes=64, code_dim=16, ema=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    start = time.perf_counter()
    model.fit(x_train, batch_size=128, epochs=max(1, args.epochs // 4), verbose=0)
    seconds = time.perf_counter() - start
    recon = in_batches(model, x_test, size=500)
    codes = np.asarray(model.encode(x_test[:1]))
    return float(np.mean((recon - x_test) ** 2)), seconds, int(np.prod(codes.shape[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--latent", type=int, default=50)
    parser.add_argument("--hidden", type=int, nargs="+", default=[200, 200])
    parser.add_argument("--nll-samples", type=int, default=5000)
    parser.add_argument("--test-rows", type=int, default=0, help="limit the NLL test set (0: all)")
    parser.add_argument("--models", nargs="+", default=["vae", "iwae-5", "iwae-50"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x_train, x_test, _, _ = load(args.dataset, args.seed)
    x_nll = binarised(x_test, 12345)
    if args.test_rows:
        x_nll = x_nll[: args.test_rows]
    print(
        f"dataset {args.dataset}: {len(x_train)} train, {len(x_nll)} test rows for the NLL; "
        f"{args.epochs} epochs; latent {args.latent}, hidden {args.hidden} tanh; "
        f"NLL with {args.nll_samples} importance samples",
        flush=True,
    )
    rows = []
    for name in args.models:
        kind, _, k = name.partition("-")
        model, seconds = train_likelihood_model(kind, int(k or 1), x_train, args)
        value = nll(model, x_nll, args.nll_samples)
        row = {"model": name, "test NLL (nats)": f"{value:.2f}", "train min": f"{seconds / 60:.1f}"}
        if args.dataset == "mnist" and name in BURDA:
            row["Burda et al."] = f"{BURDA[name]:.2f}"
            row["gap"] = f"{value - BURDA[name]:+.2f}"
        rows.append(row)
        print(table([row], list(row)), flush=True)
    print(table(rows, ["model", "test NLL (nats)", "train min", "Burda et al.", "gap"]))
    if "vae" in args.models and len(rows) > 1:
        base = float(rows[args.models.index("vae")]["test NLL (nats)"])
        for r in rows:
            print(
                f"{r['model']}: {base - float(r['test NLL (nats)']):+.2f} nats better than the VAE"
            )

    mse, seconds, cells = vq_vae(x_train, x_test, args)
    print(f"VQ-VAE trained {max(1, args.epochs // 4)} epochs in {seconds / 60:.1f} min")
    pca, lin = linear_ae_vs_pca(x_train, x_test, cells, args.seed)
    print(
        table(
            [
                {"model": f"VQ-VAE ({cells} codes of 64)", "test MSE": f"{mse:.5f}"},
                {"model": f"PCA, {cells} components", "test MSE": f"{pca:.5f}"},
                {
                    "model": f"linear AE, code {cells}",
                    "test MSE": f"{lin:.5f}",
                    "vs PCA": f"{lin / pca:.3f}",
                },
            ],
            ["model", "test MSE", "vs PCA"],
        )
    )


if __name__ == "__main__":
    main()
