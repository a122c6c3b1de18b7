"""``gentk plugins``: every registered entry by kind, with its plugin and distribution version."""

from __future__ import annotations

import json

import click

__all__ = ["command"]


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def command(as_json: bool):
    """List every registered model and component with its plugin and version."""
    from gentk.plugins import get_registry

    entries = get_registry().entries()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "kind": e.kind,
                        "name": e.name,
                        "plugin": e.plugin,
                        "version": e.version,
                        "help": e.help,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return
    kind = None
    for e in entries:
        if e.kind != kind:
            kind = e.kind
            click.echo(f"{kind}:")
        click.echo(f"  {e.name:<24} {f'{e.plugin} {e.version}':<20} {e.help}")
