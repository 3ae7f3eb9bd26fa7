"""What every loaded model offers, whatever its flavour: labels and a score per text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PRECISIONS = ("float32", "bfloat16")


class Predictor:
    """Labels and scores for texts; the same interface whatever the model's flavour."""

    labels: list[str]

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        raise NotImplementedError


class ClassifierPredictor(Predictor):
    """A model whose ``probabilities`` have a column per label, in ``labels`` order."""

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        p = self.probabilities(texts)
        return [(self.labels[i], float(p[n, i])) for n, i in enumerate(p.argmax(axis=1))]


def check_precision(precision: str) -> str:
    """``precision`` if it is one of PRECISIONS; refused before any model is loaded (and
    without importing torch, which a folder with an ONNX export never needs)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    return precision


def torch_dtype(precision: str):
    """The torch dtype of a ``precision`` name; an unknown name is refused before any load."""
    import torch

    return getattr(torch, check_precision(precision))


def requirements(*names: str) -> list[str]:
    """Pinned pip requirements of a logged model: explicit, so MLflow does not spend seconds
    inferring them."""
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for name in names:
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            reqs.append(name)
    return reqs
