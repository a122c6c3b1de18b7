"""``gentk sample RUN_DIR -n N``: draw samples from a trained model."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["command"]


@click.command("sample")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Number of samples.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Output .npz or .csv (default: RUN_DIR/samples-N.npz); a PNG grid is written beside.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option("--label", type=int, default=None, help="Class to condition on (conditional models).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a sampling option of the run's config (e.g. temperature=0.7 for flows).",
)
def command(
    run_dir: str,
    count: int,
    output: str | None,
    seed: int,
    label: int | None,
    overrides: tuple[str, ...],
):
    """Draw N samples from the model trained in RUN_DIR."""
    from gentk.cli.common import open_run

    info = open_run(run_dir, overrides)
    model = info.model()
    options = {} if label is None else {"label": label}
    samples = info.recipe.sample(model, count, info.config, seed=seed, **options)
    out = Path(output) if output else Path(run_dir) / f"samples-{count}.npz"
    info.recipe.write_samples(samples, out, info.config)
    click.echo(f"Wrote {count} samples to {out}")
