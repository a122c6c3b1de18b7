"""The plugin contract is enforced: every hook documented and tested, every command helped."""

import inspect
import re
from pathlib import Path

import click

from gentk import hookspecs
from gentk.cli import _add_plugin_commands, cli

ROOT = Path(__file__).resolve().parents[1]
HOOKS = [
    name for name, fn in vars(hookspecs).items() if name.startswith("register_") and callable(fn)
]


def test_there_are_hooks():
    assert set(HOOKS) == {
        "register_components",
        "register_models",
        "register_datasets",
        "register_commands",
    }


def test_every_hook_has_a_docstring():
    for name in HOOKS:
        assert len(inspect.getdoc(getattr(hookspecs, name))) > 80, name


def test_every_hook_is_documented_with_its_signature():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    for name in HOOKS:
        params = inspect.signature(getattr(hookspecs, name)).parameters
        sig = f"{name}({', '.join(params)})"  # as the page's headings write it, without types
        assert sig in doc, f"docs/plugins.md lacks `{sig}`"


def test_every_hook_is_exercised_by_a_test():
    tests = "\n".join(
        p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.name != Path(__file__).name
    )
    for name in HOOKS:
        assert re.search(rf"\b{name}\b", tests), f"no test mentions {name}"


def test_every_cli_command_has_help_text():
    _add_plugin_commands()
    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    assert {"run", "plugins", "info", "sample", "evaluate", "recommend", "export"} <= set(names)
    for name in names:
        command = cli.get_command(ctx, name)
        assert command.help and len(command.help) > 20, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"


def test_every_recipe_method_is_documented_with_its_signature():
    """#10 item 14: docs/plugins.md lists each Recipe method a plugin author may implement."""
    from gentk.recipe import Recipe

    doc = (ROOT / "docs" / "plugins.md").read_text()
    for name, fn in vars(Recipe).items():
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        params = list(inspect.signature(fn).parameters.values())[1:]  # without self
        shown = ", ".join(
            ("*, " if p.kind is p.KEYWORD_ONLY and i == next(
                j for j, q in enumerate(params) if q.kind is q.KEYWORD_ONLY) else "")
            + (f"**{p.name}" if p.kind is p.VAR_KEYWORD else p.name)
            + ("" if p.default is p.empty else f"={p.default!r}")
            for i, p in enumerate(params)
        )  # fmt: skip
        shown = re.sub(r"=None\b", "=None", shown).replace(": str | None", "")
        assert f"{name}({shown})" in doc, f"docs/plugins.md lacks `{name}({shown})`"
