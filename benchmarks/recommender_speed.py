"""Recommender speed: users/s and peak memory of dense vs sparse batches, with and without XLA,
and how the time per epoch grows with the number of users (planted low-rank synthetic data).

Each configuration runs in its own process so that its peak resident memory is its own.

    python benchmarks/recommender_speed.py real --dataset ml-1m
    python benchmarks/recommender_speed.py real --hidden 1200 --latent-dim 50 --linear-decoder
    python benchmarks/recommender_speed.py scaling --items 20000 --users 10000 100000 1000000
    python benchmarks/recommender_speed.py scaling --items 20108 --users 136677 --per-user 73 \
        --modes sparse --batches 40 --eval-users 10000        # shaped like ML-20M
    python benchmarks/recommender_speed.py child --source planted --n-users 136677 \
        --items 20108 --per-user 73 --eval-users 10000 --ease  # EASE at that shape
    python benchmarks/recommender_speed.py sampled --items 20000 200000 --negatives 1000 10000
    python benchmarks/recommender_speed.py peer --peer-python /path/to/venv/bin/python
    python benchmarks/recommender_speed.py workers --workers 1 2 4 --items 20000 200000 1000000
    python benchmarks/recommender_speed.py planted-quality --items 1000000 --negatives 1000
    python benchmarks/recommender_speed.py ranking --items 20000 200000 1000000
    python benchmarks/recommender_speed.py planted-quality --items 200000 --item-bias zeros auto

``planted-quality``: NDCG@100 and users/s of the full softmax against the sampled one on a
planted catalogue (held-out users, 80/20 fold-in, popularity beside), [I-100-50-100-I];
``--item-bias`` adds a row per starting softmax bias (the recipe's ``item_bias``),
``--lazy-adam true false`` a sampled row with dense Adam beside LazyAdam (the recipe's). Peak
resident memory once training ended (``train_peak_mb``: planted data, model, optimizer, steps)
and at the end (``peak_rss_mb``: evaluation's scores of 100 users x every item too).

``workers``: users/s of the multi-worker loop (``MultiWorkerMirroredStrategy`` on 127.0.0.1,
one process per worker, this machine's cores shared among them) for 1, 2 and 4 workers, beside
one process training with Keras' ``fit`` (no strategy): sparse batches of 500 users, sampled
softmax (1,000 items), [I-100-50-100-I], planted data; peak memory per worker.

``peer``: the epoch time of gentk's Mult-VAE (sparse batches, the CPU default, and dense)
against cornac's VAECF (PyTorch) at equal architecture [I-600-200-600-I], batch 500, on
ML-1M's training users, all measured in this run, and the fraction of this machine's GEMM
roofline (measured here too) each reaches, counting the FLOPs each one does (the sparse first
layer multiplies only the clicks that dropout kept).
cornac and torch are benchmark-only dependencies: install them into another environment
(``python -m venv peer && peer/bin/pip install cornac torch``) and pass its interpreter.

Quality of the sampled softmax: ``benchmarks/recommender_quality.py`` once as it is and once
with ``--set sampled_softmax=500`` (the same split and seeds; NDCG@100 as a fraction of EASE's).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp
from _common import epoch_timer, movielens_file, require_peer, table

from gentk.training.optimizers import FusedAdam, LazyAdam


def planted(
    n_users: int,
    n_items: int,
    per_user: int = 20,
    clusters: int = 50,
    seed: int = 0,
    sharpness: float = 0.8,
):
    """Clicks from a planted low-rank model: each user belongs to one of ``clusters`` tastes,
    each taste a softmax over items of a rank-8 score times ``sharpness``; drawn in bulk,
    never densified. At 1M items a taste spreads over about 13,700 items at sharpness 0.8 and
    370 at 1.2 (the inverse participation ratio)."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(clusters, 8)) @ rng.normal(size=(8, n_items)) * sharpness
    probs = np.exp(taste - taste.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    group = rng.integers(0, clusters, size=n_users)
    rows = np.repeat(np.arange(n_users), per_user)
    cols = np.empty(n_users * per_user, dtype=np.int64)
    for c in range(clusters):
        users = np.flatnonzero(group == c)
        picks = rng.choice(n_items, size=(len(users), per_user), p=probs[c])
        cols[(users[:, None] * per_user + np.arange(per_user)).ravel()] = picks.ravel()
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    m.sort_indices()
    return m


def measure(
    matrix,
    mode: str,
    jit: bool,
    batches: int | None,
    batch_size: int = 500,
    hidden: int = 600,
    latent_dim: int = 200,
    linear_decoder: bool = False,
    sampled: int = 0,
    epochs: int = 1,
    keras_adam: bool = False,
    held_out=None,
):
    """Users/s of one epoch (the mean of ``epochs`` timed epochs, after a warm-up); with
    ``held_out`` (a CSR of other users) the evaluation's users/s too: NDCG@100 and Recall@20/50
    of their 80/20 fold-in split, as a run's validation and test compute them."""
    import keras
    from gentk_recommender.data import sparse_batches
    from gentk_recommender.model import MultVAE

    keras.utils.set_random_seed(0)
    dense = mode == "dense"
    model = MultVAE(
        matrix.shape[1],
        (hidden,),
        latent_dim,
        anneal_steps=1000,
        decoder_hidden=() if linear_decoder else None,
        sampled_softmax=sampled,
    )
    # what `gentk run` uses: FusedAdam, LazyAdam with a sampled softmax
    adam = keras.optimizers.Adam if keras_adam else LazyAdam if sampled else FusedAdam
    model.compile(optimizer=adam(1e-3), jit_compile=jit and dense)
    ds = sparse_batches(matrix, batch_size, shuffle=True, dense=dense)
    run = ds if batches is None else ds.take(batches)
    # build, trace, compile; a whole epoch of real data, whose smaller last batch traces again
    model.fit(run if batches is None else ds.take(3), epochs=1, verbose=0, shuffle=False)
    n_users = matrix.shape[0] if batches is None else min(matrix.shape[0], batches * batch_size)
    timer = epoch_timer()
    model.fit(run, epochs=epochs, verbose=0, shuffle=False, callbacks=[timer])
    seconds = float(np.mean(timer.seconds))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"users_per_s": n_users / seconds, "seconds": seconds, "users": n_users,
           "peak_rss_mb": peak_mb}  # fmt: skip
    if held_out is not None:
        from gentk_recommender.data import fold_in_split
        from gentk_recommender.evaluation import model_scorer, ranking_metrics

        fold_in, targets = fold_in_split(held_out, 0.8, np.random.default_rng(0))
        start = time.perf_counter()
        ranking_metrics(model_scorer(model, dense=dense), fold_in, targets)
        out["eval_users_per_s"] = held_out.shape[0] / (time.perf_counter() - start)
        out["recommend_users_per_s"] = recommend_rate(model_scorer(model, dense=dense), fold_in)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def recommend_rate(scorer, fold_in) -> float:
    """Users/s of what ``gentk recommend`` does once the users are read: each user's top 100
    items (their own left out) ranked and written as ``user,item,rank,score,source`` rows."""
    import tempfile

    from gentk_recommender.evaluation import top_n
    from gentk_recommender.recipe import write_recommendations

    users = np.arange(fold_in.shape[0])
    item_ids = np.arange(fold_in.shape[1])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        idx, val = top_n(scorer, fold_in, 100)
        write_recommendations(f"{tmp}/recommendations.csv", users, item_ids, idx, val)
        return fold_in.shape[0] / (time.perf_counter() - start)


def ease_cost(matrix, held_out) -> dict:
    """Seconds to fit EASE (float32, lambda 1,000) on ``matrix`` and users/s of its evaluation
    on ``held_out`` (80/20 fold-in), with the peak resident memory."""
    from gentk_recommender.data import fold_in_split
    from gentk_recommender.evaluation import ease_scorer, ranking_metrics

    start = time.perf_counter()
    scorer = ease_scorer(matrix, 1000.0, np.float32)
    fit = time.perf_counter() - start
    out = {"ease_fit_s": fit}
    if held_out is not None:
        fold_in, targets = fold_in_split(held_out, 0.8, np.random.default_rng(0))
        start = time.perf_counter()
        ranking_metrics(scorer, fold_in, targets)
        out["eval_users_per_s"] = held_out.shape[0] / (time.perf_counter() - start)
        out["recommend_users_per_s"] = recommend_rate(scorer, fold_in)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def child(args):
    if args.source == "real":
        from gentk_recommender.data import prepare
        from gentk_recommender.recipe import RecommenderConfig

        from gentk import resolve_config

        config = resolve_config(RecommenderConfig, None, [], validation_users=600, test_users=600)
        matrix = prepare(config, str(movielens_file(args.dataset))).train
        batches = None
    else:
        everyone = planted(args.n_users + args.eval_users, args.items, per_user=args.per_user)
        matrix, held_out = everyone[: args.n_users], everyone[args.n_users :]
        batches = args.batches
    shape = dict(hidden=args.hidden, latent_dim=args.latent_dim, linear_decoder=args.linear_decoder)
    held_out = held_out if args.source != "real" and args.eval_users else None
    if args.ease:  # EASE (lambda 1,000, float32, as the recipe's baseline) on the same users
        return print(json.dumps(ease_cost(matrix, held_out)))
    print(json.dumps(measure(matrix, args.mode, args.jit, batches, sampled=args.sampled,
                             epochs=args.epochs, keras_adam=args.keras_adam, held_out=held_out,
                             **shape)))  # fmt: skip


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 GEMM speed (the roofline of the dense layers)."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def peer_table(args) -> None:
    import tempfile
    from pathlib import Path

    from gentk_recommender.data import prepare
    from gentk_recommender.recipe import RecommenderConfig

    from gentk import resolve_config

    config = resolve_config(RecommenderConfig, None, [], validation_users=600, test_users=600)
    matrix = prepare(config, str(movielens_file(args.dataset))).train
    users, items = matrix.shape
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.npz"
        np.savez(path, indptr=matrix.indptr, indices=matrix.indices)
        script = Path(__file__).with_name("peer_cornac.py")
        command = [args.peer_python, str(script), str(path), "--epochs", str(args.epochs)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        theirs = json.loads(out.stdout.strip().splitlines()[-1])
    common = ["--source", "real", "--dataset", args.dataset, "--epochs", str(args.epochs)]
    ours = {mode: spawn([*common, "--mode", mode])["seconds"] for mode in ("sparse", "dense")}
    ours["keras-adam"] = spawn([*common, "--mode", "sparse", "--keras-adam"])["seconds"]
    roofline = gemm_gflops()
    # FLOPs per user and update: forward 2mn per m x n layer, backward 4mn (2mn for the first
    # layer, whose input needs no gradient); a sparse first layer multiplies only the kept
    # clicks (dropout 0.5)
    middle = 6 * (600 * 400 + 200 * 600) + 6 * 600 * items
    dense_flops = 4 * items * 600 + middle
    sparse_flops = 4 * (0.5 * matrix.nnz / users) * 600 + middle
    rows = []
    for name, seconds, flops in (
        ("gentk Mult-VAE (sparse batches: the CPU default)", ours["sparse"], sparse_flops),
        ("  the same with Keras' Adam", ours["keras-adam"], sparse_flops),
        ("gentk Mult-VAE (dense batches, no XLA)", ours["dense"], dense_flops),
        ("cornac VAECF (torch, dense)", theirs["epoch_seconds"], dense_flops),
    ):
        gflops = flops * users / seconds / 1e9
        rows.append({
            "model": name, "epoch s": f"{seconds:.2f}", "users/s": f"{users / seconds:,.0f}",
            "GFLOP/s": f"{gflops:.1f}", "of roofline": f"{gflops / roofline:.0%}",
        })  # fmt: skip
    print(f"{args.dataset}: {users} training users, {items} items, [I-600-200-600-I], batch 500; "
          f"GEMM roofline {roofline:.0f} GFLOP/s, {dense_flops / 1e6:.1f} MFLOP per user per "
          f"update dense, {sparse_flops / 1e6:.1f} sparse; torch threads {theirs['threads']}; "
          f"mean of {args.epochs} timed epochs each")  # fmt: skip
    print(table(rows, list(rows[0])))
    for mode in ("sparse", "keras-adam", "dense"):
        print(f"gentk ({mode}) / cornac speed: {theirs['epoch_seconds'] / ours[mode]:.2f}x")


def worker_child(args) -> None:
    """One worker of the ``workers`` table (``TF_CONFIG`` set by the parent), or the plain
    one-process ``fit`` baseline with ``--plain``."""
    import os

    threads = int(os.environ.get("BENCH_THREADS", "0"))
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from gentk.training.multiworker import fit_distributed, multi_worker_strategy

    strategy = None if args.plain else multi_worker_strategy()
    import keras
    from gentk_recommender.data import sparse_batches
    from gentk_recommender.model import MultVAE

    keras.utils.set_random_seed(0)
    matrix = planted(args.n_users, args.items)
    ds = sparse_batches(matrix, 500, shuffle=True, dense=False)
    scope = strategy.scope() if strategy is not None else tf.distribute.get_strategy().scope()
    with scope:
        model = MultVAE(matrix.shape[1], (100,), 50, anneal_steps=1000, sampled_softmax=1000)
        adam = LazyAdam if args.lazy_adam == "true" else FusedAdam  # LazyAdam: the recipe's
        model.compile(optimizer=adam(1e-3), jit_compile=False)
        model(next(iter(ds)))
        model.optimizer.build(model.trainable_variables)

    timer = epoch_timer()  # the second epoch is timed: the first traces the step
    data = ds.take(args.batches)
    if strategy is None:
        model.fit(data, epochs=2, verbose=0, shuffle=False, callbacks=[timer])
    else:
        fit_distributed(model, strategy, data, epochs=2, verbose=0, callbacks=[timer])
    seconds = timer.seconds[-1]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


def workers_table(args) -> None:
    import os

    from gentk.cli.launch import tf_configs

    cores = os.cpu_count() or 1
    rows = []
    for n_items in args.items:
        base = None
        for workers in [0, *args.workers]:  # 0: one process with Keras' fit, no strategy
            count = max(workers, 1)
            threads = str(max(1, cores // count))
            command = [sys.executable, __file__, "worker-child", "--items", str(n_items),
                       "--n-users", str(args.users), "--batches", str(args.batches)]  # fmt: skip
            configs = tf_configs(count) if workers else [None]
            procs = []
            for config in configs:
                env = {**os.environ, "BENCH_THREADS": threads}
                env.pop("TF_CONFIG", None)
                if config is not None and workers > 1:
                    env["TF_CONFIG"] = config
                extra = ["--plain"] if workers == 0 else []
                pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                procs.append(subprocess.Popen(command + extra, env=env, text=True, **pipes))
            outs = []
            for p in procs:
                stdout, stderr = p.communicate()
                if p.returncode != 0:
                    last = stderr.strip().splitlines()[-1][:80] if stderr.strip() else "failed"
                    outs.append({"error": last})
                else:
                    outs.append(json.loads(stdout.strip().splitlines()[-1]))
            if any("error" in o for o in outs):
                rows.append(
                    {
                        "items": n_items,
                        "workers": workers or "fit",
                        "error": outs[0].get("error", ""),
                    }
                )
                continue
            seconds = max(o["seconds"] for o in outs)
            users_s = args.batches * 500 / seconds
            if workers == 1:
                base = users_s
            rows.append({
                "items": f"{n_items:,}", "workers": workers or "1 (fit)",
                "cores/worker": threads, "users/s": f"{users_s:,.0f}",
                "epoch s (20k users)": f"{args.users / users_s:.1f}",
                "peak MB/worker": f"{max(o['peak_rss_mb'] for o in outs):,.0f}",
                "vs 1 worker": f"{users_s / base:.2f}x" if base else "",
            })  # fmt: skip
        print(f"{n_items:,} items done", file=sys.stderr)
    print(f"multi-worker loop on 127.0.0.1, {cores} cores shared by the workers; planted users, "
          f"sparse batches of 500 (the global batch), sampled softmax 1,000, [I-100-50-100-I], "
          f"{args.batches} timed batches")  # fmt: skip
    cols = ["items", "workers", "cores/worker", "users/s", "epoch s (20k users)",
            "peak MB/worker", "vs 1 worker"]  # fmt: skip
    print(
        table(
            rows,
            [c for c in cols if any(c in r for r in rows)]
            + (["error"] if any("error" in r for r in rows) else []),
        )
    )


def planted_quality_child(args) -> None:
    import keras
    from gentk_recommender.data import fold_in_split, sparse_batches
    from gentk_recommender.evaluation import model_scorer, popularity_scorer, ranking_metrics
    from gentk_recommender.model import MultVAE
    from gentk_recommender.recipe import (
        RecommenderConfig,
        RecommenderRecipe,
        item_log_prior,
        proposal,
    )

    keras.utils.set_random_seed(0)
    matrix = planted(args.n_users + args.test_users, args.items, sharpness=args.sharpness)
    train, test = matrix[: args.n_users], matrix[args.n_users :]
    fold_in, targets = fold_in_split(test, 0.8, np.random.default_rng(0))
    prior = item_log_prior(
        RecommenderConfig(sampled_softmax=args.sampled, item_bias=args.item_bias), train
    )
    model = MultVAE(args.items, (100,), 50, anneal_steps=1000, sampled_softmax=args.sampled,
                    item_log_q=proposal(train, args.sampler_power),
                    item_log_prior=prior)  # fmt: skip
    config = RecommenderConfig(sampled_softmax=args.sampled, lazy_adam=args.lazy_adam == "true",
                               learning_rate=args.learning_rate)  # fmt: skip
    model.compile(optimizer=RecommenderRecipe().optimizer(config), jit_compile=False)
    ds = sparse_batches(train, args.batch_size, shuffle=True, dense=False)
    model(next(iter(ds)))  # built eagerly and the optimizer's state made, as `gentk run` does
    model.optimizer.build(model.trainable_variables)
    start = time.perf_counter()
    model.fit(ds, epochs=args.epochs, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    train_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ours = ranking_metrics(model_scorer(model, dense=False), fold_in, targets, batch_size=100)
    pop = ranking_metrics(popularity_scorer(train), fold_in, targets, batch_size=100)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"start": "zeros" if prior is None else "popularity",
                      "optimizer": type(model.optimizer).__name__,
                      "ndcg": ours["ndcg@100"], "pop_ndcg": pop["ndcg@100"],
                      "users_per_s": args.n_users * args.epochs / seconds,
                      "train_peak_mb": train_peak_mb, "peak_rss_mb": peak_mb}))  # fmt: skip


def planted_quality_table(args) -> None:
    from gentk_recommender.recipe import RecommenderConfig, item_start

    rows = []
    runs = []
    for negatives in [0, *args.negatives]:
        starts = {item_start(RecommenderConfig(sampled_softmax=negatives, item_bias=b))
                  for b in args.item_bias}  # fmt: skip
        for lazy in args.lazy_adam if negatives else ["true"]:
            runs += [(negatives, bias, lazy) for bias in sorted(starts, reverse=True)]
    for negatives, bias, lazy in runs:
        command = [sys.executable, __file__, "planted-quality-child", "--items",
                   str(args.items), "--n-users", str(args.users), "--test-users",
                   str(args.test_users), "--epochs", str(args.epochs), "--sampled",
                   str(negatives), "--sharpness", str(args.sharpness), "--batch-size",
                   str(args.batch_size), "--learning-rate", str(args.learning_rate),
                   "--sampler-power", str(args.sampler_power), "--item-bias", bias,
                   "--lazy-adam", lazy]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True)
        label = {"softmax": f"sampled {negatives}" if negatives else "full", "start": bias}
        if out.returncode != 0:
            last = out.stderr.strip().splitlines()[-1][:70] if out.stderr.strip() else "failed"
            rows.append({**label, "error": last})
            continue
        rows.append({**label, **json.loads(out.stdout.strip().splitlines()[-1])})
    full = next((dict(r) for r in rows if r["softmax"] == "full" and "ndcg" in r), None)
    for r in rows:
        if "ndcg" not in r:
            continue
        if full:
            r["ndcg / full"] = f"{r['ndcg'] / full['ndcg']:.3f}"
            r["speed / full"] = f"{r['users_per_s'] / full['users_per_s']:.2f}x"
            r["train peak / full"] = f"{r['train_peak_mb'] / full['train_peak_mb']:.2f}x"
            r["peak / full"] = f"{r['peak_rss_mb'] / full['peak_rss_mb']:.2f}x"
        for k in ("ndcg", "pop_ndcg"):
            r[k] = f"{r[k]:.4f}"
        r["users_per_s"] = f"{r['users_per_s']:,.0f}"
        r["peak_rss_mb"] = f"{r['peak_rss_mb']:,.0f}"
        r["train_peak_mb"] = f"{r['train_peak_mb']:,.0f}"
    print(f"planted catalogue of {args.items:,} items: {args.users:,} training users and "
          f"{args.test_users:,} held-out users (20 clicks each, 80/20 fold-in, sharpness "
          f"{args.sharpness}), sparse batches of {args.batch_size}, [I-100-50-100-I], Adam "
          f"{args.learning_rate}, {args.epochs} epochs; sampling proposal popularity^"
          f"{args.sampler_power}")  # fmt: skip
    cols = ["softmax", "start", "optimizer", "ndcg", "ndcg / full", "pop_ndcg", "users_per_s",
            "speed / full", "train_peak_mb", "train peak / full", "peak_rss_mb", "peak / full",
            "error"]  # fmt: skip
    print(table(rows, [c for c in cols if any(c in r for r in rows)]))


def ranking_table(args) -> None:
    """Top-100 per user: a stable sort of every row (what evaluation did) against
    ``rank_top_k`` (``tf.math.top_k``), best of 3, on the users that fit in ``MAX_SCORES``,
    the batch evaluation holds at once."""
    from gentk_recommender.evaluation import MAX_SCORES

    from gentk.metrics import rank_top_k

    rng = np.random.default_rng(0)
    rows = []
    for n_items in args.items:
        users = max(1, min(1000, MAX_SCORES // n_items))
        scores = rng.normal(size=(users, n_items)).astype(np.float32)
        timings = {}
        for name, rank in (("sort", lambda s: np.argsort(-s, axis=1, kind="stable")[:, :100]),
                           ("rank_top_k", lambda s: rank_top_k(s, 100))):  # fmt: skip
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                rank(scores)
                best = min(best, time.perf_counter() - start)
            timings[name] = best
        rows.append({"items": f"{n_items:,}", "users per batch": users,
                     "stable sort users/s": f"{users / timings['sort']:,.0f}",
                     "rank_top_k users/s": f"{users / timings['rank_top_k']:,.0f}",
                     "speed-up": f"{timings['sort'] / timings['rank_top_k']:.1f}x"})  # fmt: skip
    print("top-100 items per user from float32 scores (evaluation and recommendations)")
    print(table(rows, list(rows[0])))


def spawn(extra: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "child", *extra], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    real = sub.add_parser("real")
    real.add_argument("--dataset", default="ml-1m")
    c = sub.add_parser("child")
    for p in (real, c):
        p.add_argument("--hidden", type=int, default=600, help="encoder width")
        p.add_argument("--latent-dim", type=int, default=200)
        p.add_argument("--linear-decoder", action="store_true", help="decoder_hidden=()")
    scaling = sub.add_parser("scaling")
    scaling.add_argument("--items", type=int, default=20000)
    scaling.add_argument("--users", type=int, nargs="+", default=[10000, 100000, 1000000])
    scaling.add_argument("--per-user", type=int, default=20, help="clicks per user (ML-20M: 73)")
    scaling.add_argument("--eval-users", type=int, default=0, help="held-out users evaluated")
    scaling.add_argument("--modes", nargs="+", default=["dense", "sparse"])
    scaling.add_argument(
        "--batches",
        type=int,
        default=10,
        help="timed batches per size (the epoch time is extrapolated)",
    )
    peer = sub.add_parser("peer", help="gentk vs cornac's VAECF at equal architecture")
    peer.add_argument("--peer-python", required=True, help="an interpreter with cornac and torch")
    peer.add_argument("--dataset", default="ml-1m")
    peer.add_argument("--epochs", type=int, default=3, help="timed epochs of each")
    sampled = sub.add_parser("sampled", help="full vs sampled softmax on a planted catalogue")
    sampled.add_argument("--users", type=int, default=20000)
    sampled.add_argument("--items", type=int, nargs="+", default=[20000, 200000, 1000000])
    sampled.add_argument("--hidden", type=int, default=600)
    sampled.add_argument("--latent-dim", type=int, default=200)
    sampled.add_argument("--negatives", type=int, nargs="+", default=[1000, 10000])
    sampled.add_argument("--batches", type=int, default=5)
    workers = sub.add_parser("workers", help="the multi-worker loop on loopback")
    workers.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    workers.add_argument("--items", type=int, nargs="+", default=[20000, 200000, 1000000])
    workers.add_argument("--users", type=int, default=20000)
    workers.add_argument("--batches", type=int, default=10)
    ranking = sub.add_parser("ranking", help="top-100 per user: full sort vs tf.math.top_k")
    ranking.add_argument("--items", type=int, nargs="+", default=[20000, 200000, 1000000])
    pq = sub.add_parser("planted-quality", help="NDCG@100 of full vs sampled softmax")
    pq.add_argument("--items", type=int, default=1000000)
    pq.add_argument("--users", type=int, default=10000)
    pq.add_argument("--test-users", type=int, default=1000)
    pq.add_argument("--epochs", type=int, default=3)
    pq.add_argument("--negatives", type=int, nargs="+", default=[1000])
    pqc = sub.add_parser("planted-quality-child")
    for p in (pq, pqc):
        p.add_argument("--sharpness", type=float, default=1.2, help="how peaked the tastes are")
        p.add_argument("--batch-size", type=int, default=500)
        p.add_argument("--learning-rate", type=float, default=1e-3)
        p.add_argument("--sampler-power", type=float, default=0.75, help="as the recipe's")
    starts = ["auto", "popularity", "zeros"]
    pq.add_argument("--item-bias", nargs="+", default=["auto"], choices=starts,
                    help="starting softmax biases, a row each (auto: the recipe's)")  # fmt: skip
    pqc.add_argument("--item-bias", default="auto", choices=starts)
    pq.add_argument("--lazy-adam", nargs="+", default=["true"], choices=["true", "false"],
                    help="LazyAdam (true, the recipe's) or dense Adam")  # fmt: skip
    pqc.add_argument("--lazy-adam", default="true", choices=["true", "false"])
    pqc.add_argument("--items", type=int, default=1000000)
    pqc.add_argument("--n-users", type=int, default=10000)
    pqc.add_argument("--test-users", type=int, default=1000)
    pqc.add_argument("--epochs", type=int, default=3)
    pqc.add_argument("--sampled", type=int, default=0)
    wc = sub.add_parser("worker-child")
    wc.add_argument("--items", type=int, default=20000)
    wc.add_argument("--n-users", type=int, default=20000)
    wc.add_argument("--batches", type=int, default=10)
    wc.add_argument("--plain", action="store_true")
    wc.add_argument("--lazy-adam", default="true", choices=["true", "false"])
    cross = sub.add_parser("crossover")
    cross.add_argument("--users", type=int, default=20000)
    cross.add_argument("--items", type=int, nargs="+", default=[2000, 5000, 10000, 20000, 50000])
    cross.add_argument("--batches", type=int, default=8)
    c.add_argument("--source", default="real")
    c.add_argument("--dataset", default="ml-1m")
    c.add_argument("--mode", default="dense")
    c.add_argument("--jit", action="store_true")
    c.add_argument("--n-users", type=int, default=10000)
    c.add_argument("--items", type=int, default=20000)
    c.add_argument("--batches", type=int, default=10)
    c.add_argument("--sampled", type=int, default=0, help="sampled softmax negatives (0: full)")
    c.add_argument("--epochs", type=int, default=1, help="timed epochs (their mean)")
    c.add_argument("--keras-adam", action="store_true", help="Keras' Adam, not gentk's FusedAdam")
    c.add_argument("--per-user", type=int, default=20, help="planted clicks per user")
    c.add_argument("--eval-users", type=int, default=0, help="held-out users to evaluate")
    c.add_argument("--ease", action="store_true", help="fit and evaluate EASE instead")
    args = parser.parse_args()
    if args.command == "child":
        return child(args)
    if args.command == "worker-child":
        return worker_child(args)
    if args.command == "planted-quality-child":
        return planted_quality_child(args)
    if args.command == "ranking":
        return ranking_table(args)
    if args.command == "planted-quality":
        return planted_quality_table(args)
    if args.command == "workers":
        return workers_table(args)
    rows = []
    if args.command == "real":
        shape = ["--hidden", str(args.hidden), "--latent-dim", str(args.latent_dim)]
        shape += ["--linear-decoder"] if args.linear_decoder else []
        for mode, jit in (("dense", True), ("dense", False), ("sparse", False)):
            r = spawn(
                ["--source", "real", "--dataset", args.dataset, "--mode", mode, *shape]
                + (["--jit"] if jit else [])
            )
            rows.append({"batches": mode, "xla": jit, **r})
        base = rows[-1]["users_per_s"]
        decoder = "" if args.linear_decoder else f"-{args.hidden}"
        print(
            f"{args.dataset}: one full training epoch per configuration, batch 500 users, "
            f"Mult-VAE [I-{args.hidden}-{args.latent_dim}{decoder}-I]"
        )
    elif args.command == "peer":
        require_peer(args.peer_python, ["cornac", "torch"])
        return peer_table(args)
    elif args.command == "sampled":
        for n_items in args.items:
            group = []
            for negatives in [0, *args.negatives]:
                try:
                    r = spawn(["--source", "synthetic", "--n-users", str(args.users), "--items",
                               str(n_items), "--mode", "sparse", "--batches", str(args.batches),
                               "--sampled", str(negatives), "--hidden", str(args.hidden),
                               "--latent-dim", str(args.latent_dim)])  # fmt: skip
                except subprocess.CalledProcessError as err:  # the full softmax may not fit
                    last = err.stderr.splitlines()[-1][:60] if err.stderr else "failed"
                    r = {"users_per_s": float("nan"), "seconds": float("nan"),
                         "peak_rss_mb": float("nan"), "error": last}  # fmt: skip
                group.append({"items": n_items, "softmax": f"sampled {negatives}" if negatives
                              else "full", **r})  # fmt: skip
            for r in group:
                r["vs_full"] = f"{r['users_per_s'] / group[0]['users_per_s']:.2f}x"
            rows += group
        print(f"sampled softmax (LazyAdam) against the full one: {args.users} planted users, "
              f"sparse batches of 500, {args.batches} timed batches, Mult-VAE "
              f"[I-{args.hidden}-{args.latent_dim}-{args.hidden}-I]")  # fmt: skip
        for r in rows:
            for k in ("users_per_s", "seconds", "peak_rss_mb"):
                r[k] = f"{r[k]:.1f}"
        print(table(rows, ["items", "softmax", "users_per_s", "peak_rss_mb", "vs_full"]))
        return
    elif args.command == "crossover":
        for n_items in args.items:
            pair = []
            for mode in ("dense", "sparse"):
                r = spawn(
                    [
                        "--source",
                        "synthetic",
                        "--n-users",
                        str(args.users),
                        "--items",
                        str(n_items),
                        "--mode",
                        mode,
                        "--batches",
                        str(args.batches),
                    ]
                )
                pair.append({"items": n_items, "batches": mode, "xla": False, **r})
            for r in pair:
                r["vs_sparse"] = f"{r['users_per_s'] / pair[1]['users_per_s']:.2f}x"
            rows += pair
        print(f"crossover: {args.users} planted users, {args.batches} timed batches of 500")
        for r in rows:
            for k in ("users_per_s", "seconds", "peak_rss_mb"):
                r[k] = f"{r[k]:.1f}"
        print(
            table(rows, ["items", "batches", "users_per_s", "seconds", "peak_rss_mb", "vs_sparse"])
        )
        return
    else:
        for n in args.users:
            for mode in args.modes:
                r = spawn(["--source", "synthetic", "--n-users", str(n), "--items",
                           str(args.items), "--mode", mode, "--batches", str(args.batches),
                           "--per-user", str(args.per_user), "--eval-users",
                           str(args.eval_users)])  # fmt: skip
                r["epoch_s_extrapolated"] = n / r["users_per_s"]
                r["epoch_min"] = r["epoch_s_extrapolated"] / 60
                rows.append({"users_total": n, "batches": mode, "xla": False, **r})
        base = rows[0 if len(args.modes) == 1 else 1]["users_per_s"]  # the first sparse row
        print(
            f"planted low-rank data over {args.items} items, {args.per_user} clicks per user; "
            f"{args.batches} timed batches of 500 users per configuration, Mult-VAE "
            f"[I-600-200-600-I]; evaluation on {args.eval_users} other users"
        )
    for r in rows:
        r["vs_sparse_first"] = f"{r['users_per_s'] / base:.2f}x"
        for k in ("users_per_s", "seconds", "peak_rss_mb", "epoch_s_extrapolated", "epoch_min",
                  "eval_users_per_s", "recommend_users_per_s"):  # fmt: skip
            if k in r:
                r[k] = f"{r[k]:.1f}"
    cols = [
        c
        for c in (
            "users_total",
            "batches",
            "xla",
            "users_per_s",
            "seconds",
            "epoch_s_extrapolated",
            "epoch_min",
            "eval_users_per_s",
            "recommend_users_per_s",
            "peak_rss_mb",
            "vs_sparse_first",
        )
        if any(c in r for r in rows)
    ]
    print(table(rows, cols))


if __name__ == "__main__":
    main()
