"""Plugin discovery: gentk's own loop over the ``gentk.plugins`` entry points, with isolation.

pluggy's ``load_setuptools_entrypoints`` stops at the first broken plugin and skips duplicates
silently, so gentk loads each entry point itself: a plugin that fails to import gives one
warning naming it and its error, and every other plugin still loads.

Environment variables:
    GENTK_PLUGINS: comma-separated entry-point names; when set, only these load.
    GENTK_DISABLE_PLUGINS: comma-separated entry-point names that never load.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import os
import types
import warnings
from collections.abc import Iterable
from importlib.metadata import EntryPoint

import pluggy

from gentk import hookspecs
from gentk.errors import PluginError
from gentk.registry import COMPONENT_KINDS, Entry, Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadWarning",
    "get_plugin_manager",
    "default_plugin_manager",
    "build_registry",
    "get_registry",
    "reset",
    "plugin_packages",
]

ENTRY_POINT_GROUP = "gentk.plugins"


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; the others were."""


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def get_plugin_manager(
    extra_plugins: Iterable[tuple[str, object]] = (),
    entry_points: Iterable[EntryPoint] | None = None,
) -> pluggy.PluginManager:
    """A plugin manager with every allowed entry-point plugin (and ``extra_plugins``) loaded.

    Args:
        extra_plugins: modules or objects to register as well, as ``(name, plugin)`` pairs.
        entry_points: the entry points to load; defaults to the installed ``gentk.plugins`` group.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    allow = _names_from_env("GENTK_PLUGINS")
    block = _names_from_env("GENTK_DISABLE_PLUGINS") or set()
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    seen: dict[str, str] = {}
    for ep in entry_points:
        if (allow is not None and ep.name not in allow) or ep.name in block:
            continue
        dist = getattr(ep, "dist", None)
        dist_label = f"{dist.name} {dist.version}" if dist is not None else "?"
        if ep.name in seen:
            raise PluginError(
                f"plugin name {ep.name!r} is used twice: by {seen[ep.name]} and by {dist_label}"
            )
        if _register(pm, ep.load, ep.name, dist_label) is None:
            continue
        seen[ep.name] = dist_label
        _versions[ep.name] = dist.version if dist is not None else "?"
        _packages.add(ep.value.split(":")[0].split(".")[0])
    for name, plugin in extra_plugins:
        if _register(pm, lambda plugin=plugin: plugin, name, "local") is None:
            continue
        _versions.setdefault(name, "local")
        if isinstance(plugin, types.ModuleType):
            _packages.add(plugin.__name__.split(".")[0])
    return pm


def _register(pm: pluggy.PluginManager, load, name: str, label: str):
    """Load and register one plugin; on any failure unregister it, warn once naming it and
    its error, and return None (isolation: the other plugins still load)."""
    plugin = None
    try:
        plugin = load()
        pm.register(plugin, name=name)
        _check_hooks(pm, plugin)
    except Exception as err:  # noqa: BLE001 - isolation is the point
        if plugin is not None and pm.is_registered(plugin):
            pm.unregister(plugin)
        warnings.warn(
            f"gentk plugin {name!r} ({label}) failed to load and was skipped: "
            f"{type(err).__name__}: {err}",
            PluginLoadWarning,
            stacklevel=3,
        )
        return None
    return plugin


class UnknownHookError(Exception):
    """A plugin implements a hook gentk does not define (a misspelling, usually)."""


def _check_hooks(pm: pluggy.PluginManager, plugin) -> None:
    """Refuse a plugin whose hook names gentk does not know, naming the closest real one.
    (pluggy's ``check_pending`` would raise for every plugin at once, with a traceback.)"""
    known = sorted(n for n in dir(hookspecs) if n.startswith("register_"))
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        close = difflib.get_close_matches(caller.name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; hooks: {', '.join(known)}"
        raise UnknownHookError(f"unknown hook {caller.name!r}{hint}")


@functools.cache
def default_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager of the installed plugins (loaded once, so a broken
    plugin warns once)."""
    return get_plugin_manager()


_versions: dict[str, str] = {}
_packages: set[str] = {"gentk"}


def plugin_packages() -> frozenset[str]:
    """Top-level packages of gentk and of every plugin loaded so far: the modules that
    ``load_model`` may import to find a saved model's classes."""
    return frozenset(_packages)


def _registrar(registry: Registry, plugin: str, version: str):
    def register_component(kind, name, factory, *, config=None, help="", example=None):
        if kind not in COMPONENT_KINDS:
            raise PluginError(
                f"plugin {plugin!r} registered component {name!r} of unknown kind {kind!r}; "
                f"kinds: {', '.join(COMPONENT_KINDS)}"
            )
        registry.add(Entry(kind, name, factory, config, help, plugin, version, example))

    def register_model(recipe, *, name=None, help=None):
        """``register(recipe)`` with a Recipe instance, or ``register("pkg.module:Recipe",
        name=..., help=...)``: imported only when the model is used."""
        from gentk.recipe import Recipe

        if isinstance(recipe, str):
            if not name:
                raise PluginError(
                    f"plugin {plugin!r} registered model {recipe!r} by reference without name="
                )
            registry.add(Entry("model", name, recipe, None, help or "", plugin, version))
            return
        if not isinstance(recipe, Recipe):
            raise PluginError(f"plugin {plugin!r} registered a model that is not a gentk.Recipe")
        if name is not None and name != recipe.name:
            raise PluginError(
                f"plugin {plugin!r} registered model {name!r} but its recipe is named "
                f"{recipe.name!r}"
            )
        registry.add(
            Entry(
                "model",
                recipe.name,
                recipe,
                recipe.config,
                recipe.help if help is None else help,
                plugin,
                version,
            )
        )

    def register_dataset(name, loader, *, help="", config=None):
        registry.add(Entry("dataset", name, loader, config, help, plugin, version))

    return {
        "register_components": register_component,
        "register_models": register_model,
        "register_datasets": register_dataset,
    }


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every plugin's hooks with a ``register`` bound to that plugin."""
    registry = Registry()
    for hook_name in ("register_components", "register_datasets", "register_models"):
        for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
            version = _versions.get(impl.plugin_name, "?")
            register = _registrar(registry, impl.plugin_name, version)[hook_name]
            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as err:  # noqa: BLE001
                warnings.warn(
                    f"gentk plugin {impl.plugin_name!r} failed in {hook_name}: "
                    f"{type(err).__name__}: {err}",
                    PluginLoadWarning,
                    stacklevel=2,
                )
    return registry


@functools.cache
def get_registry() -> Registry:
    """The process-wide registry built from the installed plugins (cached)."""
    return build_registry(default_plugin_manager())


def reset() -> None:
    """Forget the cached plugin manager and registry (tests, or after installing a plugin
    in-process)."""
    get_registry.cache_clear()
    default_plugin_manager.cache_clear()


def module_plugin(name: str, **hooks) -> types.SimpleNamespace:
    """A plugin object from hook functions, for notebooks and tests:
    ``module_plugin('x', register_models=f)``."""
    ns = types.SimpleNamespace(__name__=name)
    for hook_name, fn in hooks.items():
        setattr(ns, hook_name, hookspecs.hookimpl(fn))
    return ns
