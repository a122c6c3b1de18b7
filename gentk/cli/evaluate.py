"""``gentk evaluate RUN_DIR [--data]``: the test metrics of a trained model, as JSON."""

from __future__ import annotations

import json

import click

__all__ = ["command"]


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--data",
    default=None,
    help="Data file, folder or dataset name to evaluate on (default: the run's own data).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the metrics to this JSON file.",
)
def command(run_dir: str, data: str | None, output: str | None):
    """Evaluate the model trained in RUN_DIR and print its metrics."""
    from gentk.atomic import atomic_write_json
    from gentk.cli.common import open_run
    from gentk.training.runner import seed_everything

    info = open_run(run_dir)
    seed_everything(info.config.seed)
    model = info.model()
    from gentk.training.plan import resolve_data

    source = resolve_data(data or info.meta.get("data"))
    dataset = info.recipe.load_eval_data(info.config, source, info.run_dir)
    metrics = info.recipe.evaluate(model, info.config, dataset)
    if output:
        atomic_write_json(output, metrics)
    click.echo(json.dumps(metrics, indent=2, sort_keys=True, default=float))
