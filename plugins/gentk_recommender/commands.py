"""``gentk recommend`` and ``gentk export``: the recommender's own CLI commands (a plugin hook)."""

from __future__ import annotations

import click
import numpy as np

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
    "--exclude",
    type=click.Choice(["seen", "positives", "none"]),
    default="seen",
    show_default=True,
    help="Items never recommended to a user: every item they rated (seen), their positives "
    "only, or none.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV to write: user,item,rank,score,source.",
)
def recommend(run_dir, data, top, exclude, output):
    """Recommend for users in --data without retraining (fold-in).

    Ratings >= the run's min_rating are the model's input; by default every item a user rated,
    at any rating, is left out. Users the model cannot score (no known positive item) get the
    training popularity ranking, marked 'popularity' in the source column.
    """
    from gentk.errors import printable
    from gentk_recommender.evaluation import model_scorer, popularity_scorer, top_n
    from gentk_recommender.recipe import exclusion, use_dense, write_recommendations
    from gentk_recommender.serving import fold_in_users, read_items, read_popularity

    info = _open(run_dir)
    item_ids = read_items(run_dir)
    users = fold_in_users(info.config, data, item_ids)
    click.echo(printable(users.report["summary"]), err=True)
    leave_out = exclusion(exclude, users.positives, users.rated)
    idx, val = top_n(
        popularity_scorer(read_popularity(run_dir, item_ids)),
        users.positives,
        top,
        exclude=leave_out,
    )
    warm = np.flatnonzero(~users.cold)
    if len(warm):
        model = info.model()
        scorer = model_scorer(model, use_dense(info.recipe, info.config, len(item_ids)))
        w_idx, w_val = top_n(scorer, users.positives[warm], top, exclude=leave_out[warm])
        idx[warm], val[warm] = w_idx, w_val
    sources = np.where(users.cold, "popularity", "model")
    write_recommendations(output, users.users, item_ids, idx, val, sources)
    report = users.report
    if report["unknown_item_rows"]:
        click.echo(
            f"Skipped {report['unknown_item_rows']} rows of {report['unknown_items']} "
            "items the model does not know.",
            err=True,
        )
    if report["cold_users"]:
        click.echo(
            f"{report['cold_users']} user(s) have no positive item the model knows "
            f"({report['users_without_positives']} with every rating below "
            f"{info.config.min_rating:g}): they get the popularity ranking (source=popularity).",
            err=True,
        )
    click.echo(f"Wrote up to {top} recommendations for {len(users.users)} users to {output}")


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
@click.option(
    "--exclude",
    type=click.Choice(["seen", "positives", "none"]),
    default="seen",
    show_default=True,
    help="seen/positives: the input items are never returned (callers pass a user's other "
    "rated items as 'exclude'); none: only the 'exclude' items are left out.",
)
@click.option("--force", is_flag=True, help="Replace an existing export directory.")
def export(run_dir, output, top, exclude, force):
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
        export_saved_model(
            model, read_items(run_dir), tmp / "model", top, exclude_inputs=exclude != "none"
        )
        if out.exists():
            shutil.rmtree(out)
        (tmp / "model").rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    click.echo(f"Exported SavedModel to {out} (signature 'serve': items, exclude -> items, scores)")
