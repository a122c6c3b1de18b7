"""``gentk info NAME``: the options, defaults and help of a model or component."""

from __future__ import annotations

import click

__all__ = ["command"]


@click.command("info")
@click.argument("name")
@click.option("--kind", help="Disambiguate when several kinds share NAME (e.g. decoder).")
def command(name, kind):
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
        for opt, default, text in e.options():
            shown = str(default).lower() if isinstance(default, bool) else default
            if isinstance(shown, tuple):
                shown = ",".join(map(str, shown))
            click.echo(f"  {f'--set {opt}={shown}':<44} {text}")
