"""Built-in plugin: the recommender VAEs (Mult-VAE / Mult-DAE, RecVAE) with their components
(encoders ``mult-vae`` and ``recvae``, decoder ``multinomial``, prior ``composite``, schedule
``linear-kl-annealing``) and commands (``recommend``, ``export``).

Ships MovieLens latest-small (``data/ratings.csv``, GroupLens license in ``data/README.txt``)
as the embedded default dataset. Registered through the ``gentk.plugins`` entry point exactly
as a third-party plugin would be.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from gentk import hookimpl
from gentk.api import option as _field

if TYPE_CHECKING:
    import click

__all__ = ["register_components", "register_models", "register_commands", "register_datasets"]


@dataclasses.dataclass
class EncoderOptions:
    n_items: int = _field(100, "catalogue size", "the data")
    hidden: tuple[int, ...] = _field((600,), "hidden widths")
    latent_dim: int = _field(200, "size of z")
    dropout: float = _field(0.5, "input dropout")
    variational: bool = _field(True, "Gaussian q (VAE) or point mass (DAE)", "the recipe")
    seed: int = _field(0, "dropout seed")


@dataclasses.dataclass
class DecoderOptions:
    n_items: int = _field(100, "catalogue size", "the data")
    hidden: tuple[int, ...] = _field((600,), "hidden widths")


@dataclasses.dataclass
class RecVAEEncoderOptions:
    n_items: int = _field(100, "catalogue size", "the data")
    hidden: int = _field(600, "width of every layer")
    depth: int = _field(5, "layers (dense links, swish, layer norm)")
    latent_dim: int = _field(200, "size of z")
    dropout: float = _field(0.5, "input dropout")
    epsilon: float = _field(0.1, "layer-norm epsilon")
    seed: int = _field(0, "dropout seed")


@dataclasses.dataclass
class CompositePriorOptions:
    latent_dim: int = _field(200, "size of z", "the recipe")
    weights: tuple[float, ...] = _field((0.15, 0.75, 0.1), "N(0,1), anchor, wide weights")
    wide_log_variance: float = _field(10.0, "log-variance of the wide component")


@dataclasses.dataclass
class AnnealingOptions:
    cap: float = _field(0.2, "largest beta")
    steps: int = _field(200000, "updates to reach the cap")


def _clicks(n_users=6, n_items=30):
    import numpy as np

    return (np.random.default_rng(0).random((n_users, n_items)) < 0.2).astype("float32")


@hookimpl
def register_components(register: Callable[..., None]):
    import numpy as np

    def model():
        from gentk_recommender import model

        return model

    def recvae():
        from gentk_recommender import recvae

        return recvae

    register(
        "encoder",
        "mult-vae",
        "gentk_recommender.model:MultEncoder",
        config=EncoderOptions,
        help="Mult-VAE encoder: L2-normalised clicks, dropout, tanh MLP (sparse or dense)",
        example=lambda: (model().MultEncoder(30, (8,), 4, 0.5), (_clicks(),)),
    )
    register(
        "decoder",
        "multinomial",
        "gentk_recommender.model:MultinomialDecoder",
        config=DecoderOptions,
        help="Multinomial decoder: softmax over all items",
        example=lambda: (
            model().MultinomialDecoder(30, (8,)),
            (np.random.default_rng(0).normal(size=(6, 4)).astype("float32"),),
        ),
    )
    register(
        "encoder",
        "recvae",
        "gentk_recommender.recvae:RecVAEEncoder",
        config=RecVAEEncoderOptions,
        help="RecVAE encoder: swish layers with layer norm and dense links (sparse or dense)",
        example=lambda: (recvae().RecVAEEncoder(30, 8, 2, 4, 0.5), (_clicks(),)),
    )
    register(
        "prior",
        "composite",
        "gentk_recommender.recvae:CompositePrior",
        config=CompositePriorOptions,
        help="RecVAE's prior: N(0,1) + an anchor posterior + a wide Gaussian, per dimension",
        example=lambda: (recvae().CompositePrior(4), ()),
    )
    register(
        "schedule",
        "linear-kl-annealing",
        "gentk_recommender.model:LinearAnnealing",
        config=AnnealingOptions,
        help="beta = cap * min(1, step / steps)",
        example=lambda: (model().LinearAnnealing(0.2, 10), (np.arange(20),)),
    )


@hookimpl
def register_datasets(register: Callable[..., None]):
    from gentk_recommender.data import DEFAULT_DATA

    register(
        "movielens-latest-small",
        lambda: str(DEFAULT_DATA),
        help="MovieLens latest-small ratings (GroupLens; shipped with its license)",
    )


@hookimpl
def register_models(register: Callable[..., None]):
    register(
        "gentk_recommender.recipe:RecommenderRecipe",
        name="recommender-vae",
        help="Mult-VAE for collaborative filtering (Liang et al., 2018): recommendations.csv",
    )
    register(
        "gentk_recommender.recipe:RecVAERecipe",
        name="recommender-recvae",
        help="RecVAE (Shenbin et al., 2020): composite prior, per-user beta, alternating "
        "encoder/decoder passes",
    )
    register(
        "gentk_recommender.recipe:DAERecipe",
        name="recommender-dae",
        help="Mult-DAE for collaborative filtering (Liang et al., 2018): recommendations.csv",
    )


@hookimpl
def register_commands(cli: click.Group):
    from gentk_recommender.commands import export, recommend

    cli.add_command(recommend)
    cli.add_command(export)
