"""GAN family quality and speed, printed as tables; every figure has its baseline from the same run.

``toy``: the ring of 8 and the grid of 25 Gaussians (std 0.05). For each loss and trick, over
several seeds: modes covered and the high-quality share (within 3 std of a mode), mean +- sd,
beside the same figures for real data (the ceiling).

``variants``: every GAN recipe on the ring of 8 with its own defaults, as ``gentk run NAME --data
gaussian-ring`` trains it (the defaults for 2-D points, ``Recipe.data_defaults``): modes covered,
high-quality share and seconds per run over several seeds, beside real data.

``images``: digits (or MNIST from ../shared/data): Fréchet distance and k-NN precision/recall in
the feature space of a classifier trained on the held-out rows of the same data, for DCGAN
(non-saturating), WGAN-GP and hinge + spectral norm, beside the real-vs-real floor (two disjoint
sets of training rows), with FD's bootstrap standard error and KID; training images/s with and
without XLA, and epochs and minutes.

``ssgan``: the semi-supervised GAN's test accuracy with ``labelled`` labelled digits, with the
divergence's generator loss and with feature matching (Salimans et al. 2016), beside the same
critic trained on the labelled examples alone in the same run, over several seeds.

    python benchmarks/gan_family.py toy --epochs 160 --seeds 1 2 3
    python benchmarks/gan_family.py toy --data grid-25 --n 40000 --batch-size 256 --epochs 100 \
        --set "hidden=(256,256,256)"        # the grid at a budget where the losses learn it
    python benchmarks/gan_family.py variants --seeds 1 2 3
    python benchmarks/gan_family.py images --dataset digits --epochs 60
    python benchmarks/gan_family.py ssgan --labelled 100 --epochs 60 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from _common import mnist_files, table

TOY = {
    "nonsaturating": [],
    "minimax": ["divergence=minimax"],
    "wgan-gp": ["divergence=wasserstein", "gradient_penalty=0.1", "critic_steps=5"],
    "hinge+sn": ["divergence=hinge", "spectral_norm=true"],
    "least-squares": ["divergence=least-squares"],
    "ns+minibatch-std": ["minibatch_std=true"],
    "ns+instance-noise": ["instance_noise=0.3"],
    "ns+label-smoothing": ["label_smoothing=0.1"],
    "ns+ema": ["ema_decay=0.999"],
    "f-hellinger": ["divergence=f-hellinger"],
    "f-kl": ["divergence=f-kl"],
}
IMAGES = {
    "dcgan (non-saturating)": ("dcgan", []),
    "wgan-gp": ("wgan-gp", []),
    "hinge + spectral norm": ("sngan", []),
}


def _run(name, overrides, epochs, seed, data=None):
    import gentk
    from gentk.plugins import get_registry

    recipe = get_registry().get("model", name).factory
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = gentk.run(
            recipe,
            data=data,
            output=f"{out}/run",
            verbose=0,
            epochs=epochs,
            seed=seed,
            overrides=overrides,
        )
        return result.metrics, time.perf_counter() - started, len(result.data.train)


VARIANTS = ("gan", "dcgan", "wgan", "wgan-gp", "sngan", "lsgan", "fgan", "cgan", "acgan", "ssgan")


def variants(args):
    """Each recipe with no option set, on the ring every run of it would read."""
    from gentk.data import gaussian_ring

    rows, real = [], None
    for name in args.only or VARIANTS:
        covered, quality, seconds = [], [], []
        for seed in args.seeds:
            metrics, took, _ = _run(name, [], None, seed, gaussian_ring())
            covered.append(metrics["modes_covered"])
            quality.append(metrics["high_quality_share"])
            seconds.append(took)
            real = (metrics["real_modes_covered"], metrics["real_high_quality_share"])
        rows.append(
            {
                "recipe": name,
                "modes covered": _mean_sd(covered),
                "high-quality share": _mean_sd(quality),
                "seconds per run": f"{np.mean(seconds):.1f}",
            }
        )
        print(rows[-1], flush=True)
    rows.append({"recipe": "real data (ceiling)", "modes covered": f"{real[0]}",
                 "high-quality share": f"{real[1]:.2f}"})  # fmt: skip
    print(f"\nthe ring of 8 (gentk.data.gaussian_ring()), each recipe's defaults, seeds "
          f"{args.seeds}")  # fmt: skip
    print(table(rows, ["recipe", "modes covered", "high-quality share", "seconds per run"]))


def _mean_sd(values):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.2f} +- {values.std():.2f}"


def toy(args):
    """Mean +- sd over the seeds whose run finished; a run whose loss became NaN is listed
    under ``diverged`` instead."""
    from gentk.data import gaussian_grid, gaussian_ring
    from gentk.errors import TrainingError

    rows = []
    sets = {"ring-8": gaussian_ring, "grid-25": gaussian_grid}
    tricks = {k: v for k, v in TOY.items() if not args.only or k in args.only}
    for dataset, loader in ((k, v) for k, v in sets.items() if k in args.data):
        real = None
        for trick, overrides in tricks.items():
            covered, quality, diverged = [], [], []
            for seed in args.seeds:
                data = loader(n=args.n, seed=seed)
                try:
                    metrics, _, _ = _run(
                        "gan",
                        [*args.set, *overrides, f"batch_size={args.batch_size}",
                         "jit_compile=false"],
                        args.epochs,
                        seed,
                        data,
                    )  # fmt: skip
                except TrainingError as err:  # a NaN loss: gentk's guard stopped the run
                    diverged.append(f"seed {seed}: {str(err).split(';')[0]}")
                    continue
                covered.append(metrics["modes_covered"])
                quality.append(metrics["high_quality_share"])
                real = (metrics["real_modes_covered"], metrics["real_high_quality_share"])
            rows.append(
                {
                    "data": dataset,
                    "loss / trick": trick,
                    "modes covered": _mean_sd(covered) if covered else "-",
                    "high-quality share": _mean_sd(quality) if quality else "-",
                    "diverged": "; ".join(diverged) or "0",
                }
            )
            print(rows[-1], flush=True)
        if real is None:  # every run diverged
            continue
        rows.append(
            {
                "data": dataset,
                "loss / trick": "real data (ceiling)",
                "modes covered": f"{real[0]}",
                "high-quality share": f"{real[1]:.2f}",
                "diverged": "",
            }
        )
    print()
    updates = args.epochs * -(-int(0.8 * args.n) // args.batch_size)
    options = args.set or "the defaults"
    print(f"{args.epochs} epochs of {args.n} points (about {updates:,} updates), seeds "
          f"{args.seeds}, batch {args.batch_size}, options {options}")  # fmt: skip
    print(table(rows, ["data", "loss / trick", "modes covered", "high-quality share", "diverged"]))


def images(args):
    data = None
    if args.dataset == "mnist":
        data = str(mnist_files()[0])
    rows = []
    for label, (name, overrides) in IMAGES.items():
        for jit in (False,) if args.no_xla else (False, True):
            metrics, seconds, n = _run(
                name, [*overrides, f"jit_compile={str(jit).lower()}"], args.epochs, args.seed, data
            )
            fd = next(
                k for k in metrics if k.startswith("fd_") and not k.endswith(("floor", "_se"))
            )
            train = metrics["train_seconds_this_session"]
            rows.append(
                {
                    "model": label,
                    "XLA": "on" if jit else "off",
                    fd: f"{metrics[fd]:.2f} +- {metrics[fd + '_se']:.2f}",
                    "FD floor": f"{metrics[fd + '_real_floor']:.2f}",
                    "KID": f"{metrics['kid' + fd[2:]]:.4f}",
                    "precision": f"{metrics['precision']:.3f}",
                    "recall": f"{metrics['recall']:.3f}",
                    "P/R floor": f"{metrics['precision_real_floor']:.3f}/"
                    f"{metrics['recall_real_floor']:.3f}",
                    "images/s": f"{n * args.epochs / train:,.0f}",
                    "minutes": f"{seconds / 60:.1f}",
                }
            )
            print(rows[-1], flush=True)
    fd_key = next(k for k in rows[0] if k.startswith("fd_"))
    base = float(rows[0]["images/s"].replace(",", ""))
    for r in rows:
        r["speed vs dcgan no-XLA"] = f"{float(r['images/s'].replace(',', '')) / base:.2f}x"
    print()
    print(f"{args.dataset}, {args.epochs} epochs, seed {args.seed}")
    columns = ["model", "XLA", fd_key, "FD floor", "KID", "precision", "recall", "P/R floor"]
    print(table(rows, [*columns, "images/s", "speed vs dcgan no-XLA", "minutes"]))


def ssgan(args):
    rows = []
    variants = {"ssgan": [], "ssgan + feature matching": ["feature_matching=true"]}
    for label, overrides in variants.items():
        accuracy, alone, minutes = [], [], []
        for seed in args.seeds:
            metrics, seconds, _ = _run(
                "ssgan", [*overrides, f"labelled={args.labelled}"], args.epochs, seed
            )
            accuracy.append(metrics["test_classifier_accuracy"])
            alone.append(metrics["supervised_only_accuracy"])
            minutes.append(seconds / 60)
        rows.append({
            "model": label, "test accuracy": _mean_sd(np.array(accuracy) * 100),
            "labelled only (same critic)": _mean_sd(np.array(alone) * 100),
            "minutes per run": f"{np.mean(minutes):.1f}",
        })  # fmt: skip
        print(rows[-1], flush=True)
    print()
    print(f"digits, labelled={args.labelled}, {args.epochs} epochs, seeds {args.seeds}, accuracy %")
    print(table(rows, list(rows[0])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("toy", help="modes covered on 2-D mixtures")
    # 160 epochs of 3,200 points in batches of 128: 4,000 updates; at 60 (1,500 updates) the
    # losses had not converged (0-8 modes, 0-42% high-quality samples)
    t.add_argument("--epochs", type=int, default=160)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    t.add_argument("--data", nargs="+", default=["ring-8", "grid-25"], help="ring-8, grid-25")
    t.add_argument("--only", nargs="+", help=f"some of: {', '.join(TOY)}")
    t.add_argument("--n", type=int, default=4000, help="points per data set (80%% train)")
    t.add_argument("--set", nargs="+", default=[], help="options for every run: KEY=VALUE")
    v = sub.add_parser("variants", help="every GAN recipe on the ring with its defaults")
    v.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    v.add_argument("--only", nargs="+", help=f"some of: {', '.join(VARIANTS)}")
    i = sub.add_parser("images", help="FD / precision / recall on digits or MNIST")
    i.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    i.add_argument("--epochs", type=int, default=60)
    i.add_argument("--seed", type=int, default=1)
    i.add_argument("--no-xla", action="store_true", help="skip the XLA runs")
    s = sub.add_parser("ssgan", help="semi-supervised accuracy, with and without feature matching")
    s.add_argument("--labelled", type=int, default=100)
    s.add_argument("--epochs", type=int, default=60)
    s.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    {"toy": toy, "variants": variants, "images": images, "ssgan": ssgan}[args.what](args)


if __name__ == "__main__":
    main()
