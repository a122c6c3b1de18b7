"""``gentk decode RUN_DIR codes.npz -o out.npz``: data back from codes ``gentk encode`` wrote."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["command"]


@click.command("decode")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("codes_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="Output .npz.")
def command(run_dir: str, codes_file: str, output: str):
    """Decode the ``codes`` array of CODES_FILE with the model of RUN_DIR; writes ``x`` to an
    .npz and a PNG grid beside it for images."""
    import zipfile

    import numpy as np

    from gentk.atomic import atomic_path
    from gentk.cli.common import open_run
    from gentk.errors import UserError

    info = open_run(run_dir)
    try:
        with np.load(codes_file, allow_pickle=False) as f:
            if "codes" not in f:
                raise UserError(f"{codes_file}: no 'codes' array (found: {', '.join(f.files)})")
            codes, labels = f["codes"], (f["labels"] if "labels" in f else None)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise UserError(f"{codes_file}: not a readable .npz ({err})") from None
    model = info.model()
    try:
        x = info.recipe.decode_codes(model, codes, labels)
    except NotImplementedError as err:
        raise UserError(str(err)) from None
    except (ValueError, TypeError) as err:
        raise UserError(f"{codes_file}: {err}") from None
    with atomic_path(Path(output), suffix=".npz") as tmp:
        np.savez_compressed(tmp, x=x)
    if x.ndim >= 3:
        from gentk import plots

        plots.image_grid(x[:64], Path(output).with_suffix(".png"), title="decoded")
    click.echo(f"Wrote {len(x)} decoded rows to {output}")
