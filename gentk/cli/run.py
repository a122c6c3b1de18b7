"""``gentk run NAME``: train a registered model into a run directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

__all__ = ["command"]


@click.command("run")
@click.argument("name")
@click.option(
    "--data",
    help="Data file or folder, or a registered dataset name (default: the "
    "model's embedded dataset).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML file of options.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one option; repeatable. `gentk info NAME` lists them.",
)
@click.option(
    "--validation",
    type=click.Path(exists=True, dir_okay=False),
    help="Held-out validation data in its own file, read as --data is (image, vector, flow and "
    "GAN recipes: rows; recommenders: new users, their items split fold-in/target).",
)
@click.option(
    "--test",
    type=click.Path(exists=True, dir_okay=False),
    help="Held-out test data in its own file (as --validation).",
)
@click.option("--epochs", type=click.IntRange(min=0), help="Passes over the training data.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Examples per update.")
@click.option("--seed", type=int, help="Seed for splits, initialisation and sampling.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False),
    default=None,
    help="Run directory (default: runs/NAME).",
)
@click.option(
    "--resume", is_flag=True, help="Continue the run in --output from its last complete checkpoint."
)
@click.option("--force", is_flag=True, help="Replace whatever --output holds.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def command(
    name: str,
    data: str | None,
    config_path: str | None,
    overrides: tuple[str, ...],
    validation: str | None,
    test: str | None,
    epochs: int | None,
    batch_size: int | None,
    seed: int | None,
    output: str | None,
    resume: bool,
    force: bool,
    quiet: bool,
):
    """Train model NAME, evaluate it and write its run directory.

    The directory holds config.toml, model.keras, checkpoints/, history.csv, metrics.json,
    tensorboard/, PNG plots and run.log; --resume continues a killed run.
    """
    from gentk.errors import UserError
    from gentk.training.multiworker import cluster_workers, is_chief, multi_worker_strategy

    if cluster_workers() > 1:
        multi_worker_strategy()  # TensorFlow allows it only before any other operation
    from gentk.plugins import get_registry
    from gentk.training.runner import run

    if resume and force:
        raise UserError("--resume and --force exclude each other")
    recipe = get_registry().get("model", name).factory
    held_out = {}
    for flag, field, path in (
        ("--validation", "validation_data", validation),
        ("--test", "test_data", test),
    ):
        if path is None:
            continue
        if field not in {f.name for f in dataclasses.fields(recipe.config)}:
            raise UserError(f"{flag}: model {name!r} takes no held-out data file")
        held_out[field] = str(Path(path).resolve())
    result = run(
        recipe,
        data=data,
        output=output or f"runs/{name}",
        resume=resume,
        force=force,
        verbose=0 if quiet else None,
        config_path=config_path,
        overrides=overrides,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        **held_out,
    )
    if not is_chief():
        click.echo("Worker finished; the chief writes the run directory and its metrics.")
        return
    click.echo(summary(result.metrics))
    click.echo(f"Run written to {result.run_dir} (every metric in metrics.json)")


def summary(metrics: dict, width: int = 6) -> str:
    """A few lines for the terminal: the test metrics (at most ``width``; the other figures
    where a model has no test split, as GANs), the epochs and the training time;
    ``metrics.json`` holds the rest."""
    tests = [(k, v) for k, v in metrics.items() if k.startswith("test_") and _number(v)]
    if not tests:  # GANs: FD, modes, precision/recall (not the real-data floors)
        skip = ("epochs", "best_epoch", "train_seconds_this_session")
        tests = [
            (k, v)
            for k, v in metrics.items()
            if _number(v)
            and k not in skip
            and not k.endswith("_floor")
            and not k.startswith(("n_", "quality_samples"))
        ]
    tests.sort(key=lambda kv: kv[0])
    lines = [f"  {k} = {v:.6g}" for k, v in tests[:width]]
    if len(tests) > width:
        lines.append(f"  ... and {len(tests) - width} more")
    extra = [
        f"{k} {metrics[k]:.6g}" if isinstance(metrics[k], float) else f"{k} {metrics[k]}"
        for k in ("epochs", "best_epoch", "train_seconds_this_session")
        if k in metrics and _number(metrics[k])
    ]
    head = "Metrics: " + ", ".join(extra) if extra else "Metrics:"
    return "\n".join([head, *lines])


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
