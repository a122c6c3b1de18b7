"""``gentk encode RUN_DIR --data X -o latents.npz``: the codes of every row (compression)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gentk.cli.common import RunInfo

__all__ = ["command", "read_rows_for"]


def read_rows_for(info: RunInfo, data: str | None):
    """All rows of ``data`` (default: the run's own data), checked against the model's shape."""
    import numpy as np

    from gentk.errors import UserError
    from gentk.training.plan import resolve_data

    source = resolve_data(data or info.meta.get("data"))
    try:
        rows = info.recipe.read_rows(info.config, source)
    except NotImplementedError as err:
        raise UserError(str(err)) from None
    expected = info.meta.get("data_shape")
    if expected is not None and list(rows.x.shape[1:]) != list(expected):
        raise UserError(
            f"{rows.source}: rows of shape {tuple(rows.x.shape[1:])} do not match the model's "
            f"input {tuple(expected)}"
        )
    labels = rows.labels
    if labels is not None and not np.issubdtype(np.asarray(labels).dtype, np.integer):
        labels = None
    return rows.x, labels, rows.source


@click.command("encode")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--data", default=None, help="File, folder or dataset name (default: the run's).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="Output .npz.")
def command(run_dir: str, data: str | None, output: str):
    """Write the code of every row of DATA under the model of RUN_DIR to an .npz
    (``codes``, and ``labels`` when the data have them)."""
    import numpy as np

    from gentk.atomic import atomic_path
    from gentk.cli.common import open_run
    from gentk.errors import UserError

    info = open_run(run_dir)
    x, labels, source = read_rows_for(info, data)
    model = info.model()
    try:
        codes = info.recipe.codes(model, x, labels)
    except NotImplementedError as err:
        raise UserError(str(err)) from None
    arrays = {"codes": codes} if labels is None else {"codes": codes, "labels": labels}
    with atomic_path(Path(output), suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    click.echo(f"Wrote codes {codes.shape} of {len(x)} rows of {source} to {output}")
