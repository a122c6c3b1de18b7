"""``gentk tune NAME --space KEY=... --trials N``: search options of any model (Optuna)."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["command"]


@click.command("tune")
@click.argument("name")
@click.option(
    "--space",
    multiple=True,
    required=True,
    metavar="KEY=V1,V2|LOW:HIGH[:log]",
    help="An option to search: choices, a range (integers if both ends are) or a log range; "
    "repeatable.",
)
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="Finished trials (complete or pruned) the study should hold; a trial that "
              "diverges (NaN guard) fails and another takes its place.")  # fmt: skip
@click.option("--data", help="Data file or folder, or a registered dataset name.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="TOML file of options every trial starts from.")  # fmt: skip
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A fixed option for every trial; repeatable.")  # fmt: skip
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the data per trial.")
@click.option(
    "--metric",
    help="Key to optimise: of the epoch logs (reported per epoch, prunable) or of metrics.json "
    "(default: the model's validation metric, e.g. val_ndcg@100 or val_loss).",
)
@click.option("--maximize/--minimize", default=None,
              help="Direction for --metric (default: the model's, else minimize).")  # fmt: skip
@click.option("--no-prune", is_flag=True, help="Run every trial to the end.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Sampler seed (the trials' own seed is an option: --set seed=).")  # fmt: skip
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None,
              help="Study directory (default: runs/NAME-study); rerun to resume it.")  # fmt: skip
@click.option("--keep-models", type=click.Choice(["best", "all"]), default="best",
              show_default=True,
              help="Trials that keep model.keras and checkpoints/: the best, or all.")  # fmt: skip
def command(
    name: str,
    space: tuple[str, ...],
    trials: int,
    data: str | None,
    config_path: str | None,
    overrides: tuple[str, ...],
    epochs: int | None,
    metric: str | None,
    maximize: bool | None,
    no_prune: bool,
    seed: int,
    output: str | None,
    keep_models: str,
):
    """Search options of model NAME: each trial is a run directory under the study directory,
    which also holds study.csv, study.png and best.json. A killed study resumes when the same
    command is run again (the interrupted trial continues from its checkpoint)."""
    from gentk.plugins import get_registry
    from gentk.training.plan import dataset_label, resolve_data
    from gentk.tune import tune

    registry = get_registry()
    recipe = registry.get("model", name).factory
    label = dataset_label(data)
    data = resolve_data(data)
    if isinstance(data, str):
        data = str(Path(data).resolve())  # trials resume from any working directory
    direction = None if maximize is None else ("maximize" if maximize else "minimize")
    best = tune(
        recipe,
        space=space,
        trials=trials,
        output=output or f"runs/{name}-study",
        data=data,
        data_label=label,
        metric=metric,
        direction=direction,
        overrides=overrides,
        config_path=config_path,
        prune=not no_prune,
        seed=seed,
        echo=lambda line: click.echo(line, err=True),
        keep_models=keep_models,
        **({"epochs": epochs} if epochs else {}),
    )
    click.echo(json.dumps(best, indent=2, sort_keys=True))
