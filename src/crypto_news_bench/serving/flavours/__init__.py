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

# A model logged as a pyfunc "model from code" (``serving/pyfunc.py``) keeps its published
# folder (model files + labels.json) under this name among its artifacts.
MODEL_DIR = "model_dir"
LABELS_FILE = "labels.json"


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
                    "(no model/config.json, artifacts/model_dir/head.skops or "
                    "artifacts/model_dir/model.skops)")


def logged_folder(local: Path) -> Path:
    """The published-folder layout inside a downloaded pyfunc model."""
    return local / "artifacts" / MODEL_DIR


def write_labels(folder: Path, task: str) -> None:
    import json

    from ...data.schema import TASKS

    (folder / LABELS_FILE).write_text(
        json.dumps({"task": task, "labels": list(TASKS[task].labels)}), encoding="utf-8")


def folder_task(folder: Path) -> str:
    """The task a model folder's ``labels.json`` names."""
    import json

    from ...data.schema import TASKS

    path = Path(folder) / LABELS_FILE
    try:
        task = json.loads(path.read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: not a labels file ({type(exc).__name__})") from None
    if task not in TASKS:
        raise DataError(f"{path}: unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


def signature():
    """What the pyfunc of a folder model takes and gives: a ``text`` column in; a ``label``
    (the label's name) and its ``score`` out, one row per text."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(inputs=Schema([ColSpec("string", "text")]),
                          outputs=Schema([ColSpec("string", "label"),
                                          ColSpec("double", "score")]))


def log_folder(folder: Path, registered: str, pip_requirements: list[str]) -> Any:
    """Log ``folder`` (a published-folder layout with ``labels.json``) as an MLflow "model from
    code" (``serving/pyfunc.py``; nothing pickled) with the signature above, registered as a
    new version of ``registered``."""
    import warnings

    import mlflow

    from .. import pyfunc

    with warnings.catch_warnings():
        # The signature is given: MLflow would still ask for an input example (which it
        # would run the model on, loading it once more).
        warnings.filterwarnings("ignore", message=".*input example was not provided")
        return mlflow.pyfunc.log_model(
            name="model", python_model=pyfunc.__file__, artifacts={MODEL_DIR: str(folder)},
            signature=signature(), registered_model_name=registered,
            pip_requirements=pip_requirements)
