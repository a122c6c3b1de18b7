"""Constructor plumbing written once: ``records_config`` makes a Keras layer's or model's
``get_config`` the arguments its ``__init__`` was called with (as diffusers'
``register_to_config`` does), and ``constructor_options`` passes a run's config to a constructor
by matching names, so a recipe writes only what differs from its config.

    @keras.saving.register_keras_serializable(package="my_plugin")
    @records_config
    class MyGAN(keras.Model):
        def __init__(self, generator, critic, latent_dim=64, seed=0, **kwargs):
            super().__init__(**kwargs)
            ...

    MyGAN(generator, critic, **constructor_options(MyGAN, config, name="my_gan"))

Keras objects among the arguments (layers, lists of layers) are serialized with
``keras.saving.serialize_keras_object``; the constructor takes them back as dicts (``__init__``
deserializes what it receives as a dict, as Keras' own nested layers do).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["records_config", "constructor_options"]

T = TypeVar("T", bound=type)

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _named_parameters(init) -> list[str]:
    return [p.name for p in list(inspect.signature(init).parameters.values())[1:]
            if p.kind in _NAMED]  # fmt: skip


def records_config(cls: T) -> T:
    """Class decorator: ``get_config`` returns the named arguments of ``__init__`` (defaults
    filled in), beside Keras' own (``name``, ``trainable``, ``dtype``).

    A subclass decorated too adds its own arguments; one that passes arguments on through
    ``**kwargs`` has them recorded by the decorated base it reaches. A class that defines its
    own ``get_config`` keeps it (and may extend the recorded one through ``super()``).
    """
    init = cls.__init__
    signature = inspect.signature(init)
    names = _named_parameters(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        recorded = self.__dict__.setdefault("_init_arguments", {})  # outside Keras' tracking
        for name in names:
            recorded.setdefault(name, bound.arguments[name])
        init(self, *args, **kwargs)

    cls.__init__ = __init__
    if "get_config" not in cls.__dict__:

        def get_config(self) -> dict[str, Any]:
            base = super(cls, self).get_config()
            return {**base, **{k: _serializable(v) for k, v in self._init_arguments.items()}}

        get_config.__doc__ = (
            f"The arguments ``{cls.__name__}`` was built with (``records_config``)."
        )
        cls.get_config = get_config
    return cls


def _serializable(value):
    import keras
    import numpy as np

    if isinstance(value, (keras.layers.Layer, keras.Operation)):
        return keras.saving.serialize_keras_object(value)
    if isinstance(value, (list, tuple)) and any(
        isinstance(v, (keras.layers.Layer, keras.Operation)) for v in value
    ):
        return [_serializable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def constructor_options(target: type | Callable[..., Any], config: Any, **given) -> dict[str, Any]:
    """Keyword arguments for ``target`` (a class or function): every field of ``config`` (a
    dataclass) that ``target``'s constructor names, then ``given`` (which wins).

    A class's ``__init__`` that takes ``**kwargs`` passes them to its bases, so their named
    parameters count too, up to Keras' own classes (whose options, ``name`` or ``dtype``, a
    recipe passes in ``given``).
    """
    names: set[str] = set()
    for klass in inspect.getmro(target) if inspect.isclass(target) else ():
        init = klass.__dict__.get("__init__")
        if klass.__module__.split(".")[0] == "keras":
            break
        if init is None:
            continue
        names.update(_named_parameters(init))
        params = inspect.signature(init).parameters.values()
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            break
    if not inspect.isclass(target):
        names.update(inspect.signature(target).parameters)
    fields = {f.name for f in dataclasses.fields(config)}
    options = {name: getattr(config, name) for name in sorted(names & fields)}
    return {**options, **given}
