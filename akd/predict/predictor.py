"""The KD-accuracy predictor: a student's encoding, its teacher's embedding and (optionally) its
zero-cost probe, concatenated, into one of the models of :mod:`akd.predict.models`.

``fit(records)`` takes benchmark-table records (any mode: labels only counts as a teacher whose
embedding is zero with a flag set) and learns the mean accuracy over each student's seeds;
``predict(archs, teacher, costs)`` returns accuracies. Each input part can be switched off
(``parts``) for the ablation. The state (``state_dict``) holds the space's name, the parts, the
teacher embeddings it knows and the model's state, and loads with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from search_spaces import Architecture, Registry, SearchSpace

from .encoding import ARCH_PARTS, encode_architecture
from .models import Example, NeuralPredictor, Predictor, ProxyPredictor, TreePredictor

LABELS = "cls"  # the mode of a label-only training (as in the benchmark table)
PARTS = (*ARCH_PARTS, "teacher", "probe")
MODELS: Registry[Callable[[], Predictor]] = Registry("predictor model")
MODELS.register("neural", NeuralPredictor)
MODELS.register("trees", TreePredictor)

# (arch string, mode) -> the student's probe vector against that teacher (akd.predict.probes)
Probe = Callable[[str, str], np.ndarray]


class KDPredictor:
    """See the module. ``teachers``: mode -> embedding (``teacher_embedding``); ``probe``:
    needed when ``"probe"`` is among ``parts``."""

    def __init__(self, space: SearchSpace, teachers: dict[str, np.ndarray],
                 model: str | Predictor = "neural", parts: Sequence[str] = PARTS,
                 probe: Probe | None = None) -> None:
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            raise ValueError(f"unknown predictor input {unknown[0]!r}; allowed: {', '.join(PARTS)}")
        if "probe" in parts and probe is None:
            raise ValueError("the probe input needs a probe function (akd.predict.probes)")
        if isinstance(model, str):
            if model not in MODELS:
                raise ValueError(f"unknown predictor model {model!r}; allowed: "
                                 f"{', '.join(MODELS)}")
            model = MODELS[model]()
        self.space, self.model, self.parts, self.probe = space, model, tuple(parts), probe
        self.teachers = {name: np.asarray(e, dtype=np.float64) for name, e in teachers.items()}
        self.fitted_on: list[str] = []  # the modes it has seen

    def teacher_input(self, mode: str) -> np.ndarray:
        width = len(next(iter(self.teachers.values()))) if self.teachers else 0
        if mode == LABELS:
            return np.concatenate([np.zeros(width), [1.0]])
        if mode not in self.teachers:
            raise ValueError(f"no embedding for teacher {mode!r}; known: "
                             f"{', '.join(self.teachers) or 'none'} (add it with "
                             "akd.predict.teacher_embedding)")
        return np.concatenate([self.teachers[mode], [0.0]])

    def features(self, arch: str | Architecture, mode: str, cost: dict) -> np.ndarray:
        """The input vector of ``arch`` trained as ``mode`` (``cost``: params, macs,
        latency_ms)."""
        arch_parts = [p for p in self.parts if p in ARCH_PARTS]
        pieces = [encode_architecture(self.space, arch, cost, arch_parts)]
        if "teacher" in self.parts:
            pieces.append(self.teacher_input(mode))
        if "probe" in self.parts:
            pieces.append(np.asarray(self.probe(str(arch), mode), dtype=np.float64))
        return np.concatenate(pieces)

    def examples(self, records: Sequence[dict], metric: str = "val_acc") -> list[Example]:
        """One example per (student, mode): the mean ``metric`` over its successful seeds."""
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in records:
            if r["status"] == "ok" and r[metric] is not None:
                groups.setdefault((r["arch"], r["mode"]), []).append(r)
        return [Example(self.features(arch, mode, rows[0]),
                        float(np.mean([r[metric] for r in rows])))
                for (arch, mode), rows in groups.items()]

    def fit(self, records: Sequence[dict], metric: str = "val_acc") -> KDPredictor:
        examples = self.examples(records, metric)
        if not examples:
            raise ValueError("no successful training among the records to fit on")
        self.model.fit(examples)
        self.fitted_on = sorted({r["mode"] for r in records})
        return self

    def predict(self, archs: Sequence[str | Architecture], teacher: str,
                costs: Sequence[dict] | None = None) -> np.ndarray:
        """Predicted accuracy of each of ``archs`` distilled from ``teacher`` (``"cls"``:
        labels only); ``costs`` as in :meth:`features`, needed only with the ``cost`` input."""
        if costs is None:
            if "cost" in self.parts:
                raise ValueError("this predictor uses the students' cost: pass costs (params, "
                                 "macs, latency_ms of each architecture)")
            costs = [{}] * len(archs)
        if len(archs) != len(costs):
            raise ValueError(f"{len(archs)} architectures but {len(costs)} costs")
        if not len(archs):
            return np.zeros(0)
        return self.model.predict(np.stack([self.features(a, teacher, c)
                                            for a, c in zip(archs, costs)]))

    def state_dict(self) -> dict:
        return {"space": self.space.name, "space_decisions": _decisions(self.space),
                "parts": list(self.parts), "fitted_on": list(self.fitted_on),
                "teachers": {k: torch.tensor(v) for k, v in self.teachers.items()},
                "model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if list(state["space_decisions"]) != _decisions(self.space):
            raise ValueError(f"the predictor state is for another {state['space']} space (its "
                             "decisions or their values differ); build the predictor with the "
                             "space it was fitted on")
        self.parts, self.fitted_on = tuple(state["parts"]), list(state["fitted_on"])
        self.teachers = {k: v.numpy() for k, v in state["teachers"].items()}
        kind = state["model"]["kind"]
        self.model = MODELS[kind]() if kind in MODELS else ProxyPredictor(0)
        self.model.load_state_dict(state["model"])


def _decisions(space: SearchSpace) -> list[str]:
    """The space's decisions with their values: what a fitted predictor's encoding stands for."""
    return [f"{d.name}={d.values}" for d in space.decisions]
