"""``gentk score RUN_DIR --data X -o scores.csv``: a per-row anomaly score."""

from __future__ import annotations

import csv
from pathlib import Path

import click

__all__ = ["command"]


@click.command("score")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--data", default=None, help="File, folder or dataset name (default: the run's).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="Output .csv.")
def command(run_dir: str, data: str | None, output: str):
    """Score every row of DATA (higher is more anomalous): the negative ELBO for likelihood
    models, the exact negative log-likelihood for flows, the reconstruction error for
    autoencoders. Columns: row, then the score named by what it holds (negative_elbo,
    negative_log_likelihood, reconstruction_error, ...), then label when the data have one."""
    from gentk.atomic import atomic_path
    from gentk.cli.common import open_run
    from gentk.cli.encode import read_rows_for
    from gentk.errors import UserError
    from gentk.training.runner import seed_everything

    info = open_run(run_dir)
    seed_everything(info.config.seed)
    x, labels, source = read_rows_for(info, data)
    model = info.model()
    try:
        name, scores = info.recipe.scores(model, info.config, x, labels)
    except NotImplementedError as err:
        raise UserError(str(err)) from None
    with atomic_path(Path(output), suffix=".csv") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["row", name] + ([] if labels is None else ["label"]))
            for i, value in enumerate(scores):
                writer.writerow([i, f"{value:.6g}"] + ([] if labels is None else [labels[i]]))
    click.echo(f"Wrote {len(scores)} scores ({name}) of {source} to {output}")
