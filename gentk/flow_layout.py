"""Flow layouts: one step of registered bijector names (``"affine-coupling,reverse"``, data
side first), and the layers it builds from the registry. Shared by every plugin that chains
bijectors (the flow recipes, the flow priors, the VAE's flow posterior); imports no
TensorFlow itself."""

from __future__ import annotations

from collections.abc import Sequence

from gentk.errors import UserError

__all__ = ["build_layers", "parse_step", "validate_step"]


def parse_step(text: str) -> list[str]:
    """The bijector names of ``"a, b,c"``, blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


def validate_step(text: str, option: str = "bijectors") -> list[str]:
    """The names of ``text``, each checked against the registry (a ``ValueError`` naming the
    option when it names none; the registry's one-line error for an unknown name)."""
    from gentk.plugins import get_registry

    names = parse_step(text)
    if not names:
        raise ValueError(f"`{option}` names no bijector. Received: {option}={text!r}")
    for name in names:
        get_registry().get("bijector", name)
    return names


def build_layers(
    names: Sequence[str], options: dict, *, seed: int = 0, conditional: bool = False
) -> list:
    """The registered bijector layers ``names`` (data side first), each given the
    ``options`` it declares and, if it takes one, the seed ``seed + position``; returned base
    side first, as ``FlowModel`` and ``FlowPrior`` take them. With ``conditional`` a layer
    that takes no ``condition_dim`` is a ``UserError`` naming it."""
    from gentk.plugins import get_registry

    registry = get_registry()
    layers = []
    for k, name in enumerate(names):
        entry = registry.get("bijector", name)
        known = entry.option_names()
        if conditional and known is not None and "condition_dim" not in known:
            raise UserError(f"bijector {name!r} takes no condition (conditional=true)")
        extra = {"seed": seed + k} if known is not None and "seed" in known else {}
        layers.append(entry.create(**entry.declared(options), **extra))
    return list(reversed(layers))
