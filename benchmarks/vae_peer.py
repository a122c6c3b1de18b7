"""gentk's VAE and IWAE against a plain PyTorch VAE at equal architecture and budget, end to end
(#23 item 6).

On digits (scikit-learn's 8x8, the recipes' default data) or MNIST (``../shared/data``), both
sides train on the same rows of gentk's own train/validation/test split, with the same model:
an MLP encoder (``--hidden`` ReLU layers, then a head of 2 x latent: mean and softplus scale),
an MLP decoder (the widths reversed) giving Bernoulli logits over the pixels, N(0, I) prior,
Adam(``--learning-rate``), batch ``--batch-size``, ``--epochs`` passes, the validation loss
every ``--validation-every`` epochs, and the test NLL by importance sampling with
``--nll-samples`` proposals from q. The VAE trains on the one-sample ELBO with the analytic
KL, the IWAE on the K-sample bound. Each side's seconds are its whole run after imports and
data loading: gentk's are ``gentk.run`` (build, tracing, training, checkpoints, test metrics,
pictures, saved model), the script's are training, validation and the test NLL.

torch is a benchmark-only dependency: install it into another environment
(``python -m venv peer && peer/bin/pip install torch numpy``) and pass its interpreter. Torch
gets one thread (``--torch-threads``), TensorFlow the machine's defaults.

    python benchmarks/vae_peer.py --peer-python ../peer/bin/python
    python benchmarks/vae_peer.py --peer-python P --dataset mnist --epochs 10 --models vae
    python benchmarks/vae_peer.py --peer-python P --set jit_compile=true   # gentk options
    python benchmarks/vae_peer.py --peer-python P --paired --models vae --seeds 0 1 2 3 4

``--paired`` starts gentk's networks from the script's initial weights and trains both on the
same batches (each side keeps its own reparameterisation noise), then compares the test NLLs:
what is left of a difference is the implementation's, not the draw of a start or an order.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import mnist_files, require_peer, run_gentk, run_peer, table

PEER = r"""
import json, math, statistics, sys, time
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
torch.manual_seed(args["seed"])
d = np.load(args["data"])
train, valid, test = (torch.tensor(d[k].reshape(len(d[k]), -1), dtype=torch.float32)
                      for k in ("train", "valid", "test"))
started = time.perf_counter()
D, L, H = train.shape[1], args["latent"], args["hidden"]

def mlp(sizes, out):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], out))

enc, dec = mlp([D, *H], 2 * L), mlp([L, *H[::-1]], D)
order = d["order"] if "order" in d.files else None  # --paired: [epochs, steps, batch], -1 pads
start = {f"{name}.{k}": v.tolist() for name, net in (("enc", enc), ("dec", dec))
         for k, v in net.state_dict().items()} if order is not None else None
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=args["lr"])
LOG2PI = math.log(2 * math.pi)

def terms(x, k):
    loc, raw = enc(x).chunk(2, -1)
    scale = F.softplus(raw) + 1e-5
    eps = torch.randn(k, *loc.shape)
    z = loc + scale * eps
    logits = dec(z)
    log_lik = -F.binary_cross_entropy_with_logits(
        logits, x.expand(k, -1, -1), reduction="none").sum(-1)
    log_p = -0.5 * (z ** 2 + LOG2PI).sum(-1)
    log_q = (-0.5 * (eps ** 2 + LOG2PI) - scale.log()).sum(-1)
    kl = 0.5 * (loc ** 2 + scale ** 2 - 1).sum(-1) - scale.log().sum(-1)
    return log_lik, log_lik + log_p - log_q, kl

def loss(x, k):
    log_lik, log_w, kl = terms(x, k)
    if args["model"] == "iwae":
        return -(torch.logsumexp(log_w, 0) - math.log(k)).mean()
    return -(log_lik.mean(0) - kl).mean()

def evaluate(x, k):
    with torch.no_grad():
        return sum(float(loss(b, k)) * len(b) for b in x.split(1024)) / len(x)

def nll(x, k, chunk=100):
    out = []
    with torch.no_grad():
        for b in x.split(max(1, min(256, 1_000_000 // k))):
            log_w = torch.cat([terms(b, min(chunk, k - s))[1] for s in range(0, k, chunk)])
            out.append(torch.logsumexp(log_w, 0) - math.log(k))
    return float(-torch.cat(out).mean())

g = torch.Generator().manual_seed(args["seed"])
epochs = []
for epoch in range(args["epochs"]):
    t0 = time.perf_counter()
    batches = (torch.randperm(len(train), generator=g).split(args["batch"]) if order is None
               else [torch.tensor(b[b >= 0]) for b in order[epoch]])
    for idx in batches:
        value = loss(train[idx], args["k"])
        opt.zero_grad()
        value.backward()
        opt.step()
    if (epoch + 1) % args["every"] == 0 or epoch + 1 == args["epochs"]:
        val = evaluate(valid, args["k"])
    epochs.append(time.perf_counter() - t0)
test_nll = nll(test, args["nll_samples"])
seconds = time.perf_counter() - started
print(json.dumps({"test_nll": test_nll, "val_loss": val, "seconds": seconds,
                  "first_epoch": epochs[0], "steady_epoch": statistics.median(epochs[1:] or epochs),
                  "start": start}))
"""


def load(dataset: str):
    """(all rows as floats in [0, 1], what gentk.run reads as ``data``)."""
    from gentk.data import digits, load_images

    if dataset == "digits":
        return digits().x, None  # the recipes' default data
    train_path, _ = mnist_files()
    return load_images(train_path).x, str(train_path)


def peer(python, model, splits, args, seed) -> dict:
    spec = {"model": model, "k": args.k if model == "iwae" else 1, "latent": args.latent,
            "hidden": args.hidden, "lr": args.learning_rate, "batch": args.batch_size,
            "epochs": args.epochs, "every": args.validation_every,
            "nll_samples": args.nll_samples, "seed": seed,
            "threads": args.torch_threads}  # fmt: skip
    return run_peer(python, PEER, spec, splits, "PyTorch")


def ours(model, data, args, seed) -> dict:
    result, times = run_gentk(model, data, args.epochs, seed, _options(model, args))
    val = result.history[-1].get("val_loss", float("nan"))
    return {**times, "test_nll": result.metrics["test_nll"], "val_loss": val}


def paired(model_name, args, seed, x) -> tuple[float, float]:
    """(gentk's, the script's) test NLL from the script's initial weights on the script's
    batches: the same start and order on both sides, so what differs is the implementation
    (the reparameterisation noise stays each side's own)."""
    import tensorflow as tf

    from gentk.config import TrainConfig, resolve_config
    from gentk.data import split_indices
    from gentk.plugins import get_registry
    from gentk.training.optimizers import FusedAdam
    from gentk.training.plan import seed_everything

    defaults = TrainConfig()
    tr, va, te = split_indices(len(x), defaults.validation_fraction, defaults.test_fraction, seed)
    rng = np.random.default_rng(seed)
    steps = -(-len(tr) // args.batch_size)
    order = np.full((args.epochs, steps, args.batch_size), -1)
    for epoch in range(args.epochs):
        perm = rng.permutation(len(tr))  # batches of batch_size, the last one partial
        for step in range(steps):
            rows = perm[step * args.batch_size : (step + 1) * args.batch_size]
            order[epoch, step, : len(rows)] = rows
    splits = {"train": x[tr], "valid": x[va], "test": x[te], "order": order}
    theirs = peer(args.peer_python, model_name, splits, args, seed)
    recipe = get_registry().get("model", model_name).factory
    config = resolve_config(recipe.config, overrides=[f"seed={seed}", *_options(model_name, args)])
    seed_everything(seed)
    data = recipe.load_data(config, None if args.dataset == "digits" else load(args.dataset)[1])
    model = recipe.build(config, data)
    model(data.train[:2])
    tensors = [np.asarray(theirs["start"][f"{net}.{k}.{part}"], np.float32)
               for net in ("enc", "dec") for k in (0, 2, 4) for part in ("weight", "bias")]
    for variable, value in zip(model.weights, tensors, strict=True):
        variable.assign(value.T if value.ndim == 2 else value)  # torch's [out, in]
    model.compile(optimizer=FusedAdam(args.learning_rate, epsilon=1e-8))  # torch's epsilon
    step = tf.function(model.train_step)
    train = x[tr].reshape(len(tr), *data.train.shape[1:])
    for batch in order.reshape(-1, args.batch_size):
        step(tf.constant(train[batch[batch >= 0]]))
    test = x[te].reshape(len(te), *data.train.shape[1:])
    ours_nll = -float(tf.reduce_mean(model.log_prob(test, n_samples=args.nll_samples)))
    return ours_nll, theirs["test_nll"]


def _options(model, args) -> list[str]:
    return [f"batch_size={args.batch_size}", f"learning_rate={args.learning_rate}",
            f"hidden={','.join(map(str, args.hidden))}", f"latent_dim={args.latent}",
            f"nll_samples={args.nll_samples}", f"validation_every={args.validation_every}",
            "likelihood=bernoulli", "encoder=mlp", "decoder=mlp", "activation=relu",
            *([f"n_samples={args.k}"] if model == "iwae" else []),
            *args.overrides]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="an interpreter with torch")
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--models", nargs="+", default=["vae", "iwae"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--latent", type=int, default=2)
    parser.add_argument("--k", type=int, default=5, help="the IWAE's importance samples")
    parser.add_argument("--nll-samples", type=int, default=1000)
    parser.add_argument("--validation-every", type=int, default=5)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a gentk option for every gentk run")  # fmt: skip
    parser.add_argument("--paired", action="store_true",
                        help="gentk from the script's start on the script's batches")  # fmt: skip
    args = parser.parse_args()
    require_peer(args.peer_python, ["torch"])
    from gentk.config import TrainConfig
    from gentk.data import split_indices

    x, data = load(args.dataset)
    if args.paired:
        for model in args.models:
            pairs = []
            for seed in args.seeds:
                pairs.append(paired(model, args, seed, x))
                print(args.dataset, model, seed, "gentk / torch test NLL", pairs[-1], flush=True)
            mine, theirs = np.array(pairs).T
            diff = mine - theirs
            print(f"{args.dataset} {model}, same start and batches, seeds {args.seeds}: gentk "
                  f"{mine.mean():.3f}, torch {theirs.mean():.3f}, paired difference "
                  f"{diff.mean():+.3f} +- {diff.std(ddof=1) / np.sqrt(len(diff)):.3f}")  # fmt: skip
        return
    rows = []
    for model in args.models:
        mine, theirs = [], []
        for seed in args.seeds:
            defaults = TrainConfig()  # the recipe's own split of the same rows
            tr, va, te = split_indices(len(x), defaults.validation_fraction,
                                       defaults.test_fraction, seed)  # fmt: skip
            splits = {"train": x[tr], "valid": x[va], "test": x[te]}
            mine.append(ours(model, data, args, seed))
            theirs.append(peer(args.peer_python, model, splits, args, seed))
            print(args.dataset, model, seed, "gentk", mine[-1], "torch", theirs[-1], flush=True)

        def mean(runs, key):
            return float(np.mean([r[key] for r in runs]))

        rows.append({
            "data": args.dataset, "model": model if model == "vae" else f"iwae K={args.k}",
            "gentk NLL": f"{mean(mine, 'test_nll'):.2f}",
            "torch NLL": f"{mean(theirs, 'test_nll'):.2f}",
            "NLL gap": f"{mean(mine, 'test_nll') - mean(theirs, 'test_nll'):+.2f}",
            "gentk s": f"{mean(mine, 'seconds'):.1f}",
            "torch s": f"{mean(theirs, 'seconds'):.1f}",
            "time ratio": f"{mean(mine, 'seconds') / mean(theirs, 'seconds'):.2f}x",
            "gentk 1st/steady epoch s": f"{mean(mine, 'first_epoch'):.2f}/"
                                        f"{mean(mine, 'steady_epoch'):.3f}",
            "torch 1st/steady epoch s": f"{mean(theirs, 'first_epoch'):.2f}/"
                                        f"{mean(theirs, 'steady_epoch'):.3f}",
        })  # fmt: skip
    print()
    print(f"test NLL in nats ({args.nll_samples} importance samples; mean of seeds {args.seeds})"
          f", {args.epochs} epochs, batch {args.batch_size}, Adam {args.learning_rate}, hidden "
          f"{args.hidden}, latent {args.latent}; gentk options: {args.overrides or 'defaults'}; "
          f"torch threads {args.torch_threads}")  # fmt: skip
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    sys.exit(main())
