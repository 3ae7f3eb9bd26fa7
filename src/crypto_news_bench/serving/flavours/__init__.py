"""One place per model flavour: how a final model is logged to MLflow, exported by
``cnbench publish``, recognised and loaded (from a published folder or a logged model), and
described on its model card.

Adding a model kind touches its estimator (``models/``), its flavour here (a new one only when
it saves differently) and a config; nothing else branches on the flavour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import DataError


@dataclass(frozen=True)
class Flavour:
    name: str
    library_name: str  # the model card's ``library_name``
    usage: str  # the card's "Use" snippet; ``{path}`` is the folder
    has_base_model: bool  # whether it fine-tunes or embeds with a pretrained encoder
    log: Callable[[Any, str, str], Any]  # (model, registered name, task) -> MLflow ModelInfo
    export: Callable[[Path, Path], None]  # (downloaded logged model, folder to fill)
    is_folder: Callable[[Path], bool]  # is this a published folder of the flavour?
    load_folder: Callable[[Path, str, str], Any]  # (folder, task, precision) -> Predictor
    is_logged: Callable[[Path], bool]  # is this a downloaded logged model of the flavour?
    load_logged: Callable[[Path, str, str], Any]  # (downloaded model, task, precision)


def _registry() -> dict[str, Flavour]:
    from . import encoder_head, sklearn, transformers

    return {f.name: f for f in (transformers.FLAVOUR, encoder_head.FLAVOUR, sklearn.FLAVOUR)}


def get(name: str) -> Flavour:
    flavours = _registry()
    if name not in flavours:
        raise DataError(f"unknown model flavour {name!r}; valid flavours: {', '.join(flavours)}")
    return flavours[name]


def of_model(flavour: str, model: Any) -> Flavour:
    """The flavour a fitted model is saved in: its spec's, except that a fold or final fit on
    one class falls back to scikit-learn's ``DummyClassifier`` (``protocol``), whatever the
    config's model."""
    if type(model).__module__.startswith("sklearn."):
        return get("sklearn")
    return get(flavour)


def for_folder(folder: Path) -> Flavour:
    for flavour in _registry().values():
        if flavour.is_folder(folder):
            return flavour
    raise DataError(f"{folder}: not a model folder (no head.skops, model.skops or config.json)")


def for_logged(local: Path, ref: str, task: str) -> Flavour:
    for flavour in _registry().values():
        if flavour.is_logged(local):
            return flavour
    raise DataError(f"model {ref!r} for {task}: {local} holds no model logged by cnbench "
                    "(no model/config.json, artifacts/model_dir or model.skops)")
