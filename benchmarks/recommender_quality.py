"""Recommender quality: RecVAE, Mult-VAE and Mult-DAE beside popularity and EASE on one split.

Protocol (Liang et al., 2018): ratings >= 4 are positives, users with >= 5 positives, strong
generalisation with held-out validation and test users, 80/20 fold-in per held-out user.
EASE's lambda is tuned on the validation users. Prints Recall@20, Recall@50, NDCG@100 and the
ratios against EASE and popularity measured in the same run.

    python benchmarks/recommender_quality.py --dataset ml-1m --heldout 600 --epochs 100
    python benchmarks/recommender_quality.py --seed 1 2 3 --models recommender-vae
    python benchmarks/recommender_quality.py --models recommender-vae --grid dropout=0.5,0.6
    python benchmarks/recommender_quality.py --epochs 200 --seed 1 2 3 --models recommender-vae \
        --set dropout=0.7 --set latent_dim=50 --set hidden=1200 --grid "decoder_hidden=none,()"
    python benchmarks/recommender_quality.py --seed 1 2 3 --epochs 200 \
        --models recommender-recvae recommender-vae --set recommender-vae:epochs=100
    python benchmarks/recommender_quality.py --seed 1 2 3 --epochs 200 \
        --models recommender-recvae --recvae-src ../RecVAE --peer-python ../peer/bin/python

``--recvae-src`` adds the published RecVAE code (a checkout of
https://github.com/ilya-shenbin/RecVAE, run by ``peer_recvae.py`` under ``--peer-python``, an
interpreter with torch) on the same split, scored by the same metric code: the margin the
authors' own implementation reaches over EASE on this data.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import movielens_file, require_peer, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", default="ml-1m", choices=["ml-1m", "ml-100k", "ml-latest-small"]
    )
    parser.add_argument("--heldout", type=int, default=600, help="validation and test users each")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[98765],
        help="one or more seeds (split and initialisation); several give a mean and spread",
    )
    parser.add_argument("--models", nargs="+", default=["recommender-vae", "recommender-dae"])
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option override for the models; MODEL:KEY=VALUE for one model only",
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="try each value (all combinations of several --grid) and keep the model with the "
        "best validation NDCG@100, as EASE's lambda is picked",
    )
    parser.add_argument("--recvae-src", help="a checkout of the published RecVAE code (peer row)")
    parser.add_argument("--peer-python", help="an interpreter with torch, for --recvae-src")
    parser.add_argument(
        "--recvae-epochs", type=int, default=50, help="the published code's epochs (its README)"
    )
    parser.add_argument("--recvae-gamma", type=float, default=0.005, help="its README's gamma")
    args = parser.parse_args()
    if args.recvae_src and not args.peer_python:
        parser.error("--recvae-src needs --peer-python (an interpreter with torch)")
    if args.recvae_src and not (Path(args.recvae_src) / "model.py").is_file():
        parser.error(f"--recvae-src {args.recvae_src}: no model.py (a checkout of the RecVAE code)")
    if args.recvae_src:
        require_peer(args.peer_python, ["torch"])
    path = movielens_file(args.dataset)
    ratios: dict[str, list[float]] = {}
    for seed in args.seed:
        rows = evaluate_split(args, path, seed)
        for r in rows:
            key = r["model"]
            if key.startswith("EASE"):
                key = "EASE (lambda tuned per seed)"
            elif "[picked on validation]" in key:  # the picked options differ per seed
                key = key.split(" (")[0] + " (options picked on validation per seed)"
            ratios.setdefault(key, []).append(float(r["ndcg/EASE"]))
    if len(args.seed) > 1:
        summary = []
        for name, values in ratios.items():
            v = np.asarray(values)
            summary.append(
                {
                    "model": name,
                    "mean ndcg/EASE": f"{v.mean():.3f}",
                    "sd over seeds": f"{v.std(ddof=1) if len(v) > 1 else 0.0:.3f}",
                    "min": f"{v.min():.3f}",
                    "max": f"{v.max():.3f}",
                }
            )
        print(f"\nover seeds {' '.join(map(str, args.seed))}:")
        print(table(summary, ["model", "mean ndcg/EASE", "sd over seeds", "min", "max"]))


def evaluate_split(args, path, seed: int) -> list[dict]:
    """Train the models on one seeded split; print and return its table."""
    from gentk_recommender.evaluation import (
        model_scorer,
        pick_ease,
        popularity_scorer,
        ranking_metrics,
    )

    import gentk
    from gentk.training.runner import build_compiled_model, seed_everything

    registry = gentk.get_registry()
    rows, per_user = [], {}
    data = None
    grid = [[]]
    for spec in args.grid:  # every combination of the --grid values
        key, _, values = spec.partition("=")
        grid = [g + [f"{key}={v}"] for g in grid for v in values.split(",")]
    for name in args.models:
        recipe = registry.get("model", name).factory
        best = None
        mine = [o.split(":", 1)[1] for o in args.overrides if o.startswith(f"{name}:")]
        shared = [o for o in args.overrides if ":" not in o.split("=", 1)[0]]
        for combo in grid:
            overrides = [*shared, *mine, *combo]
            direct = {"validation_users": args.heldout, "test_users": args.heldout, "seed": seed}
            if not any(o.startswith("epochs=") for o in overrides):
                direct["epochs"] = args.epochs
            config = gentk.resolve_config(recipe.config, None, overrides, **direct)
            seed_everything(config.seed)
            data = recipe.load_data(config, str(path))
            model = build_compiled_model(recipe, config, data)
            with tempfile.TemporaryDirectory() as tmp:
                callbacks = recipe.callbacks(model, config, data, tmp)
                start = time.perf_counter()
                model.fit(
                    recipe.train_dataset(config, data),
                    epochs=config.epochs,
                    verbose=0,
                    callbacks=callbacks,
                    shuffle=False,
                )
                seconds = time.perf_counter() - start
                recipe.finish_training(model, config, data, tmp)
            val = callbacks[0]
            if len(grid) > 1:
                print(f"  {name} {' '.join(combo)}: validation NDCG@100 {val.best:.4f}", flush=True)
            if best is None or val.best > best[0]:
                best = (val.best, overrides, model, val, seconds, config)
        _, overrides, model, val, seconds, config = best
        label = name + (f" ({', '.join(overrides)})" if overrides else "")
        if len(grid) > 1:
            label += " [picked on validation]"
        if config.select_beta:
            label += f", best beta {val.best_beta:.2f}"
        per_user[label] = ranking_metrics(
            model_scorer(model), data.test_fold_in, data.test_targets, per_user=True
        )
        rows.append(
            {
                "model": label,
                "val ndcg": f"{val.best:.4f}",
                "best_epoch": val.best_epoch,
                "train_s": seconds,
                # training users x epochs / seconds of fit (the validation pass included)
                "users/s": f"{data.train.shape[0] * config.epochs / seconds:,.0f}",
            }
        )
    if args.recvae_src:
        label, row, scorer = published_recvae(args, data, seed)
        per_user[label] = ranking_metrics(
            scorer, data.test_fold_in, data.test_targets, per_user=True
        )
        rows.append(row)
    per_user["popularity"] = ranking_metrics(
        popularity_scorer(data.train), data.test_fold_in, data.test_targets, per_user=True
    )
    rows.append({"model": "popularity"})
    lam, scorer = pick_ease(data, (50, 100, 200, 500, 1000, 2000, 5000))
    ease_label = f"EASE (lambda={lam})"
    per_user[ease_label] = ranking_metrics(
        scorer, data.test_fold_in, data.test_targets, per_user=True
    )
    rows.append({"model": ease_label})
    ease = per_user[ease_label]["ndcg@100"]
    pop = per_user["popularity"]["ndcg@100"].mean()
    for r in rows:
        m = per_user[r["model"]]
        nd = m["ndcg@100"]
        # paired over the same test users: standard error of the ratio of means (delta method)
        diff = nd - ease * (nd.mean() / ease.mean())
        r["ndcg/EASE"] = f"{nd.mean() / ease.mean():.3f}"
        r["+-se"] = f"{diff.std(ddof=1) / np.sqrt(len(nd)) / ease.mean():.3f}"
        r["ndcg/pop"] = f"{nd.mean() / pop:.2f}"
        for k in ("recall@20", "recall@50", "ndcg@100"):
            r[k] = f"{m[k].mean():.4f}"
        if "train_s" in r:
            r["train_s"] = f"{r['train_s']:.1f}"
    print(
        f"dataset {args.dataset}: {data.stats['n_users']} users, {data.stats['n_items']} items,"
        f" {data.stats['n_interactions']} positives; {args.heldout} validation and "
        f"{args.heldout} test users; seed {seed}; {args.epochs} epochs"
    )
    print(
        table(
            rows,
            [
                "model",
                "recall@20",
                "recall@50",
                "ndcg@100",
                "ndcg/EASE",
                "+-se",
                "ndcg/pop",
                "val ndcg",
                "best_epoch",
                "train_s",
                "users/s",
            ],
        ),
        flush=True,
    )
    return rows


def published_recvae(args, data, seed: int):
    """(label, table row, scorer) of the published RecVAE code trained on ``data`` by
    ``peer_recvae.py`` under ``--peer-python``: its scores for the test users' fold-in rows."""
    from _common import run_peer

    arrays = {}
    for name, m in (
        ("train", data.train),
        ("val_in", data.validation_fold_in),
        ("val_out", data.validation_targets),
        ("test_in", data.test_fold_in),
    ):
        m = m.tocsr()
        arrays |= {f"{name}_indptr": m.indptr, f"{name}_indices": m.indices,
                   f"{name}_shape": np.asarray(m.shape)}  # fmt: skip
    spec = {"src": str(Path(args.recvae_src).resolve()), "seed": seed, "threads": 1,
            "hidden": 600, "latent": 200, "batch": 500, "lr": 5e-4, "enc_epochs": 3,
            "dec_epochs": 1, "gamma": args.recvae_gamma, "epochs": args.recvae_epochs}  # fmt: skip
    script = (Path(__file__).parent / "peer_recvae.py").read_text()
    result = run_peer(args.peer_python, script, spec, arrays, "published RecVAE")
    scores, at = result["out"], [0]

    def scorer(batch):  # ranking_metrics asks for the fold-in rows in order
        part = scores[at[0] : at[0] + batch.shape[0]]
        at[0] += batch.shape[0]
        return part

    label = f"RecVAE, published code ({args.recvae_epochs} epochs, gamma {args.recvae_gamma})"
    row = {"model": label, "val ndcg": f"{result['val_ndcg']:.4f}",
           "best_epoch": result["best_epoch"], "train_s": result["seconds"],
           "users/s": f"{data.train.shape[0] * args.recvae_epochs / result['seconds']:,.0f}"
           + f" ({result['threads']} thread)"}  # fmt: skip
    return label, row, scorer


if __name__ == "__main__":
    main()
