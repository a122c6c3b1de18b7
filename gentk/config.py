"""Run configuration: dataclasses <-> TOML, and ``--set key=value`` overrides with type checks."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from gentk.errors import UserError

__all__ = [
    "TrainConfig",
    "option",
    "check_ranges",
    "field_bounds",
    "data_options",
    "resolve_config",
    "config_to_toml",
    "config_to_dict",
    "parse_value",
    "parse_every",
]


_BOUNDS = ("ge", "gt", "le", "lt")


def option(default: Any, text: str, set_by: str | None = None, data: bool = False, **bounds):
    """A config dataclass field with its ``--set`` help text and its range.

    Numbers (and the items of tuples of numbers) are checked when a config is made, from the
    CLI, TOML or Python alike: ``ge``/``gt``/``le``/``lt`` bound them (``ge=None`` lifts the
    default). A field that states no bounds inherits those of the field it overrides, and is
    otherwise ``>= 0``: counts, sizes, rates and weights are never negative. ``set_by`` (e.g.
    ``"the data"``) marks a component option that users cannot set: ``gentk info`` lists it
    apart. ``data=True`` marks an option that changes the data a run trains on or its split
    (columns, thresholds, held-out shares, the seed): ``--resume`` refuses to change it.
    """
    unknown = set(bounds) - set(_BOUNDS)
    if unknown:
        raise TypeError(f"option() takes bounds {_BOUNDS}. Received: {sorted(unknown)}")
    metadata = {"help": text, **bounds, **({"set_by": set_by} if set_by else {})}
    if data:
        metadata["data"] = True
    return dataclasses.field(default=default, metadata=metadata)


def with_defaults(base: type, name: str, module: str, **defaults) -> type:
    """A subclass of the config dataclass ``base`` named ``name`` (defined in ``module``, so
    saved configs name it) whose listed options have other defaults; each keeps its help and
    bounds. How a recipe variant (``denoising-autoencoder``, ``wgan``, ``glow``) says what
    differs."""
    fields = {f.name: f for f in dataclasses.fields(base)}
    changed = [
        (key, fields[key].type, dataclasses.field(default=value, metadata=fields[key].metadata))
        for key, value in defaults.items()
    ]
    config = dataclasses.make_dataclass(name, changed, bases=(base,))
    config.__module__ = module
    return config


def data_options(config: Any) -> list[str]:
    """The options of ``config`` (a config or its class) marked ``data=True`` (see ``option``)."""
    return [f.name for f in dataclasses.fields(config) if f.metadata.get("data")]


def field_bounds(cls, name: str) -> dict:
    """The bounds of option ``name`` of config class ``cls`` (see ``option``)."""
    for klass in cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and any(k in f.metadata for k in _BOUNDS):
            return {k: f.metadata.get(k) for k in _BOUNDS}
    return {"ge": 0, "gt": None, "le": None, "lt": None}


def describe_bounds(b: dict) -> str:
    lo = f"[{b['ge']}" if b["ge"] is not None else f"({b['gt']}" if b["gt"] is not None else None
    hi = f"{b['le']}]" if b["le"] is not None else f"{b['lt']})" if b["lt"] is not None else None
    if lo and hi:
        return f"in {lo}, {hi}"
    if lo:
        return f">= {b['ge']}" if b["ge"] is not None else f"> {b['gt']}"
    if hi:
        return f"<= {b['le']}" if b["le"] is not None else f"< {b['lt']}"
    return "finite"


def check_ranges(config: Any) -> None:
    """Raise ``ValueError`` naming the first option outside its range (see ``option``)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        items = value if isinstance(value, (tuple, list)) else (value,)
        numbers = [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not numbers:
            continue
        b = field_bounds(type(config), f.name)
        for v in numbers:
            ok = math.isfinite(v)
            ok = ok and (b["ge"] is None or v >= b["ge"]) and (b["gt"] is None or v > b["gt"])
            ok = ok and (b["le"] is None or v <= b["le"]) and (b["lt"] is None or v < b["lt"])
            if not ok:
                what = "hold numbers" if len(items) != 1 or value is not v else "be"
                raise ValueError(
                    f"`{f.name}` must {what} {describe_bounds(b)}. Received: {f.name}={value}"
                )


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
DISTRIBUTE_MODES = ("auto", "default", "mirrored", "multi-worker")


@dataclasses.dataclass
class TrainConfig:
    """Options every recipe shares; a recipe's config inherits from this and adds its own.

    Making a config checks every option's range, then the config's ``validate()``, so a bad
    value is refused the same way from ``--set``, ``--epochs``, TOML and Python.
    """

    epochs: int = option(20, "passes over the training set", ge=0, le=1_000_000)
    batch_size: int = option(128, "examples per update", ge=1)
    steps_per_execution: int = option(
        8,
        "train steps per graph call (Keras' steps_per_execution): fewer Python round trips "
        "on small models; callbacks and the NaN guard look after every call",
        ge=1,
        le=100_000,
    )
    learning_rate: float = option(1e-3, "Adam step size", gt=0)
    weight_decay: float = option(0.0, "decoupled weight decay of Adam (AdamW); 0: none", ge=0)
    seed: int = option(0, "seed for splits, init and sampling", ge=0, data=True)
    jit_compile: str = option(
        "auto",
        "XLA for the train steps: auto (on with a GPU or TPU, and on CPU only for recipes "
        "where benchmarks/xla.py measured it faster), true or false",
    )
    precision: str = option(
        "float32",
        "float32, mixed_float16 (GPUs) or mixed_bfloat16 (CPUs, TPUs): compute in 16 bits; "
        "weights, losses and distributions stay float32",
    )
    distribute: str = option(
        "auto",
        "auto, default, mirrored or multi-worker: tf.distribute strategy (auto: several "
        "workers when TF_CONFIG names them, else the local GPUs or logical CPUs)",
    )
    validation_fraction: float = option(
        0.1, "fraction of the data held out for validation", ge=0, lt=1, data=True
    )
    checkpoint_every: str = option(
        "60s",
        "checkpoint cadence: every N epochs (5) or after N seconds or minutes of training "
        "(60s, 5m); always at the end, on SIGINT/SIGTERM and before a NaN stop",
    )
    validation_every: int = option(
        1,
        "validate every N epochs and after the last (model selection sees those epochs only)",
        ge=1,
    )
    test_fraction: float = option(
        0.1, "fraction of the data held out for the test metrics", ge=0, lt=1, data=True
    )

    def __post_init__(self):
        check_ranges(self)
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"`precision` must be one of {', '.join(PRECISIONS)}. "
                f"Received: precision={self.precision!r}"
            )
        self.jit_compile = _jit_mode(self.jit_compile)
        self.checkpoint_every = str(self.checkpoint_every).strip()
        parse_every(self.checkpoint_every, "checkpoint_every")

        if self.distribute not in DISTRIBUTE_MODES:
            raise ValueError(
                f"`distribute` must be one of {', '.join(DISTRIBUTE_MODES)}. "
                f"Received: distribute={self.distribute!r}"
            )
        self.validate()

    def validate(self):
        """Checks across options (subclasses extend it); raise ``ValueError``."""


_UNITS = {"": ("epochs", 1), "s": ("seconds", 1), "m": ("seconds", 60), "h": ("seconds", 3600)}


def parse_every(value: str, name: str = "every") -> tuple[str, float]:
    """A cadence: ``"5"`` is every 5 epochs (``("epochs", 5)``), ``"60s"``, ``"5m"`` and
    ``"1h"`` are after that much training time (``("seconds", 60.0)``)."""
    text = str(value).strip().lower()
    unit = text[-1:] if text[-1:] in "smh" else ""
    number = text[: len(text) - len(unit)]
    try:
        amount = float(number) if unit else int(number)
    except ValueError:
        amount = -1
    if not amount > 0:
        raise ValueError(
            f"`{name}` must be a number of epochs (5) or of seconds, minutes or hours of "
            f"training (60s, 5m, 1h). Received: {name}={value!r}"
        )
    kind, scale = _UNITS[unit]
    return kind, amount * scale


def _jit_mode(value) -> str:
    """``auto``, ``true`` or ``false`` from any spelling (older runs saved a boolean)."""
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return "true"
    if text in ("0", "false", "no", "off"):
        return "false"
    if text == "auto":
        return text
    raise ValueError(f"`jit_compile` must be auto, true or false. Received: jit_compile={value!r}")


def config_to_dict(config: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if value is None:
            continue  # TOML has no null; a missing key means the default (None)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def config_to_toml(config: Any) -> str:
    return tomli_w.dumps(config_to_dict(config))


def _base_types(tp) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


def parse_value(name: str, tp: Any, value: Any) -> Any:
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


ConfigT = TypeVar("ConfigT")


def resolve_config(
    cls: type[ConfigT],
    toml_path: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    defaults: dict[str, Any] | None = None,
    **direct: Any,
) -> ConfigT:
    """Defaults <- ``defaults`` (a recipe's defaults for the data's shape, ``Recipe.data_defaults``)
    <- TOML file <- ``key=value`` overrides <- ``direct`` (CLI flags that are not None).

    Raises:
        UserError: an unknown key (with the known ones), a value of the wrong type, a TOML file
            that does not parse.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}

    def put(key, value, source):
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserError(
                f"unknown option {key!r} in {source}; {hint}options: {', '.join(sorted(fields))}"
            )
        values[key] = parse_value(key, hints[key], value)

    for key, value in (defaults or {}).items():
        put(key, value, "the recipe's defaults for these data")
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
    try:
        return cls(**values)  # checks ranges and runs validate()
    except ValueError as err:
        raise UserError(str(err)) from None
