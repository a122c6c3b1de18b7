"""The ``recommender-vae`` and ``recommender-dae`` recipes: config, validation NDCG model
selection, test metrics beside the popularity baseline, and the run's outputs."""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from gentk.api import Recipe, TrainConfig, constructor_options, note, option, printable

if TYPE_CHECKING:
    import keras

    from gentk_recommender.data import RecData

__all__ = [
    "RecommenderConfig",
    "RecommenderRecipe",
    "DAERecipe",
    "RecVAEConfig",
    "RecVAERecipe",
    "write_recommendations",
    "exclusion",
]


IMPLICIT = ("auto", "true", "false")
EXCLUDE = ("seen", "positives", "none")
ITEM_BIAS = ("auto", "popularity", "zeros")
SPLITS = ("users", "time", "time-cut")


@dataclasses.dataclass
class RecommenderConfig(TrainConfig):
    epochs: int = option(100, "passes over the training users")
    batch_size: int = option(500, "users per update")
    user_column: str = option(
        "auto", "user column: header name, 0-based position or auto", data=True
    )
    item_column: str = option(
        "auto", "item column: header name, 0-based position or auto", data=True
    )
    rating_column: str = option("auto", "rating column (name, position, auto, or none)", data=True)
    timestamp_column: str = option(
        "auto", "timestamp column (name, position, auto, or none)", data=True
    )
    delimiter: str = option("auto", "auto, ',', tab, '::', ';', '|' or whitespace", data=True)
    header: str = option("auto", "auto, true or false", data=True)
    min_rating: float = option(
        4.0, "ratings >= this are positives (files with ratings)", ge=None, data=True
    )
    implicit: str = option(
        "auto",
        "every row is a positive: auto (no rating column, or one rating value), true, false",
        data=True,
    )
    min_user_interactions: int = option(5, "drop users with fewer positives", ge=1, data=True)
    validation_users: int | None = option(
        None,
        "held-out validation users (none: validation_fraction; 0: no model selection)",
        data=True,
    )
    test_users: int | None = option(
        None, "held-out test users (none: test_fraction; 0: none)", data=True
    )
    validation_data: str | None = option(
        None, "file of validation users (new users; their items split fold-in/target)", data=True
    )
    test_data: str | None = option(None, "file of test users (as validation_data)", data=True)
    exclude: str = option(
        "seen",
        "what recommendations.csv leaves out: seen (any rating), positives (model input), none",
    )
    fold_in_fraction: float = option(
        0.8, "share of a held-out user's items given as input", gt=0, lt=1, data=True
    )
    split: str = option(
        "users",
        "held-out users' fold-in and targets: users (items at random, the paper's), time (each "
        "one's latest items by timestamp are targets) or time-cut (one global cut: nothing "
        "after it trains; held-out users' items after it are the targets)",
        data=True,
    )
    time_cut: float | None = option(
        None,
        "split=time-cut: the cut in the file's timestamp units (none: the time by which "
        "fold_in_fraction of the positives happened)",
        ge=None,
        data=True,
    )
    hidden: tuple[int, ...] = option((600,), "encoder widths", ge=1)
    decoder_hidden: tuple[int, ...] | None = option(
        None,
        "decoder widths (none: mirror the encoder, as in the paper; (): linear decoder)",
        ge=1,
    )
    latent_dim: int = option(200, "size of z", ge=1)
    dropout: float = option(0.5, "input dropout rate", ge=0, lt=1)
    anneal_cap: float = option(0.2, "largest KL weight beta")
    anneal_steps: int = option(0, "updates to reach the cap (0: 80% of the planned updates)")
    select_beta: bool = option(False, "anneal to 1.0 and report the beta of the best epoch")
    input_mode: str = option(
        "auto", "auto (dense where XLA compiles the step, else sparse), dense (XLA) or sparse"
    )
    dense_max_items: int = option(8000, "auto with XLA: dense batches up to this many items", ge=1)
    sampled_softmax: int = option(
        0, "Mult-VAE/DAE training: items sampled per batch for the softmax (0: all items)", ge=0
    )
    sampler_power: float = option(
        0.75, "sampled softmax proposal: training popularity ** power (0: uniform)", ge=0
    )
    lazy_adam: bool = option(
        True,
        "with sampled_softmax: Adam updates only the output rows a batch scored (LazyAdam; "
        "false: every row, as dense Adam)",
    )
    item_bias: str = option(
        "auto",
        "starting softmax biases: popularity (log of training clicks + 1, normalised), zeros, "
        "or auto (popularity with sampled_softmax, where unsampled items keep their start; "
        "else zeros)",
    )
    top_n: int = option(100, "recommendations per user in recommendations.csv", ge=1)
    ease_max_items: int = option(
        20000, "metrics.json has EASE's test metrics up to this many items (0: never)", ge=0
    )
    jit_compile: str = option(
        "auto",
        "XLA for dense batches: auto (GPU/TPU only: on CPU it measured 7x slower than oneDNN, "
        "benchmarks/recommender_speed.py), true or false",
    )

    def validate(self):
        for name, allowed in (("implicit", IMPLICIT), ("exclude", EXCLUDE),
                              ("item_bias", ITEM_BIAS), ("split", SPLITS)):  # fmt: skip
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"`{name}` must be one of {', '.join(allowed)}. "
                    f"Received: {name}={getattr(self, name)!r}"
                )
        for name in ("validation_users", "test_users"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0. Received: {getattr(self, name)}")
        if self.input_mode not in ("auto", "dense", "sparse"):
            raise ValueError(
                "`input_mode` must be auto, dense or sparse. "
                f"Received: input_mode={self.input_mode!r}"
            )
        if not 0 < self.fold_in_fraction < 1:
            raise ValueError(
                "`fold_in_fraction` must lie in (0, 1). "
                f"Received: fold_in_fraction={self.fold_in_fraction}"
            )


@dataclasses.dataclass
class RecVAEConfig(RecommenderConfig):
    epochs: int = option(
        200, "passes over the training users (encoder_epochs + 1 passes make one RecVAE epoch)"
    )
    learning_rate: float = option(5e-4, "Adam step size", gt=0)
    hidden: tuple[int, ...] = option((600,), "encoder width (one value: every layer)", ge=1)
    depth: int = option(5, "encoder layers (dense links, swish, layer norm)", ge=1)
    gamma: float = option(0.005, "KL weight per click: beta(x_u) = gamma * |x_u|", ge=0)
    encoder_epochs: int = option(3, "encoder passes per decoder pass", ge=1)
    layer_norm_epsilon: float = option(0.1, "epsilon of the encoder's layer norms", gt=0)
    mixture: tuple[float, ...] = option(
        (0.15, 0.75, 0.1), "composite prior weights: N(0,1), old posterior, wide N(0, e^10)", ge=0
    )

    def validate(self):
        super().validate()
        if len(self.hidden) != 1:
            raise ValueError(f"RecVAE's layers share one width (use depth=): hidden={self.hidden}")
        if len(self.mixture) != 3:
            raise ValueError(f"`mixture` takes three weights. Received: {self.mixture}")
        defaults = RecommenderConfig()
        unused = [name for name in ("anneal_cap", "anneal_steps", "select_beta",
                                    "decoder_hidden", "sampled_softmax", "item_bias",
                                    "lazy_adam")
                  if getattr(self, name) != getattr(defaults, name)]  # fmt: skip
        if unused:
            raise ValueError(
                f"RecVAE has no annealed beta or decoder layers: {', '.join(unused)} would be "
                "ignored (gamma sets its KL weight)"
            )


def use_dense(recipe: Recipe, config: RecommenderConfig, n_items: int) -> bool:
    """Dense batches (``input_mode=auto``) only where XLA compiles the step
    (``gentk.training.runner.use_xla``: a GPU or TPU, or ``jit_compile=true``) and the
    catalogue has at most ``dense_max_items`` items. Elsewhere sparse batches, whose first
    layer runs on TensorFlow's CSR kernels: on CPU they measured faster than dense batches at
    every catalogue size from 500 items up (``benchmarks/recommender_speed.py crossover``)."""
    if config.input_mode == "auto":
        from gentk.api import use_xla

        return use_xla(recipe, config) and n_items <= config.dense_max_items
    return config.input_mode == "dense"


def write_recommendations(
    path: str | os.PathLike,
    users: Sequence[str],
    item_ids: Sequence[str],
    indices: np.ndarray,
    scores: np.ndarray,
    sources: Sequence[str] | None = None,
) -> None:
    """``user,item,rank,score,source`` rows (``source``: ``model``, or ``popularity`` for a
    user the model could not score); items excluded for a user (score -inf) are left out."""
    from gentk.api import atomic_path, task

    if sources is None:
        sources = np.full(len(users), "model", dtype=object)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["user", "item", "rank", "score", "source"])
        with task(f"writing {Path(path).name}", total=len(users), unit="users") as advance:
            for u, row_idx, row_val, source in zip(users, indices, scores, sources):
                keep = np.isfinite(row_val)
                writer.writerows(
                    [u, item_ids[i], rank, f"{s:.6g}", source]
                    for rank, (i, s) in enumerate(zip(row_idx[keep], row_val[keep]), start=1)
                )
                advance()


def exclusion(mode: str, positives: sp.csr_matrix, rated: sp.csr_matrix):
    """The CSR of items to leave out per user: ``seen`` every rated item, ``positives`` the
    model's input items, ``none`` nothing."""
    if mode == "seen" and rated is not None:
        return rated
    if mode == "none":
        return sp.csr_matrix(positives.shape, dtype=np.float32)
    return positives


class RecommenderRecipe(Recipe):
    name = "recommender-vae"
    config = RecommenderConfig
    variational = True
    smoke = {"epochs": 2, "hidden": (16,), "latent_dim": 8, "batch_size": 128}
    tune_metric = ("val_ndcg@100", "maximize")
    keeps_best_epoch = True

    def _dense(self, config, data):
        return use_dense(self, config, data.n_items)

    def train_dataset(self, config: RecommenderConfig, data: RecData):
        from gentk_recommender.data import sparse_batches

        return sparse_batches(
            data.train,
            config.batch_size,
            shuffle=True,
            seed=config.seed,
            dense=self._dense(config, data),
        )

    def build(self, config: RecommenderConfig, data: RecData):
        from gentk_recommender.model import MultVAE

        steps = config.anneal_steps
        if steps == 0:
            per_epoch = -(-data.train.shape[0] // config.batch_size)
            steps = max(1, int(0.8 * config.epochs * per_epoch))
        cap = 1.0 if config.select_beta else config.anneal_cap
        options = constructor_options(
            MultVAE,
            config,
            n_items=data.n_items,
            variational=self.variational,
            anneal_cap=cap,
            anneal_steps=steps,
            item_log_q=proposal(data.train, config.sampler_power),
            item_log_prior=item_log_prior(config, data.train),
            name=self.name.replace("-", "_"),
        )
        return MultVAE(**options)

    def compile(self, model: keras.Model, config: RecommenderConfig, *, jit_compile: bool):
        n_items = model.n_items
        jit = jit_compile and use_dense(self, config, n_items)  # XLA cannot compile sparse ops
        super().compile(model, config, jit_compile=jit)

    def optimizer(self, config: RecommenderConfig):
        """``LazyAdam`` with a sampled softmax (its output rows' gradients are IndexedSlices:
        a step updates the rows the batch scored), else ``FusedAdam``."""
        if not (config.sampled_softmax and config.lazy_adam):
            return super().optimizer(config)
        from gentk.api import LazyAdam

        return LazyAdam(config.learning_rate, weight_decay=config.weight_decay or None)

    def load_data(self, config: RecommenderConfig, path: str | os.PathLike | None):
        from gentk_recommender.data import prepare

        data = prepare(config, path)
        note(printable(data.stats["summary"]))
        return data

    def callbacks(
        self, model: keras.Model, config: RecommenderConfig, data: RecData, run_dir: Path
    ):
        from gentk_recommender.data import write_split
        from gentk_recommender.serving import write_items

        write_split(data, Path(run_dir) / "split.csv")
        write_items(run_dir, data.item_ids, data.stats)
        if len(data.validation_users) == 0:
            return []  # no model selection: the last epoch is the model
        from gentk_recommender.validation import ValidationNDCG

        return [
            ValidationNDCG(data, run_dir, self._dense(config, data), every=config.validation_every)
        ]

    def finish_training(
        self, model: keras.Model, config: RecommenderConfig, data: RecData, run_dir: Path
    ):
        """The best validated epoch's weights, and what picked it on ``data.selection``
        (this run's data: the recipe object is shared by every run of the process)."""
        from gentk.api import read_checkpoint_state, restore_best

        restore_best(model, run_dir)
        state = (read_checkpoint_state(run_dir) or {}).get("callbacks", {})
        data.selection = state.get("ValidationNDCG")

    def sample(
        self, model: keras.Model, n: int, config: RecommenderConfig, *, seed: int = 0, **options
    ):
        raise NotImplementedError(
            f"model {self.name!r} draws no samples; `gentk recommend RUN --data FILE` "
            "recommends items for users"
        )

    def evaluate(self, model: keras.Model, config: RecommenderConfig, data: RecData):
        from gentk_recommender.evaluation import model_scorer, popularity_scorer, ranking_metrics

        dense = self._dense(config, data)
        out = {}
        if len(data.test_users) == 0:
            note("No test users (test_users=0): metrics.json has no test metrics.")
        else:
            for prefix, scorer in (
                ("test_", model_scorer(model, dense)),
                ("popularity_test_", popularity_scorer(data.train)),
            ):
                metrics = ranking_metrics(scorer, data.test_fold_in, data.test_targets)
                out.update({f"{prefix}{k}": v for k, v in metrics.items()})
            if 0 < data.train.shape[1] <= config.ease_max_items:
                out.update(ease_baseline(data))
            elif config.ease_max_items:
                note(
                    f"EASE baseline skipped: {data.train.shape[1]:,} items > ease_max_items="
                    f"{config.ease_max_items:,} (its item-item matrix grows with items squared; "
                    "raise ease_max_items to compute it)"
                )
        picked = data.selection or {}
        if picked.get("epoch"):
            out["best_epoch"] = picked["epoch"]
            out["best_val_ndcg@100"] = picked["best"]
            if config.select_beta and picked.get("best_beta") is not None:
                out["best_beta"] = picked["best_beta"]
        out["data"] = data.stats
        out["input_mode"] = "dense" if dense else "sparse"
        return out

    def write_artifacts(
        self, model: keras.Model, config: RecommenderConfig, data: RecData, run_dir: Path
    ):
        from gentk_recommender.evaluation import model_scorer, top_n

        users, x = data.all_users()
        leave_out = exclusion(config.exclude, x, data.rated)
        scorer = model_scorer(model, self._dense(config, data))
        idx, val = top_n(scorer, x, config.top_n, exclude=leave_out)
        write_recommendations(Path(run_dir) / "recommendations.csv", users, data.item_ids, idx, val)
        return ["recommendations.csv", "split.csv", "items.json"]


EASE_LAMBDAS = (100.0, 300.0, 1000.0, 3000.0)


def item_log_prior(config: RecommenderConfig, train: sp.csr_matrix) -> np.ndarray | None:
    """The softmax biases a run starts from (``item_bias``): log popularity or ``None`` (zeros).
    With 1,000 sampled items the zero start measured 0.0224 NDCG@100 on a planted
    200,000-item catalogue, the popularity start 0.0852 (popularity's ranking: 0.0455, the full
    softmax 0.0448; ``benchmarks/recommender_speed.py planted-quality --items 200000 --users
    4000 --epochs 5 --batch-size 100 --item-bias zeros auto``): most of the catalogue is never
    sampled in a short run and keeps its start."""
    return proposal(train, 1.0) if item_start(config) == "popularity" else None


def item_start(config: RecommenderConfig) -> str:
    """``item_bias`` with ``auto`` resolved: popularity with a sampled softmax, else zeros."""
    if config.item_bias == "auto":
        return "popularity" if config.sampled_softmax else "zeros"
    return config.item_bias


def proposal(train: sp.csr_matrix, power: float) -> np.ndarray:
    """log q_i of the sampled softmax: (training positives of i + 1) ** power, normalised."""
    counts = np.asarray(train.sum(axis=0)).ravel() + 1.0
    logits = power * np.log(counts)
    return logits - np.logaddexp.reduce(logits)


_EASE_CACHE: dict = {}  # the last split's baseline: the trials of a gentk tune study share it


def _split_key(data) -> str:
    import hashlib

    digest = hashlib.sha1()
    for m in (data.train, data.validation_fold_in, data.validation_targets, data.test_fold_in,
              data.test_targets):  # fmt: skip
        for part in (np.asarray(m.shape), m.indptr, m.indices):
            digest.update(np.ascontiguousarray(part).tobytes())
    return digest.hexdigest()


def ease_baseline(data: RecData) -> dict:
    """EASE (Steck, 2019) on the same split, in float32: ``ease_lambda`` picked by validation
    NDCG@100 among ``EASE_LAMBDAS`` (half-decade steps; 300 without validation users) and its
    ``ease_test_*`` metrics. ``benchmarks/recommender_quality.py`` searches a finer grid.
    The result of the last split is kept for the process (tuning trials share their split)."""
    key = _split_key(data)
    if key not in _EASE_CACHE:
        _EASE_CACHE.clear()
        _EASE_CACHE[key] = _ease_baseline(data)
    return dict(_EASE_CACHE[key])


def _ease_baseline(data) -> dict:
    from gentk.api import quiet
    from gentk_recommender.evaluation import pick_ease, ranking_metrics

    lambdas = EASE_LAMBDAS if len(data.validation_users) else (300.0,)
    lam, scorer = pick_ease(data, lambdas, np.float32)
    with quiet():
        metrics = ranking_metrics(scorer, data.test_fold_in, data.test_targets)
    return {"ease_lambda": lam, **{f"ease_test_{k}": v for k, v in metrics.items()}}


class RecVAERecipe(RecommenderRecipe):
    """RecVAE (Shenbin et al., 2020) on the recommender's data, evaluation and outputs."""

    name = "recommender-recvae"
    config = RecVAEConfig
    smoke = {"epochs": 2, "hidden": (16,), "depth": 2, "latent_dim": 8, "batch_size": 128}

    def mirrored_supported(self, config: RecommenderConfig) -> bool:
        """The encoder and decoder phases alternate: conditional updates."""
        return False

    def build(self, config: RecVAEConfig, data: RecData):
        from gentk_recommender.recvae import RecVAE

        options = constructor_options(
            RecVAE,
            config,
            n_items=data.n_items,
            hidden=config.hidden[0],  # one width, repeated `depth` times
            epsilon=config.layer_norm_epsilon,
            steps_per_epoch=-(-data.train.shape[0] // config.batch_size),
            name="recvae",
        )
        return RecVAE(**options)


class DAERecipe(RecommenderRecipe):
    name = "recommender-dae"
    variational = False
