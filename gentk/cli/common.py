"""Helpers shared by CLI commands: reading a run directory back (its recipe, config, model)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gentk.errors import UserError

if TYPE_CHECKING:
    from gentk.recipe import Recipe

__all__ = ["RunInfo", "open_run"]


class RunInfo:
    def __init__(self, run_dir: Path, meta: dict, recipe: Recipe, config: Any):
        self.run_dir = run_dir
        self.meta = meta
        self.recipe = recipe
        self.config = config

    def model(self):
        from gentk.saving import load_model

        return load_model(self.run_dir / "model.keras")


def open_run(run_dir: str | os.PathLike, overrides: Sequence[str] = ()) -> RunInfo:
    """The recipe, config (with ``KEY=VALUE`` ``overrides``, checked as for ``run``) and
    metadata of a finished run, or a ``UserError`` saying what is amiss."""
    from gentk.config import resolve_config
    from gentk.plugins import get_registry
    from gentk.training.runner import read_run_json

    run_dir = Path(run_dir)
    meta = read_run_json(run_dir)
    if not (run_dir / "model.keras").is_file():
        from gentk.training.callbacks import read_checkpoint_state
        from gentk.training.rundir import stranded_note

        note = stranded_note(run_dir)
        if note and read_checkpoint_state(run_dir) is None:
            raise UserError(f"run {run_dir} has no model.keras and no checkpoint{note}")
        raise UserError(f"run {run_dir} has no model.keras yet; finish it with --resume")
    recipe = get_registry().get("model", meta["model"]).factory
    config = resolve_config(recipe.config, run_dir / "config.toml", list(overrides))
    return RunInfo(run_dir, meta, recipe, config)
