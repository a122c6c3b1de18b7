"""The published RecVAE code (Shenbin et al., 2020) on gentk's split, for ``recommender_quality.py
--recvae-src``.

Run by the peer's own interpreter (torch is a benchmark-only dependency, never gentk's), through
``_common.run_peer``: ``PEER_PYTHON -c "$(cat peer_recvae.py)" SPEC``. ``SPEC["src"]`` is a
checkout of https://github.com/ilya-shenbin/RecVAE (Apache-2.0; its ``model.py`` is imported
unchanged, nothing of it is copied here); ``SPEC["data"]`` an NPZ of the split as CSR parts
(``train``, ``val_in``, ``val_out``, ``test_in``). The training loop is the one of the
repository's ``run.py``: per epoch ``enc_epochs`` encoder passes (dropout 0.5), ``update_prior``,
``dec_epochs`` decoder passes (dropout 0), Adam per part, the model with the best validation
NDCG@100 kept. Its scores for the test users' fold-in rows are saved to ``SPEC["out"]``, so the
metrics are computed by gentk's own code, paired with the other models on the same users.
"""

import json
import sys
import time
from copy import deepcopy

import numpy as np
import scipy.sparse as sp


def _csr(arrays, name):
    return sp.csr_matrix(
        (np.ones(len(arrays[f"{name}_indices"]), np.float32), arrays[f"{name}_indices"],
         arrays[f"{name}_indptr"]), shape=tuple(arrays[f"{name}_shape"]))  # fmt: skip


def _ndcg100(scores, targets):
    """NDCG@100 per user, as the repository's ``utils.ndcg`` (binary relevance)."""
    k = 100
    top = np.argsort(-scores, axis=1)[:, :k]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    hits = np.take_along_axis(targets.toarray(), top, axis=1) > 0
    dcg = (hits * discount).sum(axis=1)
    counts = np.asarray(targets.getnnz(axis=1))
    idcg = np.array([discount[: min(n, k)].sum() for n in counts])
    return dcg / np.maximum(idcg, 1e-12)


def main():
    spec = json.loads(sys.argv[1])
    sys.path.insert(0, spec["src"])
    import torch
    from model import VAE  # the published model, unchanged

    torch.set_num_threads(spec.get("threads", 1))
    np.random.seed(spec["seed"])
    torch.manual_seed(spec["seed"])
    arrays = np.load(spec["data"])
    train, val_in, val_out, test_in = (
        _csr(arrays, n) for n in ("train", "val_in", "val_out", "test_in")
    )
    model = VAE(hidden_dim=spec["hidden"], latent_dim=spec["latent"], input_dim=train.shape[1])
    opt_enc = torch.optim.Adam(set(model.encoder.parameters()), lr=spec["lr"])
    opt_dec = torch.optim.Adam(set(model.decoder.parameters()), lr=spec["lr"])

    def passes(opts, n, dropout):
        model.train()
        for _ in range(n):
            order = np.random.permutation(train.shape[0])
            for start in range(0, len(order), spec["batch"]):
                x = torch.Tensor(train[order[start : start + spec["batch"]]].toarray())
                for o in opts:
                    o.zero_grad()
                _, loss = model(x, gamma=spec["gamma"], dropout_rate=dropout)
                loss.backward()
                for o in opts:
                    o.step()

    def scores(x):
        model.eval()
        with torch.no_grad():
            s = model(torch.Tensor(x.toarray()), calculate_loss=False).numpy()
        s[x.nonzero()] = -np.inf
        return s

    best, best_state, best_epoch, started = -np.inf, None, 0, time.perf_counter()
    for epoch in range(spec["epochs"]):
        passes([opt_enc], spec["enc_epochs"], 0.5)
        model.update_prior()
        passes([opt_dec], spec["dec_epochs"], 0.0)
        value = float(_ndcg100(scores(val_in), val_out).mean())
        if value > best:
            best, best_state, best_epoch = value, deepcopy(model.state_dict()), epoch + 1
    seconds = time.perf_counter() - started
    model.load_state_dict(best_state)
    np.save(spec["out"], scores(test_in).astype(np.float32))
    print(json.dumps({"val_ndcg": best, "best_epoch": best_epoch, "seconds": seconds,
                      "threads": torch.get_num_threads()}))  # fmt: skip


if __name__ == "__main__":
    main()
