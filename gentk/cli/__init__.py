"""The ``gentk`` command group: one module per command; errors become one line and an exit code."""

from __future__ import annotations

import os
import sys

# the command line keeps TensorFlow's C++ INFO lines off the terminal (read when TensorFlow
# loads, on first use of a model); the library leaves the environment to its caller
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402

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
        except NotImplementedError as err:  # a recipe without sample/encode/score...
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {printable(str(err) or 'not supported by this model')}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted; completed checkpoints are kept (use --resume).", err=True)
            ctx.exit(130)
        except Exception as err:  # noqa: BLE001 - the CLI never shows a raw traceback
            if ctx.params.get("debug"):
                raise
            if _out_of_memory(err):
                click.echo(f"Error: {printable(_out_of_memory(err))}", err=True)
                ctx.exit(3)
            click.echo(
                f"Error: internal error: {type(err).__name__}: {printable(str(err))} "
                "(rerun with --debug for the traceback)",
                err=True,
            )
            ctx.exit(1)


def _out_of_memory(err: BaseException) -> str | None:
    """One line for an allocation that did not fit (TensorFlow's OOM or Python's MemoryError),
    naming the tensor's shape and size; None for other errors."""
    import re

    name = type(err).__name__
    if not isinstance(err, MemoryError) and name != "ResourceExhaustedError":
        return None
    text = str(err)
    found = re.search(r"OOM when allocating tensor with shape\[([\d,\s]*)\] and type (\w+)", text)
    if found is None:
        if isinstance(err, MemoryError) or "OOM" in text or "out of memory" in text.lower():
            return "out of memory; lower the sizes (batch size, widths, number of samples)"
        return None
    shape = [int(d) for d in found.group(1).replace(" ", "").split(",") if d]
    size = 1
    for d in shape:
        size *= d
    width = {"float": 4, "double": 8, "half": 2, "bfloat16": 2, "int64": 8, "int32": 4}
    gigabytes = size * width.get(found.group(2), 4) / 1e9
    layer = re.search(r"calling (\w+)\.call\(\)", text)
    where = f" in {layer.group(1)}" if layer else ""
    return (
        f"out of memory: a {found.group(2)} tensor of shape [{', '.join(map(str, shape))}] "
        f"({gigabytes:,.1f} GB){where} did not fit; lower the sizes that make it (batch size, "
        "widths, number of samples)"
    )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gentk", prog_name="gentk")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
def cli(debug: bool):
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


def notes_handler():
    """A logging handler writing each record's message to ``sys.stderr`` as it is when the
    record comes (``filter_fd2`` replaces it after the handler is made; click's test runner
    swaps it per command), not as it was when the handler was made."""
    import logging

    class CurrentStderr(logging.StreamHandler):
        def __init__(self):
            logging.Handler.__init__(self)
            self.setFormatter(logging.Formatter("%(message)s"))

        @property
        def stream(self):
            return sys.stderr

    return CurrentStderr()


def _show_notes() -> None:
    """The library's notes (``gentk.progress.note``) as lines on stderr."""
    import logging

    from gentk.progress import NOTES

    logger = logging.getLogger(NOTES)
    if not any(getattr(h, "gentk_cli", False) for h in logger.handlers):
        handler = notes_handler()
        handler.gentk_cli = True
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None):
    """Console entry point."""
    _show_notes()
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
