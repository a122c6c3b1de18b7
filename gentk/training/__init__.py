"""Training runtime: the runner, its callbacks and the distribution-strategy choice."""

from gentk.training.runner import RunResult, build_compiled_model, run

__all__ = ["RunResult", "build_compiled_model", "run"]
