"""Run configuration: dataclasses <-> TOML, and ``--set key=value`` overrides with type checks."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import tomli_w

from gentk.errors import UserError

__all__ = ["TrainConfig", "resolve_config", "config_to_toml", "config_to_dict", "parse_value"]


def _help(text: str) -> dict:
    return {"help": text}


def option(default, text: str):
    """A config dataclass field with its ``--set`` help text (mutable defaults are fine for
    the tuples configs use)."""
    return dataclasses.field(default=default, metadata=_help(text))


@dataclasses.dataclass
class TrainConfig:
    """Options every recipe shares; a recipe's config inherits from this and adds its own."""

    epochs: int = dataclasses.field(default=20, metadata=_help("passes over the training set"))
    batch_size: int = dataclasses.field(default=128, metadata=_help("examples per update"))
    learning_rate: float = dataclasses.field(default=1e-3, metadata=_help("Adam step size"))
    weight_decay: float = dataclasses.field(
        default=0.0, metadata=_help("decoupled weight decay of Adam (AdamW); 0: none")
    )
    seed: int = dataclasses.field(default=0, metadata=_help("seed for splits, init and sampling"))
    jit_compile: bool = dataclasses.field(
        default=True, metadata=_help("compile train steps with XLA where the model supports it")
    )
    validation_fraction: float = dataclasses.field(
        default=0.1, metadata=_help("fraction of the data held out for validation")
    )
    test_fraction: float = dataclasses.field(
        default=0.1, metadata=_help("fraction of the data held out for the test metrics")
    )


def config_to_dict(config) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if value is None:
            continue  # TOML has no null; a missing key means the default (None)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def config_to_toml(config) -> str:
    return tomli_w.dumps(config_to_dict(config))


def _base_types(tp) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


def parse_value(name: str, tp, value: Any) -> Any:
    """Convert ``value`` (a string from ``--set`` or a TOML value) to the field's type."""
    base, optional = _base_types(tp)
    if optional and (value is None or (isinstance(value, str) and value.lower() in ("", "none"))):
        return None
    origin = typing.get_origin(base)
    try:
        if origin in (tuple, list):
            (item_tp, *_) = typing.get_args(base) or (str,)
            if isinstance(value, str):
                parts = [p for p in value.strip("[]() ").split(",") if p.strip()]
            else:
                parts = list(value)
            items = [parse_value(name, item_tp, p) for p in parts]
            return tuple(items) if origin is tuple else items
        if base is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if base is str:
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    type_name = getattr(base, "__name__", str(base))
    raise UserError(f"option {name!r} expects {type_name}. Received: {name}={value!r}")


def resolve_config(cls, toml_path=None, overrides=(), **direct):
    """Defaults <- TOML file <- ``key=value`` overrides <- ``direct`` (CLI flags that are not None).

    Raises:
        UserError: an unknown key (with the known ones), a value of the wrong type, a TOML file
            that does not parse.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}

    def put(key, value, source):
        if key not in fields:
            raise UserError(
                f"unknown option {key!r} in {source}; options: {', '.join(sorted(fields))}"
            )
        values[key] = parse_value(key, hints[key], value)

    if toml_path is not None:
        path = Path(toml_path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"cannot read config {path}: {err}") from None
        for key, value in data.items():
            put(key, value, str(path))
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set expects key=value. Received: {item!r}")
        key, value = item.split("=", 1)
        put(key.strip(), value.strip(), "--set")
    for key, value in direct.items():
        if value is not None:
            put(key, value, f"--{key.replace('_', '-')}")
    config = cls(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as err:
            raise UserError(str(err)) from None
    return config
