"""Built-in plugin: the recommender VAE (Mult-VAE / Mult-DAE) with its components and commands.

Ships MovieLens latest-small (``data/ratings.csv``, GroupLens license in ``data/README.txt``)
as the embedded default dataset. Registered through the ``gentk.plugins`` entry point exactly
as a third-party plugin would be.
"""

from __future__ import annotations

import dataclasses

from gentk import hookimpl
from gentk.config import option as _field

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
class AnnealingOptions:
    cap: float = _field(0.2, "largest beta")
    steps: int = _field(200000, "updates to reach the cap")


def _clicks(n_users=6, n_items=30):
    import numpy as np

    return (np.random.default_rng(0).random((n_users, n_items)) < 0.2).astype("float32")


@hookimpl
def register_components(register):
    import numpy as np

    def model():
        from gentk_recommender import model

        return model

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
        "schedule",
        "linear-kl-annealing",
        "gentk_recommender.model:LinearAnnealing",
        config=AnnealingOptions,
        help="beta = cap * min(1, step / steps)",
        example=lambda: (model().LinearAnnealing(0.2, 10), (np.arange(20),)),
    )


@hookimpl
def register_datasets(register):
    from gentk_recommender.data import DEFAULT_DATA

    register(
        "movielens-latest-small",
        lambda: str(DEFAULT_DATA),
        help="MovieLens latest-small ratings (GroupLens; shipped with its license)",
    )


@hookimpl
def register_models(register):
    register(
        "gentk_recommender.recipe:RecommenderRecipe",
        name="recommender-vae",
        help="Mult-VAE for collaborative filtering (Liang et al., 2018): recommendations.csv",
    )
    register(
        "gentk_recommender.recipe:DAERecipe",
        name="recommender-dae",
        help="Mult-DAE for collaborative filtering (Liang et al., 2018): recommendations.csv",
    )


@hookimpl
def register_commands(cli):
    from gentk_recommender.commands import export, recommend

    cli.add_command(recommend)
    cli.add_command(export)
