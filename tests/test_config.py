import dataclasses
import typing

import pytest

from gentk.config import TrainConfig, config_to_toml, parse_value, resolve_config
from gentk.errors import UserError


@dataclasses.dataclass
class Cfg(TrainConfig):
    hidden: tuple[int, ...] = (4, 2)
    name: str | None = None
    flag: bool = False


def test_overrides_are_typed_and_applied_in_order(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("epochs = 7\nhidden = [8, 8]\nlearning_rate = 0.5\n")
    cfg = resolve_config(Cfg, toml, ["hidden=3,2,1", "flag=yes", "name=x"], epochs=9)
    assert cfg.epochs == 9 and cfg.hidden == (3, 2, 1) and cfg.flag is True
    assert cfg.learning_rate == 0.5 and cfg.name == "x"


def test_round_trip_through_toml(tmp_path):
    cfg = resolve_config(Cfg, None, ["hidden=5", "name=abc"])
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(cfg))
    assert resolve_config(Cfg, path) == cfg


@pytest.mark.parametrize(
    "item, needle",
    [
        ("nope=1", "unknown option 'nope'"),
        ("epochs=abc", "option 'epochs' expects int"),
        ("flag=maybe", "option 'flag' expects bool"),
        ("epochs", "--set expects key=value"),
    ],
)
def test_bad_overrides_name_the_option(item, needle):
    with pytest.raises(UserError, match=needle):
        resolve_config(Cfg, None, [item])


@pytest.mark.parametrize(
    "item, needle",
    [
        ("learning_rate=-1", "`learning_rate` must be > 0. Received: learning_rate=-1.0"),
        ("epochs=-1", "`epochs` must be in [0, 1000000]. Received: epochs=-1"),
        ("batch_size=0", "`batch_size` must be >= 1. Received: batch_size=0"),
        ("test_fraction=1.5", "`test_fraction` must be in [0, 1). Received: test_fraction=1.5"),
        ("learning_rate=nan", "`learning_rate` must be > 0. Received: learning_rate=nan"),
        ("hidden=4,-2", "`hidden` must hold numbers >= 0. Received: hidden=(4, -2)"),
    ],
)
def test_every_option_has_a_checked_range(item, needle, tmp_path):
    with pytest.raises(UserError) as err:
        resolve_config(Cfg, None, [item])
    assert needle in str(err.value)
    key, value = item.split("=")
    toml = tmp_path / "c.toml"
    toml.write_text(f"{key} = {value if ',' not in value else '[' + value + ']'}\n")
    with pytest.raises(UserError, match=key):  # the same from TOML ...
        resolve_config(Cfg, toml)
    with pytest.raises(ValueError, match=key):  # ... and from Python
        Cfg(**{key: parse_value(key, typing.get_type_hints(Cfg)[key], value)})


def test_unknown_options_suggest_the_closest_name():
    with pytest.raises(UserError, match="unknown option 'lerning_rate' in --set; did you mean "
                       "'learning_rate'"):  # fmt: skip
        resolve_config(Cfg, None, ["lerning_rate=0.1"])


def test_registered_recipes_refuse_negative_numbers_unless_an_option_allows_them():
    """Every numeric option of every registered model has a range: -1 is refused (unless the
    option allows negatives, like min_rating)."""
    from gentk.config import field_bounds
    from gentk.plugins import get_registry

    for entry in get_registry().entries("model"):
        cls = entry.factory.config
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = str(hints[f.name])
            if not any(t in tp for t in ("int", "float")) or "bool" in tp:
                continue
            value = "-1,-1" if "tuple" in tp else "-1"
            bounds = field_bounds(cls, f.name)
            if bounds["ge"] is None and bounds["gt"] is None:
                resolve_config(cls, None, [f"{f.name}={value}"])  # allowed on purpose
                continue
            with pytest.raises(UserError, match=f"`{f.name}` must"):
                resolve_config(cls, None, [f"{f.name}={value}"])
