"""The ``gentk`` command group: one module per command; errors become one line and an exit code."""

from __future__ import annotations

import sys

import click

from gentk.errors import GentkError, printable

__all__ = ["cli", "main"]


class _Group(click.Group):
    """Turns gentk errors into one line and a non-zero exit; ``--debug`` shows the traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as err:
            message = err.format_message
            err.format_message = lambda: printable(message())  # values quoted from input
            raise
        except (GentkError, OSError) as err:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {printable(str(err))}", err=True)
            ctx.exit(getattr(err, "exit_code", 2 if isinstance(err, OSError) else 1))
        except KeyboardInterrupt:
            click.echo("Interrupted; completed checkpoints are kept (use --resume).", err=True)
            ctx.exit(130)
        except Exception as err:  # noqa: BLE001 - the CLI never shows a raw traceback
            if ctx.params.get("debug"):
                raise
            click.echo(
                f"Error: internal error: {type(err).__name__}: {printable(str(err))} "
                "(rerun with --debug for the traceback)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gentk", prog_name="gentk")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
def cli(debug):
    """gentk: train, evaluate and sample generative models from plugins.

    Start with `gentk plugins` to see what is installed and `gentk run NAME` to train.
    """


def _add_commands():
    from gentk.cli import (
        decode,
        encode,
        evaluate,
        info,
        launch,
        plugins_cmd,
        run,
        sample,
        score,
        tune,
    )

    for module in (run, tune, launch, plugins_cmd, info, sample, evaluate, encode, decode, score):
        cli.add_command(module.command)


def _add_plugin_commands():
    from gentk.plugins import default_plugin_manager

    default_plugin_manager().hook.register_commands(cli=cli)


def _show_plugin_warnings():
    """Plugin warnings as one ``Warning: ...`` line each on stderr (no file:line prefix)."""
    import warnings

    from gentk.plugins import PluginLoadWarning

    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, PluginLoadWarning):
            click.echo(f"Warning: {printable(str(message))}", err=True)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show


_add_commands()


def main(argv=None):
    """Console entry point."""
    if "--debug" not in (sys.argv[1:] if argv is None else argv):
        from gentk.cli.native_log import filter_fd2, quiet_deprecations

        filter_fd2()
        quiet_deprecations()
    _show_plugin_warnings()
    try:
        _add_plugin_commands()
    except GentkError as err:
        click.echo(f"Error: {printable(str(err))}", err=True)
        sys.exit(2)
    cli.main(args=argv, prog_name="gentk")
