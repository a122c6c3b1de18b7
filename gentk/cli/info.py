"""``gentk info NAME``: the options, defaults and help of a model or component.

A model's options are what ``--set`` takes. A component's are passed by the recipe that uses
it, from the recipe's options of the same name; those a user cannot set at all (the data's
shape, choices the recipe makes) carry ``set_by`` in their metadata and are listed apart.
"""

from __future__ import annotations

import dataclasses

import click

__all__ = ["command"]


def _shown(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return value


def _set_by(entry) -> dict[str, str]:
    if entry.config is None:
        return {}
    return {
        f.name: f.metadata["set_by"]
        for f in dataclasses.fields(entry.config)
        if f.metadata.get("set_by")
    }


def _inactive(entry) -> dict[str, str]:
    """The options the model ignores with its defaults (``Recipe.inactive_options``)."""
    recipe = entry.factory
    if entry.config is None or not hasattr(recipe, "inactive_options"):
        return {}
    return recipe.inactive_options(entry.config())


def _shaped(entry) -> dict[str, dict]:
    """The defaults a model takes on another kind of data (``Recipe.shaped_defaults``), where
    they differ from those listed."""
    recipe = entry.factory
    shaped = getattr(recipe, "shaped_defaults", None) or {}
    if entry.config is None or not shaped:
        return {}
    own = entry.config()
    out = {}
    for kind, values in shaped.items():
        changed = {k: v for k, v in values.items() if getattr(own, k, v) != v}
        if changed:
            out[kind] = changed
    return out


@click.command("info")
@click.argument("name")
@click.option("--kind", help="Disambiguate when several kinds share NAME (e.g. decoder).")
def command(name: str, kind: str | None):
    """Show the options and defaults of model or component NAME."""
    from gentk.errors import UserError
    from gentk.plugins import get_registry

    registry = get_registry()
    entries = [registry.get(kind, name)] if kind else registry.find(name)
    if not entries:
        registry.get("model", name)  # raises with suggestions
        raise UserError(f"nothing registered as {name!r}")
    for e in entries:
        click.echo(f"{e.kind} {e.name} ({e.plugin} {e.version})")
        if e.help:
            click.echo(f"  {e.help}")
        fixed = _set_by(e)
        options = [row for row in e.options() if row[0] not in fixed]
        if e.kind == "model":
            inactive = _inactive(e)
            for opt, default, text in options:
                if opt not in inactive:
                    click.echo(f"  {f'--set {opt}={_shown(default)}':<44} {text}")
            for kind, changed in _shaped(e).items():
                shown = ", ".join(f"{k}={_shown(v)}" for k, v in changed.items())
                click.echo(f"  defaults on {kind} (unless set): {shown}")
            continue
        if options:
            click.echo(
                "  options (a recipe passes its own option of the same name, e.g. --set "
                "latent_dim; the defaults shown apply when the component is built from Python):"
            )
        for opt, default, text in options:
            click.echo(f"    {f'{opt}={_shown(default)}':<42} {text}")
        if fixed:
            set_by = ", ".join(f"{opt} (by {who})" for opt, who in fixed.items())
            click.echo(f"  set by gentk, not by --set: {set_by}")
