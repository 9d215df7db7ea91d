"""Predicting a search's candidates: a prior learned from a benchmark table, corrected by the
run's own trainings as they finish.

A table was trained at its own budget, a run trains at another, so the table's accuracies are on
another scale; what carries over is which students do better. :class:`Screener` therefore
predicts ``prior(x) + correction(x)``:

* ``prior``: a :class:`KDPredictor` fitted once on the table's records (every mode; the run's
  teacher enters through its embedding under the mode :data:`RUN_MODE`, so a teacher the table
  never saw still gets a meaningful input); absent without a table;
* ``correction``: a predictor of the same model fitted on the run's finished trainings, on what
  the prior got wrong (``val_acc - prior``; with no prior, on ``val_acc`` itself). It is refitted
  whenever trainings have been added. Until it has ``warmup`` of them it is their mean residual
  (0 with none) -- with no prior the screener is then not :meth:`ready`.

Everything is deterministic given the records in their order, so a resumed search refits the
same predictors and screens exactly as the uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search_spaces import SearchSpace

from ..predict import ARCH_PARTS, LABELS, KDPredictor
from .trial import Trial

RUN_MODE = "run"  # the run's own teacher, whatever it is called in the table


class Screener:
    """See the module. ``teachers``: the table's teacher embeddings and, under
    :data:`RUN_MODE`, the run's (absent for a label-only arm); ``mode``: :data:`RUN_MODE` for a
    distilling arm, ``"cls"`` for a label-only one."""

    def __init__(self, space: SearchSpace, mode: str, model: str = "trees",
                 table_records: Sequence[dict] = (), teachers: dict[str, np.ndarray] | None = None,
                 warmup: int = 8) -> None:
        if mode not in (RUN_MODE, LABELS):
            raise ValueError(f"screening mode {mode!r}; allowed: {RUN_MODE}, {LABELS}")
        self.space, self.mode, self.model, self.warmup = space, mode, model, warmup
        self.prior: KDPredictor | None = None
        if table_records:
            self.prior = KDPredictor(space, dict(teachers or {}), model,
                                     parts=(*ARCH_PARTS, "teacher")).fit(table_records)
        self.correction: KDPredictor | None = None
        self.mean_residual = 0.0
        self._fitted_on = -1  # how many of the run's trainings the correction has seen

    def ready(self, own: Sequence[dict]) -> bool:
        """Whether it can rank candidates: with a prior always, else after ``warmup`` of the
        run's successful trainings."""
        return self.prior is not None or len(_successful(own)) >= self.warmup

    def predict(self, archs: Sequence[str], costs: Sequence[dict],
                own: Sequence[Trial]) -> np.ndarray:
        """Predicted validation accuracy of ``archs`` (``costs``: params, macs, latency_ms) at the
        run's budget; ``own``: the run's trainings so far."""
        self._refit(own)
        prior = self._prior(archs, costs)
        if self.correction is None:
            return prior + self.mean_residual
        return prior + self.correction.predict(archs, LABELS, costs)

    def _prior(self, archs: Sequence[str], costs: Sequence[dict]) -> np.ndarray:
        if self.prior is None:
            return np.zeros(len(archs))
        return self.prior.predict(archs, self.mode, costs)

    def _refit(self, own: Sequence[Trial]) -> None:
        ok = _successful(own)
        if len(ok) == self._fitted_on:
            return
        self._fitted_on = len(ok)
        if not ok:
            self.mean_residual, self.correction = 0.0, None
            return
        costs = [_cost(t) for t in ok]
        prior = self._prior([t.arch for t in ok], costs)
        residuals = np.array([t.val_acc for t in ok]) - prior
        self.mean_residual = float(residuals.mean())
        if len(ok) < self.warmup:
            self.correction = None
            return
        # one mode: the teacher input would be a constant, so the correction sees the student only
        records = [{"arch": t.arch, "mode": LABELS, "status": "ok", "residual": float(r),
                    **cost} for t, r, cost in zip(ok, residuals, costs)]
        self.correction = KDPredictor(self.space, {}, self.model, parts=ARCH_PARTS)
        self.correction.fit(records, metric="residual")


def _successful(own: Sequence[Trial]) -> list[Trial]:
    return [t for t in own if t.ok and t.val_acc is not None]


def _cost(trial: Trial) -> dict:
    """A trial's cost in the predictor's terms."""
    return {"params": trial.params, "macs": trial.macs, "latency_ms": trial.latency_ms}
