"""Epoch time of cornac's VAECF (PyTorch) on a click matrix, for ``recommender_speed.py peer``.

Run by the peer's own interpreter (cornac and torch are benchmark-only dependencies, never
gentk's): ``PEER_PYTHON benchmarks/peer_cornac.py MATRIX.npz --epochs 3`` prints one JSON line
``{"epoch_seconds": ..., "threads": ...}``. The first epoch (model creation, warm-up) is not
timed; VAECF keeps its network between ``fit`` calls.
"""

import argparse
import json
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("matrix")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=600)
    parser.add_argument("--latent-dim", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    import cornac
    import torch

    m = np.load(args.matrix)
    indptr, indices = m["indptr"], m["indices"]
    users = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    triples = list(zip(users.astype(str), indices.astype(str), np.ones(len(users))))
    train = cornac.data.Dataset.from_uir(triples, seed=0)
    model = cornac.models.VAECF(k=args.latent_dim, autoencoder_structure=[args.hidden],
                                likelihood="mult", act_fn="tanh", n_epochs=1,
                                batch_size=args.batch_size, learning_rate=1e-3, beta=0.2,
                                seed=0)  # fmt: skip
    model.fit(train)  # builds the network: the warm-up epoch
    model.n_epochs = args.epochs
    start = time.perf_counter()
    model.fit(train)
    seconds = (time.perf_counter() - start) / args.epochs
    print(json.dumps({"epoch_seconds": seconds, "threads": torch.get_num_threads(),
                      "users": int(len(indptr) - 1), "items": int(train.num_items)}))  # fmt: skip


if __name__ == "__main__":
    main()
