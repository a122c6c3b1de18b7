"""``gentk recommend`` and ``gentk export``: the recommender's own CLI commands (a plugin hook)."""

from __future__ import annotations

import click

__all__ = ["recommend", "export"]


def _open(run_dir):
    from gentk.cli.common import open_run
    from gentk.errors import UserError
    from gentk_recommender.recipe import RecommenderRecipe

    info = open_run(run_dir)
    if not isinstance(info.recipe, RecommenderRecipe):
        raise UserError(f"{run_dir} is a {info.recipe.name!r} run, not a recommender run")
    return info


@click.command("recommend")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Interactions of the users to recommend for (same format as training).",
)
@click.option(
    "-n", "top", type=click.IntRange(min=1), default=100, show_default=True, help="Items per user."
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV to write: user,item,rank,score.",
)
def recommend(run_dir, data, top, output):
    """Recommend for users in --data without retraining (fold-in)."""
    from gentk_recommender.evaluation import model_scorer, top_n
    from gentk_recommender.recipe import use_dense, write_recommendations
    from gentk_recommender.serving import fold_in_users, read_items

    info = _open(run_dir)
    item_ids = read_items(run_dir)
    users, x, report = fold_in_users(info.config, data, item_ids)
    model = info.model()
    idx, val = top_n(model_scorer(model, use_dense(info.config, len(item_ids))), x, top)
    write_recommendations(output, users, item_ids, idx, val)
    if report["unknown_item_rows"]:
        click.echo(
            f"Skipped {report['unknown_item_rows']} rows of {report['unknown_items']} "
            "items the model does not know.",
            err=True,
        )
    if report["users_without_known_items"]:
        click.echo(
            f"{report['users_without_known_items']} user(s) have no item the model "
            "knows and get no recommendations.",
            err=True,
        )
    click.echo(f"Wrote {top} recommendations for {len(users)} users to {output}")


@click.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the TensorFlow SavedModel.",
)
@click.option(
    "-n",
    "top",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Items the serving signature returns.",
)
@click.option("--force", is_flag=True, help="Replace an existing export directory.")
def export(run_dir, output, top, force):
    """Export a SavedModel serving top-N items for a list of item identifiers."""
    import shutil
    import tempfile
    from pathlib import Path

    from gentk.errors import UserError
    from gentk_recommender.serving import export_saved_model, read_items

    out = Path(output)
    if out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{out} already exists; pass --force to replace it")
    info = _open(run_dir)
    model = info.model()
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent if out.parent.exists() else None))
    try:
        export_saved_model(model, read_items(run_dir), tmp / "model", top)
        if out.exists():
            shutil.rmtree(out)
        (tmp / "model").rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    click.echo(f"Exported SavedModel to {out} (signature 'serve': items -> items, scores)")
