"""gentk's ``gan`` and ``dcgan`` recipes against a plain PyTorch GAN at equal architecture and
budget, end to end (#23 item 4).

On a 2-D mixture (the ring of 8 Gaussians, the recipe's default data, or the grid of 25), both
sides train on the same rows of gentk's own split with the same model and schedule: an MLP
generator (``--latent``-dim N(0, I) noise, ``--hidden`` ReLU layers, a linear output) and an
MLP critic (``--hidden`` LeakyReLU(0.2) layers, one logit), both started as Keras starts them
(Glorot-uniform weights, zero biases; ``--peer-init torch`` starts the script as PyTorch
does), the non-saturating loss, one critic update then one generator update per batch of
``--batch-size``, Adam for each with the settings gentk's side trains with (the recipe's
defaults for the data, after ``--set``: on the toys 1e-3, beta_1 0, beta_2 0.999; the
script reads them from the spec), ``--epochs`` passes, the validation
losses every ``--validation-every`` epochs. Both are scored by the same function on 1,000
samples: modes covered and the high-quality share (within 3 std of a mode).

On digits (``--data digits``) the ``dcgan`` recipe with its defaults (30 epochs) against the
same DCGAN in PyTorch (``PEER_DCGAN``: the layers, batch norms, starts and updates of the
recipe's generator and critic); both sides' 1,000 samples are scored by the recipe's own
``quality``: FD with its bootstrap standard error, KID and precision/recall in the features of a
classifier trained on the held-out digits, against training rows, beside the real floor.

Each side's seconds are its whole run after imports and data loading: gentk's are
``gentk.run`` (build, tracing, training, checkpoints, progress pictures, quality metrics,
pictures, saved model), the script's are training, validation and sampling.

torch is a benchmark-only dependency: install it into another environment
(``python -m venv peer && peer/bin/pip install torch numpy``) and pass its interpreter. Torch
gets one thread (``--torch-threads``), TensorFlow the machine's defaults.

    python benchmarks/gan_peer.py --peer-python ../peer/bin/python
    python benchmarks/gan_peer.py --peer-python P --data grid-25 --seeds 1 2 3
    python benchmarks/gan_peer.py --peer-python P --data digits --seeds 1 2 3
    python benchmarks/gan_peer.py --peer-python P --set steps_per_execution=1   # gentk options
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import require_peer, run_gentk, run_peer, table

# The peer scripts: a shared start (arguments, threads, seed, data), the models, and a shared
# loop (Adam with gentk's settings for each network, one critic then one generator update per
# batch, the validation losses on a cadence, samples at the end); the loop's train()/eval()
# switches act on the DCGAN's batch norms and on nothing in the MLPs.
_START = r"""
import json, statistics, sys, time
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
torch.manual_seed(args["seed"])
d = np.load(args["data"])
"""
_LOOP = r"""
opt_g = torch.optim.Adam(G.parameters(), lr=args["lr"], betas=tuple(args["betas"]))
opt_d = torch.optim.Adam(D.parameters(), lr=args["critic_lr"], betas=tuple(args["betas"]))

def critic_loss(x):
    fake = G(torch.randn(len(x), L)).detach()
    return F.softplus(-D(x)).mean() + F.softplus(D(fake)).mean()

def generator_loss(n):
    return F.softplus(-D(G(torch.randn(n, L)))).mean()

g = torch.Generator().manual_seed(args["seed"])
epochs = []
for epoch in range(args["epochs"]):
    t0 = time.perf_counter()
    G.train(); D.train()
    for idx in torch.randperm(len(train), generator=g).split(args["batch"]):
        loss = critic_loss(train[idx])
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        loss = generator_loss(len(idx))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    if (epoch + 1) % args["every"] == 0 or epoch + 1 == args["epochs"]:
        G.eval(); D.eval()
        with torch.no_grad():
            val = (float(critic_loss(valid)), float(generator_loss(len(valid))))
    epochs.append(time.perf_counter() - t0)
G.eval()
with torch.no_grad():
    samples = to_numpy(G(torch.randn(args["samples"], L)))
seconds = time.perf_counter() - started
np.save(args["out"], samples)
print(json.dumps({"seconds": seconds, "first_epoch": epochs[0],
                  "steady_epoch": statistics.median(epochs[1:] or epochs)}))
"""
PEER = _START + r"""
train, valid = (torch.tensor(d[k], dtype=torch.float32) for k in ("train", "valid"))
started = time.perf_counter()
L, H = args["latent"], args["hidden"]

def mlp(sizes, out, act):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    layers.append(nn.Linear(sizes[-1], out))
    for layer in layers:
        if isinstance(layer, nn.Linear) and args["init"] == "keras":  # as Keras starts Dense
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)

G = mlp([L, *H], 2, nn.ReLU)
D = mlp([2, *H], 1, lambda: nn.LeakyReLU(0.2))
to_numpy = lambda t: t.numpy()
""" + _LOOP

# DCGAN on digits, as the ``dcgan`` recipe builds it with its defaults: z (32) -> dense 2x2x64
# (no bias) -> batch norm -> ReLU -> 4x4 transposed conv to 32 (stride 2, no bias) -> batch norm
# -> ReLU -> 4x4 transposed conv to 1 channel, sigmoid; critic: 4x4 stride-2 convs of 32 and 64
# (batch norm on the second) with LeakyReLU(0.2) -> one logit. Keras' starts (Glorot-uniform
# kernels, zero biases) and Keras' batch norm (momentum 0.99, epsilon 1e-3).
PEER_DCGAN = _START + r"""
train, valid = (torch.tensor(d[k], dtype=torch.float32).permute(0, 3, 1, 2)
                for k in ("train", "valid"))
started = time.perf_counter()
L = args["latent"]

def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Linear(L, 2 * 2 * 64, bias=False)
        self.norm0 = bn(64)
        self.up1 = nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False)
        self.norm1 = bn(32)
        self.up2 = nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def forward(self, z):
        h = F.relu(self.norm0(self.project(z).view(-1, 64, 2, 2)))
        return torch.sigmoid(self.up2(F.relu(self.norm1(self.up1(h)))))

class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 4, 2, 1)
        self.conv2 = nn.Conv2d(32, 64, 4, 2, 1)
        self.norm2 = bn(64)
        self.head = nn.Linear(2 * 2 * 64, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.norm2(self.conv2(h)), 0.2)
        return self.head(h.flatten(1))

G, D = Generator(), Critic()
for module in (*G.modules(), *D.modules()):  # Keras' start
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
to_numpy = lambda t: t.permute(0, 2, 3, 1).numpy()  # NHWC, as gentk's
""" + _LOOP


def mixture(name: str):
    from gentk.data.builtin import gaussian_grid, gaussian_ring

    return {"ring-8": gaussian_ring, "grid-25": gaussian_grid}[name]()


def score(samples, data, labels):
    """Modes covered and high-quality share by the recipe's own function and mode estimates."""
    from gentk.metrics.sample_quality import mode_coverage

    centers = np.stack([data[labels == k].mean(0) for k in np.unique(labels)])
    stds = np.array([data[labels == k].std(0).mean() for k in np.unique(labels)])
    return mode_coverage(samples, centers, stds)


def adam_settings(args) -> dict:
    """The Adam settings of gentk's side (the recipe's defaults for the data's shape, then the
    overrides ``ours`` passes), so the script trains with the same."""
    from gentk.api import get_registry
    from gentk.config import resolve_config

    name, shape = ("dcgan", (8, 8, 1)) if args.data == "digits" else ("gan", (2,))
    recipe = get_registry().get("model", name).factory
    config = resolve_config(recipe.config, None, gentk_overrides(args), recipe.data_defaults(shape))
    return {"lr": config.learning_rate, "critic_lr": config.critic_learning_rate,
            "betas": [config.beta_1, config.beta_2]}  # fmt: skip


def peer(python, splits, args, seed) -> dict:
    spec = {**adam_settings(args), "latent": args.latent, "hidden": args.hidden,
            "batch": args.batch_size, "epochs": args.epochs, "every": args.validation_every,
            "samples": 1000, "seed": seed, "threads": args.torch_threads,
            "init": args.peer_init}  # fmt: skip
    script = PEER_DCGAN if args.data == "digits" else PEER
    result = run_peer(python, script, spec, splits, "PyTorch")
    result["samples"] = result.pop("out")
    return result


def gentk_overrides(args) -> list[str]:
    """The options gentk's side runs with: the shared architecture, then ``--set``."""
    overrides = [f"batch_size={args.batch_size}", f"latent_dim={args.latent}",
                 "divergence=nonsaturating", f"validation_every={args.validation_every}",
                 "quality_samples=1000", *args.overrides]  # fmt: skip
    if args.data == "digits":  # the dcgan recipe's components, set as the script has them
        overrides += ["filters=64,32", "critic_filters=32,64", "critic_batch_norm=true",
                      "learning_rate=2e-4", "critic_learning_rate=2e-4"]  # fmt: skip
    else:
        overrides.append(f"hidden={','.join(map(str, args.hidden))}")
    return overrides


def ours(data, args, seed) -> dict:
    overrides = gentk_overrides(args)
    result, times = run_gentk("dcgan" if args.data == "digits" else "gan", data, args.epochs,
                              seed, overrides)  # fmt: skip
    samples = np.asarray(result.model.sample(1000, seed=seed + 1))
    return {**times, "samples": samples, "result": result}


def image_scores(result, samples) -> dict:
    """FD (with its bootstrap standard error), KID and precision/recall as the recipe scores
    its own samples (``GANRecipe.quality``: a classifier trained on the held-out digits,
    against training rows), for either side's samples."""
    from gentk.plugins import get_registry

    recipe = get_registry().get("model", "dcgan").factory
    out = recipe.quality(result.config, result.data, samples)
    return {k.replace("_digits", ""): v for k, v in out.items() if isinstance(v, float)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="an interpreter with torch")
    parser.add_argument("--data", choices=["ring-8", "grid-25", "digits"], default="ring-8")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, help="default: the recipe's (160 toys, 30 digits)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--validation-every", type=int, default=5)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--peer-init", choices=["keras", "torch"], default="keras",
                        help="the script's start: Keras' (as gentk) or PyTorch's own")  # fmt: skip
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a gentk option for every gentk run")  # fmt: skip
    args = parser.parse_args()
    require_peer(args.peer_python, ["torch"])
    from gentk.config import TrainConfig
    from gentk.data import split_indices

    images = args.data == "digits"
    if args.epochs is None:
        args.epochs = 30 if images else 160  # the recipes' defaults on these data
    if images:
        from gentk.data import digits

        data = digits()
    else:
        data = mixture(args.data)
    mine, theirs = [], []
    for seed in args.seeds:
        defaults = TrainConfig()  # the recipe's own split of the same rows
        tr, va, te = split_indices(len(data.x), defaults.validation_fraction,
                                   defaults.test_fraction, seed)  # fmt: skip
        splits = {"train": data.x[tr], "valid": data.x[va]}
        seen = np.concatenate([tr, te])  # the rows the recipe estimates the modes from
        gentk_side = ours(data, args, seed)
        result = gentk_side.pop("result")
        for runs, side in ((mine, gentk_side),
                           (theirs, peer(args.peer_python, splits, args, seed))):  # fmt: skip
            samples = side.pop("samples")
            if images:
                side.update(image_scores(result, samples))
            else:
                side.update(score(samples, data.x[seen], data.labels[seen]))
            runs.append(side)
        print(args.data, seed, "gentk", mine[-1], "torch", theirs[-1], flush=True)

    def mean(runs, key):
        return float(np.mean([r[key] for r in runs]))

    if images:
        quality = [{
            "FD (se)": f"{mean(runs, 'fd'):.2f} ({mean(runs, 'fd_se'):.2f})",
            "FD real floor": f"{mean(runs, 'fd_real_floor'):.2f}",
            "KID": f"{mean(runs, 'kid'):.4f}",
            "precision / recall": f"{mean(runs, 'precision'):.3f} / {mean(runs, 'recall'):.3f}",
        } for runs in (mine, theirs)]  # fmt: skip
    else:
        quality = [{
            "modes covered": f"{mean(runs, 'modes_covered'):.2f} of {runs[0]['modes']}",
            "high-quality share": f"{mean(runs, 'high_quality_share'):.3f}",
        } for runs in (mine, theirs)]  # fmt: skip
    rows = [{
        "side": name,
        **q,
        "seconds per run": f"{mean(runs, 'seconds'):.1f}",
        "1st/steady epoch s": f"{mean(runs, 'first_epoch'):.2f}/{mean(runs, 'steady_epoch'):.3f}",
        "time / torch": f"{mean(runs, 'seconds') / mean(theirs, 'seconds'):.2f}x",
    } for name, runs, q in (("gentk dcgan" if images else "gentk gan", mine, quality[0]),
                            ("PyTorch script", theirs, quality[1]))]  # fmt: skip
    updates = args.epochs * int(np.ceil(len(data.x) * 0.8 / args.batch_size))
    print()
    print(f"{args.data}: {args.epochs} epochs (about {updates:,} updates of each network), batch "
          f"{args.batch_size}, hidden {args.hidden}, latent {args.latent}; seeds {args.seeds} "
          f"(mean); gentk options: {args.overrides or 'defaults'}; torch threads "
          f"{args.torch_threads}, the script started as {args.peer_init} starts")  # fmt: skip
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    sys.exit(main())
