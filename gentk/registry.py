"""The registry: (kind, name) -> entry with its factory, option schema, help, plugin and version."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

from gentk.errors import PluginError, UserError

__all__ = ["COMPONENT_KINDS", "KINDS", "Entry", "Registry"]

COMPONENT_KINDS = (
    "encoder",
    "decoder",
    "generator",
    "critic",
    "bijector",
    "divergence",
    "prior",
    "schedule",
)
KINDS = (*COMPONENT_KINDS, "model", "dataset")


class Entry:
    """One registered thing.

    Attributes:
        kind: one of ``KINDS``.
        name: unique within its kind, lower-case with dashes.
        factory: builds the thing: ``factory(**options)`` for components and datasets; the
            ``Recipe`` itself for models. A plugin may register it as a ``"module:attribute"``
            string: the module is imported on first use, so listing the registry
            (``gentk plugins``) imports no TensorFlow.
        config: a dataclass type whose fields are the options, or ``None`` (also a
            ``"module:attribute"`` string; for a model, its recipe's ``config``).
        help: one line for ``gentk plugins`` and ``gentk info``.
        plugin: the name of the plugin that registered it.
        version: the version of the distribution that ships the plugin.
        example: for components, ``example() -> (component, inputs)`` for the conformance suite.
    """

    __slots__ = ("kind", "name", "_factory", "_config", "help", "plugin", "version", "example")

    def __init__(
        self,
        kind: str,
        name: str,
        factory: Any,
        config: Any = None,
        help: str = "",
        plugin: str = "?",
        version: str = "?",
        example: Callable[[], tuple[Any, Any]] | None = None,
    ):
        self.kind, self.name, self.help = kind, name, help
        self.plugin, self.version, self.example = plugin, version, example
        self._factory, self._config = factory, config

    def __repr__(self) -> str:
        return f"Entry({self.kind!r}, {self.name!r}, plugin={self.plugin!r})"

    @property
    def factory(self) -> Any:
        if isinstance(self._factory, str):
            value = self._resolve(self._factory)
            if self.kind == "model":
                value = self._recipe(value)
            self._factory = value
        return self._factory

    @property
    def config(self) -> type | None:
        if self._config is None and self.kind == "model":
            return getattr(self.factory, "config", None)
        if isinstance(self._config, str):
            self._config = self._resolve(self._config)
        return self._config

    def _resolve(self, ref: str) -> Any:
        module_name, _, attribute = ref.partition(":")
        try:
            value = importlib.import_module(module_name)
            for part in attribute.split(".") if attribute else ():
                value = value[part] if isinstance(value, dict) else getattr(value, part)
        except Exception as err:  # noqa: BLE001 - named in one line, whatever it was
            raise PluginError(
                f"plugin {self.plugin!r} registered {self.kind} {self.name!r} as {ref!r}, "
                f"which cannot be imported: {type(err).__name__}: {err}"
            ) from err
        return value

    def _recipe(self, value):
        from gentk.recipe import Recipe

        if isinstance(value, type) and issubclass(value, Recipe):
            value = value()
        if not isinstance(value, Recipe):
            raise PluginError(
                f"plugin {self.plugin!r} registered model {self.name!r} as {self._factory!r}, "
                "which is not a gentk.Recipe"
            )
        value.help = value.help or self.help
        if value.name != self.name:
            raise PluginError(
                f"plugin {self.plugin!r} registered model {self.name!r} but its recipe is "
                f"named {value.name!r}"
            )
        return value

    def options(self) -> list[tuple[str, Any, str]]:
        """``(name, default, help)`` for every option of the entry."""
        if self.config is None:
            return []
        rows = []
        for f in dataclasses.fields(self.config):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = None
            rows.append((f.name, default, f.metadata.get("help", "")))
        return rows

    def option_names(self) -> frozenset[str] | None:
        """The names of the entry's options, or None when it declares no config."""
        if self.config is None:
            return None
        return frozenset(f.name for f in dataclasses.fields(self.config))

    def declared(self, options: dict) -> dict:
        """``options`` without those the entry does not declare (all kept without a config):
        what a recipe passes to a component that need not take every option it offers."""
        names = self.option_names()
        return dict(options) if names is None else {k: v for k, v in options.items() if k in names}

    def create(self, **options):
        """Build the component (or load the dataset) with the given options validated."""
        if self.config is not None:
            known = {f.name for f in dataclasses.fields(self.config)}
            unknown = sorted(set(options) - known)
            if unknown:
                raise UserError(
                    f"{self.kind} {self.name!r} has no option {unknown[0]!r}; "
                    f"options: {', '.join(sorted(known)) or '(none)'}"
                )
        return self.factory(**options)


class Registry:
    """Entries by kind and name. Filled by plugins through ``gentk.plugins.build_registry``."""

    def __init__(self):
        self._entries: dict[tuple[str, str], Entry] = {}

    def add(self, entry: Entry) -> Entry:
        if entry.kind not in KINDS:
            raise PluginError(
                f"plugin {entry.plugin!r} registered unknown kind {entry.kind!r}; "
                f"kinds: {', '.join(KINDS)}"
            )
        if not entry.name or entry.name != entry.name.strip() or " " in entry.name:
            raise PluginError(f"plugin {entry.plugin!r} registered a bad name {entry.name!r}")
        key = (entry.kind, entry.name)
        if key in self._entries:
            other = self._entries[key]
            raise PluginError(
                f"{entry.kind} {entry.name!r} is registered twice: by plugin {other.plugin!r} "
                f"and by plugin {entry.plugin!r}"
            )
        self._entries[key] = entry
        return entry

    def get(self, kind: str, name: str) -> Entry:
        """The entry, or a ``UserError`` that suggests the closest names."""
        try:
            return self._entries[(kind, name)]
        except KeyError:
            names = self.names(kind)
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(
                f"unknown {kind} {name!r}{hint} (known: {', '.join(names) or 'none'})"
            ) from None

    def find(self, name: str) -> list[Entry]:
        """Every entry called ``name``, whatever its kind."""
        return [e for (_, n), e in self._entries.items() if n == name]

    def names(self, kind: str) -> list[str]:
        return sorted(n for (k, n) in self._entries if k == kind)

    def entries(self, kind: str | None = None) -> list[Entry]:
        return sorted(
            (e for e in self._entries.values() if kind is None or e.kind == kind),
            key=lambda e: (KINDS.index(e.kind), e.name),
        )

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key) -> bool:
        return key in self._entries
