"""``gentk recommend`` and ``gentk export``: the recommender's own CLI commands (a plugin hook)."""

from __future__ import annotations

import click
import numpy as np

__all__ = ["recommend", "export"]


def _open(run_dir):
    from gentk.api import UserError, open_run
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
def recommend(run_dir: str, data: str, top: int, exclude: str, output: str):
    """Recommend for users in --data without retraining (fold-in).

    Ratings >= the run's min_rating are the model's input; by default every item a user rated,
    at any rating, is left out. Users the model cannot score (no known positive item) get the
    training popularity ranking, marked 'popularity' in the source column.
    """
    from gentk.api import printable
    from gentk_recommender.evaluation import model_scorer, popularity_scorer, top_n
    from gentk_recommender.recipe import exclusion, use_dense, write_recommendations
    from gentk_recommender.serving import (
        fold_in_users,
        read_feedback,
        read_items,
        read_popularity,
    )

    info = _open(run_dir)
    item_ids = read_items(run_dir)
    users = fold_in_users(info.config, data, item_ids, read_feedback(run_dir, info.config))
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
    got = np.isfinite(np.asarray(val, dtype=np.float64)).sum(axis=1)
    _report_short_lists(users.users, got, top, exclude, len(item_ids))
    click.echo(f"Wrote up to {top} recommendations for {len(users.users)} users to {output}")


def _report_short_lists(users, got, top, exclude, n_items) -> None:
    """Name the users who got no recommendation, or fewer than asked, and why."""
    from gentk.api import printable

    def names(which):
        shown = ", ".join(printable(str(u)) for u in users[which][:5])
        more = len(users[which]) - 5
        return shown + (f" and {more} more" if more > 0 else "")

    why = (
        f"every item the model knows ({n_items:,}) is one they rated (--exclude {exclude})"
        if exclude != "none"
        else f"the model knows {n_items:,} items"
    )
    none = got == 0
    if none.any():
        click.echo(
            f"{int(none.sum())} user(s) got no recommendation: {why}: {names(none)}", err=True
        )
    short = (got > 0) & (got < min(top, n_items))
    if short.any():
        click.echo(
            f"{int(short.sum())} user(s) got fewer than {top} recommendations, as only that many "
            f"of the model's {n_items:,} items are left after --exclude {exclude}: {names(short)}",
            err=True,
        )


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
@click.option(
    "--force",
    is_flag=True,
    help="Replace an earlier export at --output (never a folder that is not a gentk export).",
)
def export(run_dir: str, output: str, top: int, exclude: str, force: bool):
    """Export a SavedModel serving top-N items for a list of item identifiers.

    Users with no item the model knows get the training popularity ranking, as in `gentk
    recommend`. The export is written beside --output and renamed into place, so a killed export
    leaves the previous one (or nothing), never a mix.
    """
    from pathlib import Path

    from gentk.api import RunLock, UserError, check_output_path, disk_full
    from gentk_recommender.serving import export_saved_model, read_items, read_popularity

    out = check_output_path(output, "--output")
    source = Path(run_dir).resolve()
    if out == source or out in source.parents:
        raise UserError(f"--output {output} holds the run {run_dir}; choose another directory")
    info = _open(run_dir)
    item_ids = read_items(run_dir)
    popularity = read_popularity(run_dir, item_ids)
    with RunLock(out, "export directory"):
        _restore_stranded(out)
        _check_replaceable(out, output, force)
        model = info.model()
        with _staging(out) as tmp, disk_full(tmp):
            export_saved_model(
                model, item_ids, tmp, top, exclude_inputs=exclude != "none", popularity=popularity
            )
            _swap_in(tmp, out)
    click.echo(
        f"Exported SavedModel to {output} (signature 'serve': items, exclude -> items, scores, "
        "source)"
    )


# what a TensorFlow SavedModel directory holds; --force replaces a folder of these alone
SAVED_MODEL_NAMES = {"saved_model.pb", "saved_model.pbtxt", "fingerprint.pb", "variables", "assets"}


def _temporaries(out, kind: str):
    return sorted(out.parent.glob(f".{out.name}.export-{kind}-*"))


def _restore_stranded(out) -> None:
    """Undo what a killed export left: a previous export set aside but not yet replaced comes
    back; half-written new exports and old ones already replaced are deleted."""
    import shutil

    for old in _temporaries(out, "old"):
        if not out.exists() and (old / "model" / "saved_model.pb").is_file():
            (old / "model").rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for new in _temporaries(out, "new"):
        shutil.rmtree(new, ignore_errors=True)


def _check_replaceable(out, output, force) -> None:
    from gentk.api import UserError

    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"--output {output} exists and is not a directory")
    names = {p.name for p in out.iterdir()}
    if not names:
        return
    if not force:
        raise UserError(f"--output {output} already exists; pass --force to replace it")
    others = names - SAVED_MODEL_NAMES
    if others or "variables" not in names:
        shown = ", ".join(sorted(others)[:3]) or "no variables/"
        raise UserError(
            f"--force: {output} is not a gentk export ({shown}), so it is not replaced; "
            "choose another --output"
        )


def _staging(out):
    """A fresh directory beside ``out`` (same file system: the rename is atomic), removed on
    the way out unless it was renamed into place."""
    import contextlib
    import shutil
    import tempfile
    from pathlib import Path

    @contextlib.contextmanager
    def staged():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-new-", dir=out.parent))
        try:
            yield tmp / "model"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return staged()


def _swap_in(new, out) -> None:
    """Rename the previous export aside, the new one in, then delete the old: at every moment
    ``out`` is a complete export or (for an instant) absent with the old one beside it."""
    import shutil
    import tempfile
    from pathlib import Path

    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-old-", dir=out.parent))
        out.rename(old / "model")
    new.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
