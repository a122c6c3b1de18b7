"""Normalizing flows: test NLL against classical density estimators fitted in the same run,
bits/dim on images, and training speed with and without XLA.

``toy``: two moons, rings, checkerboard (4,000 points, 80/10/10 split). Each flow recipe's test
NLL (nats) beside a full-covariance Gaussian and a Gaussian mixture (components picked on the
validation split) fitted on the same training points.

``tabular``: scikit-learn's bundled tables (wine, breast cancer, diabetes; standardised inside
the flow, so NLL is in the data's units), same baselines.

``prior``: the VAE on digits with the standard-normal prior, with RealNVP and MAF flow
priors, and with an IAF posterior (same encoder, decoder, epochs and seed): test NLL (1,000
importance samples) and the gain over the standard-normal prior with a Gaussian posterior.

``images``: digits (17 grey levels) or MNIST from ../shared/data: test bits/dim of RealNVP and
Glow (vector flows on flattened images) beside a full-covariance Gaussian in the same logit
space (same dequantisation, same accounting); training examples/s with and without XLA.
Published MNIST references (conv multiscale flows, 784 dims): RealNVP 1.06, Glow 1.05,
FFJORD 0.99 bits/dim (Grathwohl et al., 2019, table 2).

    python benchmarks/flows.py toy --epochs 100
    python benchmarks/flows.py tabular --epochs 200
    python benchmarks/flows.py images --dataset digits --epochs 100
    python benchmarks/flows.py prior --epochs 60
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np
from _common import mnist_files, table

FLOWS = ("nice", "realnvp", "glow", "maf", "iaf", "nsf")


def _run(name, data, epochs, overrides=(), seed=0):
    import gentk
    from gentk.plugins import get_registry

    recipe = get_registry().get("model", name).factory
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = gentk.run(
            recipe, data=data, output=f"{out}/run", verbose=0, epochs=epochs, seed=seed,
            overrides=list(overrides),
        )  # fmt: skip
        return result, time.perf_counter() - started


def _splits(x, seed=0):
    from gentk.data import split_indices

    tr, va, te = split_indices(len(x), 0.1, 0.1, seed)
    return x[tr], x[va], x[te]


def _gaussian_nll(train, test):
    from scipy.stats import multivariate_normal

    cov = np.cov(train, rowvar=False)
    cov = cov + 1e-6 * np.diag(np.diag(cov))  # a ridge relative to each feature's scale
    return float(-multivariate_normal(train.mean(0), cov, allow_singular=True).logpdf(test).mean())


def _gmm_nll(train, valid, test):
    from sklearn.mixture import GaussianMixture

    best = None
    for k in (1, 2, 5, 10, 20, 40):
        if k > len(train) // 10:
            break
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=0)
        gmm.fit(train)
        score = gmm.score(valid)
        if best is None or score > best[0]:
            best = (score, k, gmm)
    return float(-best[2].score(test)), best[1]


def _density_rows(name, loader, args):
    from gentk.data.tabular import TabularData

    data = loader()
    x = np.asarray(data.x, dtype=np.float64)
    train, valid, test = _splits(x)
    gmm, k = _gmm_nll(train, valid, test)
    row = {"data": name, "dims": x.shape[1], "gaussian": f"{_gaussian_nll(train, test):.3f}",
           "gmm (k on valid)": f"{gmm:.3f} (k={k})"}  # fmt: skip
    for flow in args.flows:
        result, seconds = _run(flow, TabularData(x.astype(np.float32), None, None, name),
                               args.epochs)  # fmt: skip
        row[flow] = f"{result.metrics['test_nll']:.3f}"
        row[f"{flow} s"] = f"{seconds:.0f}"
    return row


def toy(args):
    from gentk_flows.datasets import checkerboard, rings, two_moons

    from gentk.data.builtin import gaussian_ring

    sets = {"two-moons": two_moons, "rings": rings, "checkerboard": checkerboard,
            "gaussian-ring": gaussian_ring}  # fmt: skip
    rows = [_density_rows(name, sets[name], args) for name in args.data]
    print(f"test NLL in nats (lower is better), {args.epochs} epochs, seed 0")
    print(table(rows, list(rows[0])))


def tabular(args):
    from sklearn import datasets

    from gentk.data.tabular import TabularData

    def loader(fn):
        return lambda: TabularData(fn().data.astype(np.float32), None, None, "")

    sets = {
        "wine": loader(datasets.load_wine),
        "breast-cancer": loader(datasets.load_breast_cancer),
        "diabetes": loader(datasets.load_diabetes),
    }
    rows = [_density_rows(name, sets[name], args) for name in args.data if name in sets]
    print(f"test NLL in nats (lower is better), {args.epochs} epochs, seed 0")
    print(table(rows, list(rows[0])))


def _logit_gaussian_bpd(train, test, levels, alpha, rng):
    """Bits/dim of a full-covariance Gaussian in the flows' logit space (same dequantisation
    and Jacobian accounting as ``FlowModel``)."""
    from scipy.stats import multivariate_normal

    def to_logit(x):
        x = (np.round(x * (levels - 1)) + rng.uniform(size=x.shape)) / levels
        y = alpha + (1 - 2 * alpha) * x
        logit = np.log(y) - np.log1p(-y)
        log_jac = np.sum(np.log(1 - 2 * alpha) - np.log(y) - np.log1p(-y), axis=1)
        return logit, log_jac

    a, _ = to_logit(train.reshape(len(train), -1))
    b, jac = to_logit(test.reshape(len(test), -1))
    cov = np.cov(a, rowvar=False) + 1e-4 * np.eye(a.shape[1])
    nll = float(-(multivariate_normal(a.mean(0), cov).logpdf(b) + jac).mean())
    dims = a.shape[1]
    return (nll + dims * math.log(levels)) / (dims * math.log(2))


def _image_data(args):
    """(all images, name): digits, or MNIST's training images from ../shared/data (the first
    ``--limit``); the benchmark splits them 80/10/10 itself."""
    from gentk.data import digits, load_images

    if args.dataset == "digits":
        x = digits().x
    else:
        train_path, _ = mnist_files()
        x = load_images(train_path).x
    return (x[: args.limit] if args.limit else x), args.dataset


def images(args):
    from gentk.data.images import ImageData

    x, name = _image_data(args)
    train, _, test = _splits(x)
    rng = np.random.default_rng(0)
    base = _logit_gaussian_bpd(train, test, 17 if name == "digits" else 256, 0.05, rng)
    rows = [{"model": "full-covariance Gaussian (logit space)", "test bits/dim": f"{base:.3f}"}]
    source = ImageData(x, None, name)
    for flow in ("realnvp", "glow"):
        for xla in {"both": (False, True), "off": (False,), "on": (True,)}[args.xla]:
            result, seconds = _run(
                flow, source, args.epochs, [f"jit_compile={str(xla).lower()}"] + args.set
            )
            n = len(result.data.train) * args.epochs
            rows.append({
                "model": f"{flow}{' (XLA)' if xla else ''}",
                "test bits/dim": f"{result.metrics['test_bits_per_dim']:.3f}",
                "examples/s": f"{n / result.metrics['train_seconds_this_session']:,.0f}",
                "minutes": f"{seconds / 60:.1f}",
            })  # fmt: skip
    print(f"{name}: {x.shape[0]} images, {args.epochs} epochs, options {args.set or 'defaults'}")
    print(table(rows, ["model", "test bits/dim", "examples/s", "minutes"]))


def prior(args):
    rows, base = [], None
    variants = [("standard-normal", "gaussian"), ("realnvp", "gaussian"), ("maf", "gaussian"),
                ("standard-normal", "iaf,reverse")]  # fmt: skip
    from gentk.data.images import ImageData

    x, dataset = _image_data(args)
    data = ImageData(x, None, dataset)
    for name, posterior in variants:
        result, seconds = _run(
            "vae", data, args.epochs, [f"prior={name}", f"posterior={posterior}"] + args.set
        )
        nll = result.metrics["test_nll"]
        base = nll if base is None else base
        rows.append({
            "prior": name, "posterior": posterior, "test NLL (nats)": f"{nll:.2f}",
            "gain over N(0, I) + gaussian": f"{base - nll:+.2f}", "minutes": f"{seconds / 60:.1f}",
        })  # fmt: skip
    print(f"VAE on {dataset} ({len(x)} images), {args.epochs} epochs, seed 0, options "
          f"{args.set or 'the recipe defaults'}")  # fmt: skip
    print(table(rows, list(rows[0])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("toy", "tabular", "images", "prior"):
        p = sub.add_parser(mode)
        p.add_argument("--epochs", type=int, default=100)
        p.add_argument("--flows", nargs="+", default=list(FLOWS))
        p.add_argument("--set", action="append", default=[], help="KEY=VALUE for every flow")
    sub.choices["toy"].add_argument(
        "--data", nargs="+", default=["two-moons", "rings", "checkerboard", "gaussian-ring"]
    )
    sub.choices["tabular"].add_argument(
        "--data", nargs="+", default=["wine", "breast-cancer", "diabetes"]
    )
    for mode in ("images", "prior"):
        sub.choices[mode].add_argument("--dataset", choices=["digits", "mnist"], default="digits")
        sub.choices[mode].add_argument("--limit", type=int, default=0, help="first N images")
    sub.choices["images"].add_argument(
        "--xla", choices=["both", "off", "on"], default="both", help="jit_compile settings to run"
    )
    args = parser.parse_args()
    {"toy": toy, "tabular": tabular, "images": images, "prior": prior}[args.mode](args)


if __name__ == "__main__":
    main()
