"""gentk's flows against zuko's at equal architecture and budget, end to end (#23 item 3).

On each 2-D data set (4,000 points, the same 80/10/10 split for both), NSF, MAF and RealNVP are
trained by gentk and by zuko with the same transforms and hidden sizes, batch 128, Adam(1e-3),
the same number of epochs, keeping the best validation epoch; both see the points standardised
with the training split's mean and deviation, and both NLLs are in the data's units (nats).
Each side's seconds are its whole run (build, tracing, training, selection, test NLL); the
steady epoch is the median epoch after the first.

zuko and torch are benchmark-only dependencies: install them into another environment
(``python -m venv peer && peer/bin/pip install torch zuko``) and pass its interpreter. Torch
gets one thread (``--torch-threads``), TensorFlow the machine's defaults.

    python benchmarks/flows_peer.py --peer-python ../peer/bin/python
    python benchmarks/flows_peer.py --peer-python P --data two-moons --flows maf --seeds 0 1 2
    python benchmarks/flows_peer.py --peer-python P --set scale_bound=7     # gentk options
    python benchmarks/flows_peer.py --peer-python P --paired --seeds 0 1 2 3 4 5 6 7 8 9 10 11
    python benchmarks/flows_peer.py --peer-python P --paired --data rings --epochs 150

``--paired`` trains MAF (on two moons unless ``--data`` names others) from the same start on
the same batches on both sides: zuko's initial weights are copied into gentk's MADEs, both
take the same 25 batches of 128 a epoch, and each epoch's validation NLL is compared (the best
epoch, and the test NLL at that epoch; standardised units), once per gentk ``scale_clamp``:
what is left of a difference is the model's or the optimizer's, not the draw of a start or of
an order. gentk's Adam takes torch's epsilon (1e-8) unless ``--epsilon`` says otherwise (Keras'
default: 1e-7); ``--own-start`` keeps gentk's own initial draw (seeded with the seed, on the
same batches), to separate the start from the rest.

Architectures: RealNVP = affine couplings with alternating halves (gentk: affine-coupling,
reverse; zuko: RealNVP), MAF = MADE affine layers with reversed orders (gentk: maf,reverse;
zuko: MAF), NSF = rational-quadratic spline couplings, 8 bins (gentk: spline-coupling,reverse;
zuko: NSF with passes=2, i.e. coupling).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import require_peer, run_gentk, run_peer, table

STEPS = {"realnvp": 4, "maf": 5, "nsf": 4}
SETS = ("two-moons", "checkerboard", "rings", "spirals")  # the keys of datasets()


def spirals(n=4000, seed=0):
    """Two interleaved spirals: a 2-D set none of gentk's defaults were tuned on."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(size=n)) * 3 * np.pi
    sign = np.where(rng.uniform(size=n) < 0.5, 1.0, -1.0)
    x = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], 1) / 3
    return (x + rng.normal(scale=0.1, size=x.shape)).astype(np.float32)


def datasets():
    from gentk_flows.datasets import checkerboard, rings, two_moons

    return {
        "two-moons": lambda: two_moons().x,
        "checkerboard": lambda: checkerboard().x,
        "rings": lambda: rings().x,
        "spirals": spirals,
    }


PEER = r"""
import json, statistics, sys, time
import numpy as np
import torch, zuko

args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
torch.manual_seed(args["seed"])
d = np.load(args["data"])
mean, std = d["train"].mean(0), d["train"].std(0)
train, valid, test = (torch.tensor((d[k] - mean) / std, dtype=torch.float32)
                      for k in ("train", "valid", "test"))
started = time.perf_counter()
hidden = tuple(args["hidden"])
if args["flow"] == "realnvp":
    flow = zuko.flows.RealNVP(2, transforms=args["steps"], hidden_features=hidden)
elif args["flow"] == "maf":
    flow = zuko.flows.MAF(2, transforms=args["steps"], hidden_features=hidden)
else:
    flow = zuko.flows.NSF(2, transforms=args["steps"], hidden_features=hidden, passes=2)
opt = torch.optim.Adam(flow.parameters(), lr=args["lr"])
g = torch.Generator().manual_seed(args["seed"])

def nll(x):
    with torch.no_grad():
        return float(-flow().log_prob(x).mean())

best, best_state, epochs = float("inf"), None, []
for epoch in range(args["epochs"]):
    t0 = time.perf_counter()
    for idx in torch.randperm(len(train), generator=g).split(args["batch"]):
        loss = -flow().log_prob(train[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    v = nll(valid)
    if v < best:
        best, best_state = v, {k: t.clone() for k, t in flow.state_dict().items()}
    epochs.append(time.perf_counter() - t0)
flow.load_state_dict(best_state)
test_nll = nll(test) + float(np.log(std).sum())
seconds = time.perf_counter() - started
print(json.dumps({"test_nll": test_nll, "seconds": seconds, "first_epoch": epochs[0],
                  "steady_epoch": statistics.median(epochs[1:] or epochs)}))
"""


def peer(python, flow, splits, args, seed) -> dict:
    spec = {"flow": flow, "steps": STEPS[flow], "hidden": args.hidden,
            "lr": args.learning_rate, "batch": args.batch_size, "epochs": args.epochs,
            "seed": seed, "threads": args.torch_threads}  # fmt: skip
    return run_peer(python, PEER, spec, splits, "zuko")


def ours(flow, x, args, seed) -> dict:
    from gentk.data.tabular import TabularData

    overrides = [f"batch_size={args.batch_size}", f"learning_rate={args.learning_rate}",
                 f"hidden={','.join(map(str, args.hidden))}", f"steps={STEPS[flow]}",
                 *args.overrides]  # fmt: skip
    data = TabularData(x, None, None, "peer")
    result, times = run_gentk(flow, data, args.epochs, seed, overrides)
    return {**times, "test_nll": result.metrics["test_nll"]}


PAIRED_PEER = r"""
import json, sys
import numpy as np
import torch, zuko

args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
torch.manual_seed(args["seed"])
d = np.load(args["data"])
train, valid, test = (torch.tensor(d[k]) for k in ("train", "valid", "test"))
flow = zuko.flows.MAF(2, transforms=args["steps"], hidden_features=tuple(args["hidden"]))
start = {k: v.tolist() for k, v in flow.state_dict().items() if not k.endswith(("mask", "order"))}
opt = torch.optim.Adam(flow.parameters(), lr=args["lr"])
vals, tests = [], []
for i, idx in enumerate(d["order"]):
    loss = -flow().log_prob(train[idx]).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if (i + 1) % args["per_epoch"] == 0:
        with torch.no_grad():
            vals.append(float(-flow().log_prob(valid).mean()))
            tests.append(float(-flow().log_prob(test).mean()))
print(json.dumps({"vals": vals, "tests": tests, "start": start}))
"""


def paired(args) -> None:
    """MAF on each of ``args.data`` from zuko's start on zuko's batches, per gentk
    ``scale_clamp``."""
    for name in args.data:
        paired_on(name, args)


def paired_on(name, args) -> None:
    """MAF on the data set ``name`` from zuko's start on zuko's batches."""
    import keras
    import tensorflow as tf

    from gentk.config import resolve_config
    from gentk.data import split_indices
    from gentk.data.tabular import TabularData
    from gentk.plugins import get_registry
    from gentk.training.optimizers import FusedAdam

    x = np.asarray(datasets()[name](), np.float32)
    recipe = get_registry().get("model", "maf").factory
    steps = STEPS["maf"]
    best = {c: [] for c in ("zuko", *args.clamps)}
    at_best = {c: [] for c in best}  # the test NLL at the best validation epoch
    for seed in args.seeds:
        tr, va, te = split_indices(len(x), 0.1, 0.1, seed)
        mean, std = x[tr].mean(0), x[tr].std(0)
        train, valid, test = ((x[i] - mean) / std for i in (tr, va, te))
        rng = np.random.default_rng(seed)
        per_epoch = len(train) // args.batch_size  # full batches only (3,200 / 128: 25)
        order = np.stack([batch[: args.batch_size] for _ in range(args.epochs)
                          for batch in np.array_split(rng.permutation(len(train)), per_epoch)])
        spec = {"seed": seed, "steps": steps, "hidden": args.hidden, "lr": args.learning_rate,
                "per_epoch": per_epoch, "threads": args.torch_threads}  # fmt: skip
        splits = {"train": train, "valid": valid, "test": test, "order": order}
        peer_run = run_peer(args.peer_python, PAIRED_PEER, spec, splits, "zuko")
        best["zuko"].append(min(peer_run["vals"]))
        at_best["zuko"].append(peer_run["tests"][int(np.argmin(peer_run["vals"]))])
        start = {k: np.asarray(v, np.float32) for k, v in peer_run["start"].items()}
        for clamp in args.clamps:
            overrides = [f"steps={steps}", f"hidden={','.join(map(str, args.hidden))}",
                         "standardize=false", f"scale_clamp={clamp}"]  # fmt: skip
            config = resolve_config(recipe.config, overrides=overrides)
            keras.utils.set_random_seed(seed)  # --own-start: gentk's draw for this seed
            model = recipe.build(config, recipe.load_data(config, TabularData(
                np.concatenate([train, valid]), None, None, "paired")))  # fmt: skip
            mafs = [layer for layer in reversed(model.flow_layers) if hasattr(layer, "made")]
            if not args.own_start:
                for i, layer in enumerate(mafs):  # data side first, as zuko's transforms
                    _copy_made(layer.made, start, f"transform.transforms.{i}.hyper", i % 2 == 1)
            model.compile(optimizer=FusedAdam(args.learning_rate, epsilon=args.epsilon))
            step = tf.function(model.train_step)
            vals, tests = [], []
            for i, idx in enumerate(order):
                step(tf.constant(train[idx]))
                if (i + 1) % per_epoch == 0:
                    vals.append(float(-tf.reduce_mean(model.log_prob(tf.constant(valid)))))
                    tests.append(float(-tf.reduce_mean(model.log_prob(tf.constant(test)))))
            best[clamp].append(min(vals))
            at_best[clamp].append(tests[int(np.argmin(vals))])
        print(seed, {k: (round(v[-1], 4), round(at_best[k][-1], 4)) for k, v in best.items()},
              flush=True)  # fmt: skip

    def paired_mean(figures, a, b):
        d = np.asarray(figures[a]) - np.asarray(figures[b])
        return f"{d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(len(d)):.4f}"

    start = "gentk's own start" if args.own_start else "zuko's start"
    print(f"\nMAF on {name}, {args.epochs} epochs, seeds {args.seeds}, {start}, zuko's "
          f"batches, gentk's Adam epsilon {args.epsilon}: the best validation NLL and the test "
          "NLL at that epoch (standardised units)")  # fmt: skip
    rows = [{"side": k, "validation NLL": f"{np.mean(v):.4f}",
             "minus zuko (paired)": "" if k == "zuko" else paired_mean(best, k, "zuko"),
             "test NLL": f"{np.mean(at_best[k]):.4f}",
             "test minus zuko (paired)": "" if k == "zuko" else paired_mean(at_best, k, "zuko")}
            for k, v in best.items()]  # fmt: skip
    print(table(rows, list(rows[0])))


def _copy_made(made, start, prefix, reversed_order):
    """zuko's MaskedMLP weights (``[out, in]``) into a gentk MADE (``[in, out]``). zuko's odd
    transforms take the features in reversed order where gentk reverses the vector between
    layers: their inputs and their outputs (shift and scale per feature) swap features."""
    w = [start[f"{prefix}.{k}.weight"].T for k in (0, 2, 4)]
    b = [start[f"{prefix}.{k}.bias"] for k in (0, 2, 4)]
    if reversed_order:
        params = w[2].shape[1] // 2
        swap = [f * params + p for f in reversed(range(2)) for p in range(params)]
        w[0], w[2], b[2] = w[0][::-1], w[2][:, swap], b[2][swap]
    for layer, kernel, bias in zip(made.layers_, w, b):
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="an interpreter with torch and zuko")
    parser.add_argument("--data", nargs="+", choices=SETS,
                        help="data sets (default: all four; --paired: two-moons)")  # fmt: skip
    parser.add_argument("--flows", nargs="+", default=["nsf", "maf", "realnvp"], choices=STEPS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a gentk option for every gentk run")  # fmt: skip
    parser.add_argument("--paired", action="store_true",
                        help="MAF from zuko's start on zuko's batches")  # fmt: skip
    parser.add_argument("--clamps", nargs="+", default=["rational", "tanh"],
                        help="--paired: gentk's scale_clamp values to run")  # fmt: skip
    parser.add_argument("--epsilon", type=float, default=1e-8,
                        help="--paired: gentk's Adam epsilon (Keras' default: 1e-7)")  # fmt: skip
    parser.add_argument("--own-start", action="store_true",
                        help="--paired: gentk starts from its own draw, not zuko's")  # fmt: skip
    args = parser.parse_args()
    require_peer(args.peer_python, ["torch", "zuko"])
    if args.data is None:
        args.data = ["two-moons"] if args.paired else list(SETS)
    if args.paired:
        return paired(args)
    from gentk.data import split_indices

    sets = datasets()
    rows = []
    for name in args.data:
        x = np.asarray(sets[name](), np.float32)
        for flow in args.flows:
            mine, theirs = [], []
            for seed in args.seeds:
                tr, va, te = split_indices(len(x), 0.1, 0.1, seed)  # the recipe's own split
                splits = {"train": x[tr], "valid": x[va], "test": x[te]}
                mine.append(ours(flow, x, args, seed))
                theirs.append(peer(args.peer_python, flow, splits, args, seed))
                print(name, flow, seed, "gentk", mine[-1], "zuko", theirs[-1], flush=True)

            def mean(runs, key):
                return float(np.mean([r[key] for r in runs]))

            def gap(mine, theirs):
                d = np.array([a["test_nll"] - b["test_nll"] for a, b in zip(mine, theirs)])
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                return f"{d.mean():+.3f} +- {se:.3f}"

            rows.append({
                "data": name, "flow": flow,
                "gentk NLL": f"{mean(mine, 'test_nll'):.3f}",
                "zuko NLL": f"{mean(theirs, 'test_nll'):.3f}",
                "NLL gap (+- paired SE)": gap(mine, theirs),
                "gentk s": f"{mean(mine, 'seconds'):.1f}",
                "zuko s": f"{mean(theirs, 'seconds'):.1f}",
                "time ratio": f"{mean(mine, 'seconds') / mean(theirs, 'seconds'):.2f}x",
                "gentk 1st/steady epoch s": f"{mean(mine, 'first_epoch'):.2f}/"
                                            f"{mean(mine, 'steady_epoch'):.3f}",
                "zuko 1st/steady epoch s": f"{mean(theirs, 'first_epoch'):.2f}/"
                                           f"{mean(theirs, 'steady_epoch'):.3f}",
            })  # fmt: skip
    print()
    print(f"test NLL in nats (mean of seeds {args.seeds}; the gap's standard error is over the "
          "seeds' paired differences, the same split for both sides at each seed), "
          f"{args.epochs} epochs, batch "
          f"{args.batch_size}, Adam {args.learning_rate}, hidden {args.hidden}; gentk options: "
          f"{args.overrides or 'defaults'}; torch threads {args.torch_threads}")  # fmt: skip
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    sys.exit(main())
