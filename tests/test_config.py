import dataclasses

import pytest

from gentk.config import TrainConfig, config_to_toml, resolve_config
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
