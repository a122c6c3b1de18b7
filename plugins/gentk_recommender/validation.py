"""Model selection of the recommenders on validation users: NDCG@100 after each validated
epoch, the best epoch's weights kept (``gentk.training.callbacks.BestWeights``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gentk.api import BestWeights, ValidationEpochs

if TYPE_CHECKING:
    from gentk_recommender.data import RecData

__all__ = ["ValidationNDCG"]


class ValidationNDCG(BestWeights):
    """NDCG@100 of the validation users every ``every`` epochs (logged as ``val_ndcg@100``);
    the best epoch's weights are checkpointed and restored after training, and with them the
    annealed beta of that epoch (``best_beta``)."""

    def __init__(self, data: RecData, run_dir: Path, dense: bool, every: int = 1):
        super().__init__(run_dir, "val_ndcg@100", mode="max")
        self.data, self.dense, self.every = data, dense, every
        self.best_beta, self.last = None, None

    def value(self, epoch: int, logs: dict | None):
        if epoch + 1 not in ValidationEpochs(self.every, self.params.get("epochs", 0)):
            return None
        from gentk_recommender.evaluation import model_scorer, ranking_metrics

        m = ranking_metrics(
            model_scorer(self.model, self.dense),
            self.data.validation_fold_in,
            self.data.validation_targets,
        )
        self.last = m["ndcg@100"]
        if logs is not None:
            logs["val_ndcg@100"] = self.last
        return self.last

    def improved(self, epoch: int):
        if getattr(self.model, "variational", False):
            self.best_beta = float(self.model.current_beta())

    def get_state(self):
        return {**super().get_state(), "best_beta": self.best_beta}

    def set_state(self, state: dict):
        super().set_state(state)
        self.best_beta = state.get("best_beta")
