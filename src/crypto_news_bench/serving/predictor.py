"""What every loaded model offers, whatever its flavour: labels and a score per text."""

from __future__ import annotations

from collections.abc import Sequence

PRECISIONS = ("float32", "bfloat16")


class Predictor:
    """Labels and scores for texts; the same interface whatever the model's flavour."""

    labels: list[str]

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        raise NotImplementedError


def torch_dtype(precision: str):
    """The torch dtype of a ``precision`` name; an unknown name is refused before any load."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    return getattr(torch, precision)


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
