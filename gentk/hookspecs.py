"""Every hook a gentk plugin can implement. Hooks receive a ``register`` callback from gentk.

Hook names are ``register_<what>(register)``: gentk passes the callback and keeps validation,
naming and error messages on its side (as ``llm`` does). A plugin module implements any subset
with ``@gentk.hookimpl`` and announces itself in the ``gentk.plugins`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

__all__ = ["hookspec", "hookimpl", "PROJECT_NAME"]

PROJECT_NAME = "gentk"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_components(register: Callable[..., None]):
    """Add reusable building blocks: encoders, decoders, generators, critics, bijectors,
    divergences, priors and schedules.

    Called once when the registry is first built, after every plugin module is imported.

    :param register: ``register(kind, name, factory, *, config=None, help="", example=None)``.
        ``kind`` is one of ``gentk.registry.COMPONENT_KINDS``; ``factory(**options)`` returns
        the component. ``factory`` (and ``config``) may be a ``"package.module:attribute"``
        string, imported on first use: then listing plugins imports no TensorFlow. ``config``
        is a dataclass whose fields are the options (defaults, ``metadata={"help": ...}``, and
        ``"set_by": "the data"`` for one a user cannot set); ``example()`` returns
        ``(component, inputs)`` small enough for the conformance suite. Registering a
        kind+name twice raises ``PluginError`` naming both plugins.
    :return: nothing.
    """


@hookspec
def register_models(register: Callable[..., None]):
    """Add model recipes: what ``gentk run NAME`` trains.

    Called once when the registry is first built.

    :param register: ``register(recipe)`` with a ``gentk.Recipe`` instance (name, config
        dataclass, data loader, builder, evaluation and artifact writers), or
        ``register("package.module:RecipeClass", name=..., help=...)``: the module is imported
        (and the class instantiated) when the model is first used, so ``gentk plugins`` stays
        fast. The recipe's ``name`` must equal ``name``.
    :return: nothing.
    """


@hookspec
def register_datasets(register: Callable[..., None]):
    """Add named built-in datasets that ``--data NAME`` (and recipes) can use.

    Called once when the registry is first built.

    :param register: ``register(name, loader, *, help="")`` where ``loader(**options)`` returns
        the data (an ``ImageData``, ``TabularData`` or ``Interactions`` object).
    :return: nothing.
    """


@hookspec
def register_commands(cli: click.Group):
    """Add ``click`` commands to the ``gentk`` group (as ``llm`` plugins do).

    Called when the CLI starts, before arguments are parsed. Keep imports of TensorFlow inside
    the command functions so that ``gentk --help`` stays fast.

    :param cli: the ``gentk`` ``click.Group``; use ``@cli.command()``.
    :return: nothing.
    """
