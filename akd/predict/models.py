"""Predictors of a student's accuracy after distillation, behind one small interface.

``fit(examples)`` learns from :class:`Example` s (a student's features and the accuracy it reached
with one teacher, or with labels only); ``predict(features)`` returns accuracies; ``state_dict``
/ ``load_state_dict`` round-trip through ``torch.save`` / ``torch.load(weights_only=True)``.

* :class:`NeuralPredictor`: DaSS's shape (Lee et al., ICLR 2023): the embeddings concatenated,
  then two linear layers; trained with a mean-squared error plus a pairwise ranking loss, since
  a search needs the order of the candidates more than their accuracies.
* :class:`TreePredictor`: gradient-boosted trees (scikit-learn's ``HistGradientBoostingRegressor``).
* :class:`ProxyPredictor`: one feature as the prediction (params, MACs, a zero-cost proxy): the
  baselines, which only rank.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Example:
    features: np.ndarray  # the concatenated inputs of one (student, teacher) pair
    accuracy: float  # what the student reached (the mean over its seeds)


class Predictor(ABC):
    """Learns accuracies from feature vectors; see the module."""

    @abstractmethod
    def fit(self, examples: Sequence[Example]) -> Predictor:
        """Learn from ``examples``; returns ``self``."""

    @abstractmethod
    def predict(self, features: np.ndarray) -> np.ndarray:
        """Accuracies (or, for proxies, scores that rank like them) of rows of ``features``."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Everything needed to predict again: tensors, numbers and strings only."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        ...


def _matrix(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    if not examples:
        raise ValueError("a predictor needs at least one example to fit")
    return (np.stack([e.features for e in examples]).astype(np.float64),
            np.array([e.accuracy for e in examples], dtype=np.float64))


class NeuralPredictor(Predictor):
    """Inputs standardised, then ``Linear -> ReLU -> Linear``; MSE + ``ranking`` x a pairwise
    logistic loss over the pairs of each batch."""

    def __init__(self, hidden: int = 64, epochs: int = 300, lr: float = 3e-3,
                 weight_decay: float = 1e-4, ranking: float = 0.5, batch_size: int = 64,
                 seed: int = 0) -> None:
        self.hidden, self.epochs, self.lr, self.weight_decay = hidden, epochs, lr, weight_decay
        self.ranking, self.batch_size, self.seed = ranking, batch_size, seed
        self.net: nn.Module | None = None
        self.scale: dict[str, torch.Tensor] = {}

    def _net(self, inputs: int) -> nn.Module:
        return nn.Sequential(nn.Linear(inputs, self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1))

    def fit(self, examples: Sequence[Example]) -> NeuralPredictor:
        x, y = _matrix(examples)
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        x_mean, x_std = x.mean(0), x.std(0) + 1e-8
        y_mean, y_std = y.mean(), y.std() + 1e-8
        self.scale = {"x_mean": torch.tensor(x_mean), "x_std": torch.tensor(x_std),
                      "y_mean": torch.tensor(y_mean), "y_std": torch.tensor(y_std)}
        inputs = torch.tensor((x - x_mean) / x_std, dtype=torch.float32)
        targets = torch.tensor((y - y_mean) / y_std, dtype=torch.float32)
        self.net = self._net(inputs.shape[1])
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.lr,
                                      weight_decay=self.weight_decay)
        for _ in range(self.epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                predicted = self.net(inputs[batch]).squeeze(1)
                loss = nn.functional.mse_loss(predicted, targets[batch])
                if self.ranking and len(batch) > 1:
                    loss = loss + self.ranking * pairwise_ranking_loss(predicted, targets[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.net.eval()
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("the predictor has not been fitted")
        x = (np.asarray(features, dtype=np.float64) - self.scale["x_mean"].numpy()) \
            / self.scale["x_std"].numpy()
        with torch.no_grad():
            out = self.net(torch.tensor(x, dtype=torch.float32)).squeeze(1).double().numpy()
        return out * float(self.scale["y_std"]) + float(self.scale["y_mean"])

    def state_dict(self) -> dict:
        if self.net is None:
            raise RuntimeError("the predictor has not been fitted")
        return {"kind": "neural", "hidden": self.hidden, "inputs": self.net[0].in_features,
                "net": self.net.state_dict(), **self.scale}

    def load_state_dict(self, state: dict) -> None:
        self.hidden = state["hidden"]
        self.net = self._net(state["inputs"])
        self.net.load_state_dict(state["net"])
        self.net.eval()
        self.scale = {k: state[k] for k in ("x_mean", "x_std", "y_mean", "y_std")}


def pairwise_ranking_loss(predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean logistic loss over the ordered pairs of a batch: ``log(1 + exp(-(p_i - p_j)))`` for
    every pair whose targets say ``i`` beats ``j`` (RankNet's loss, ties left out)."""
    better = targets[:, None] > targets[None, :]
    if not better.any():
        return predicted.sum() * 0.0
    margins = predicted[:, None] - predicted[None, :]
    return nn.functional.softplus(-margins[better]).mean()


class TreePredictor(Predictor):
    """Gradient-boosted trees. Its state keeps the training data and settings, not the fitted
    trees (which only pickle, and a pickle is not ``weights_only``-safe): loading refits them,
    deterministically (fixed ``random_state``), in about a second."""

    def __init__(self, max_iter: int = 300, learning_rate: float = 0.05, seed: int = 0,
                 min_samples_leaf: int = 20) -> None:
        # min_samples_leaf: scikit-learn's default; a leaf needs that many examples, so fewer
        # than twice as many can never be split (a few dozen students need a smaller one)
        self.max_iter, self.learning_rate, self.seed = max_iter, learning_rate, seed
        self.min_samples_leaf = min_samples_leaf
        self.model = None
        self.data: tuple[np.ndarray, np.ndarray] | None = None

    def fit(self, examples: Sequence[Example]) -> TreePredictor:
        return self._fit(*_matrix(examples))

    def _fit(self, x: np.ndarray, y: np.ndarray) -> TreePredictor:
        from sklearn.ensemble import HistGradientBoostingRegressor  # a second to import
        self.data = (x, y)
        self.model = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate, random_state=self.seed,
            min_samples_leaf=self.min_samples_leaf, early_stopping=False).fit(x, y)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("the predictor has not been fitted")
        return self.model.predict(np.asarray(features, dtype=np.float64))

    def state_dict(self) -> dict:
        if self.data is None:
            raise RuntimeError("the predictor has not been fitted")
        return {"kind": "trees", "max_iter": self.max_iter, "learning_rate": self.learning_rate,
                "seed": self.seed, "min_samples_leaf": self.min_samples_leaf,
                "x": torch.tensor(self.data[0]), "y": torch.tensor(self.data[1])}

    def load_state_dict(self, state: dict) -> None:
        self.max_iter, self.learning_rate = state["max_iter"], state["learning_rate"]
        self.seed = state["seed"]
        self.min_samples_leaf = state.get("min_samples_leaf", 20)  # states saved before it
        self._fit(state["x"].numpy(), state["y"].numpy())


class ProxyPredictor(Predictor):
    """One column of the features as the score (``sign`` -1 when smaller is better): the
    zero-cost baselines. Fitting learns nothing."""

    def __init__(self, column: int, sign: float = 1.0) -> None:
        self.column, self.sign = column, sign

    def fit(self, examples: Sequence[Example]) -> ProxyPredictor:
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.sign * np.asarray(features, dtype=np.float64)[:, self.column]

    def state_dict(self) -> dict:
        return {"kind": "proxy", "column": self.column, "sign": self.sign}

    def load_state_dict(self, state: dict) -> None:
        self.column, self.sign = state["column"], state["sign"]
