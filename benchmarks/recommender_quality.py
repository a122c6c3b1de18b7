"""Recommender quality: Mult-VAE and Mult-DAE beside popularity and EASE on one split.

Protocol (Liang et al., 2018): ratings >= 4 are positives, users with >= 5 positives, strong
generalisation with held-out validation and test users, 80/20 fold-in per held-out user.
EASE's lambda is tuned on the validation users. Prints Recall@20, Recall@50, NDCG@100 and the
ratios against EASE and popularity measured in the same run.

    python benchmarks/recommender_quality.py --dataset ml-1m --heldout 600 --epochs 100
"""

from __future__ import annotations

import argparse
import time

from _common import movielens_file, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", default="ml-1m", choices=["ml-1m", "ml-100k", "ml-latest-small"]
    )
    parser.add_argument("--heldout", type=int, default=600, help="validation and test users each")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=98765)
    parser.add_argument("--models", nargs="+", default=["recommender-vae", "recommender-dae"])
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option override for the models",
    )
    args = parser.parse_args()

    from gentk_recommender.evaluation import (
        ease_scorer,
        model_scorer,
        popularity_scorer,
        ranking_metrics,
    )

    import gentk
    from gentk.training.runner import build_compiled_model, seed_everything

    path = movielens_file(args.dataset)
    registry = gentk.get_registry()
    rows = []
    data = None
    for name in args.models:
        recipe = registry.get("model", name).factory
        config = gentk.resolve_config(
            recipe.config,
            None,
            args.overrides,
            validation_users=args.heldout,
            test_users=args.heldout,
            epochs=args.epochs,
            seed=args.seed,
        )
        seed_everything(config.seed)
        data = recipe.load_data(config, str(path))
        model = build_compiled_model(recipe, config, data)
        import tempfile

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
        m = ranking_metrics(model_scorer(model), data.test_fold_in, data.test_targets)
        label = name + (f" ({', '.join(args.overrides)})" if args.overrides else "")
        if config.select_beta:
            label += f", best beta {callbacks[0].best_beta:.2f}"
        rows.append(
            {
                "model": label,
                **m,
                "best_epoch": callbacks[0].best_epoch,
                "train_s": round(seconds, 1),
            }
        )
    rows.append(
        {
            "model": "popularity",
            **ranking_metrics(popularity_scorer(data.train), data.test_fold_in, data.test_targets),
        }
    )
    best = None
    for lam in (50, 100, 200, 500, 1000, 2000, 5000):
        v = ranking_metrics(
            ease_scorer(data.train, lam), data.validation_fold_in, data.validation_targets
        )["ndcg@100"]
        if best is None or v > best[1]:
            best = (lam, v)
    rows.append(
        {
            "model": f"EASE (lambda={best[0]})",
            **ranking_metrics(
                ease_scorer(data.train, best[0]), data.test_fold_in, data.test_targets
            ),
        }
    )
    ease, pop = rows[-1]["ndcg@100"], rows[-2]["ndcg@100"]
    for r in rows:
        r["ndcg/EASE"] = f"{r['ndcg@100'] / ease:.3f}"
        r["ndcg/pop"] = f"{r['ndcg@100'] / pop:.2f}"
        for k in ("recall@20", "recall@50", "ndcg@100"):
            r[k] = f"{r[k]:.4f}"
    print(
        f"dataset {args.dataset}: {data.stats['n_users']} users, {data.stats['n_items']} items,"
        f" {data.stats['n_interactions']} positives; {args.heldout} validation and "
        f"{args.heldout} test users; seed {args.seed}; {args.epochs} epochs"
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
                "ndcg/pop",
                "best_epoch",
                "train_s",
            ],
        )
    )


if __name__ == "__main__":
    main()
