"""Pre-annotations for the Label Studio tasks: a model's label and calibrated score per unit.

The model is named as ``cnbench predict`` names one: a published folder, an MLflow model URI, or
an alias of the task's registered model (``champion``, ``challenger``), resolved through
``tracking.registry`` so the registered names stay that module's business. Each prediction
carries a ``model_version`` saying which model made it, so an annotator (and Label Studio's
"prediction score" ordering) knows what they are correcting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CnbenchError

ALIASES = ("champion", "challenger")


@dataclass(frozen=True)
class PreLabeller:
    """A loaded model of one task and the name its predictions go under."""

    version: str
    predictor: object  # serving.predictor.Predictor

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return list(self.predictor.predict(list(texts))) if texts else []


def _alias_version(task: str, alias: str) -> tuple[str, str]:
    """(model URI, readable version) of an alias of the task's registered model."""
    from mlflow.tracking import MlflowClient

    from ..tracking import registry

    uri = registry.champion_uri(task) if alias == "champion" else registry.alias_uri(task, alias)
    name = uri.removeprefix("models:/").rsplit("@", 1)[0]
    version = f"{name}@{alias}"
    try:
        client = MlflowClient()
        mv = client.get_model_version_by_alias(name, alias)
        config = client.get_run(mv.run_id).data.tags.get(registry.CONFIG_TAG) if mv.run_id else None
        version = f"{name} v{mv.version} ({alias}{', ' + config if config else ''})"
    except Exception:  # the readable name is a courtesy; the URI alone still loads
        pass
    return uri, version


def load_prelabeller(ref: str, task: str) -> PreLabeller:
    """A pre-labeller for ``ref``: ``champion``/``challenger``, a folder or an MLflow URI.

    An alias that is not set in the store raises the store's ``CnbenchError``; the caller
    decides whether exporting without predictions is acceptable then.
    """
    from ..serving.predict import load_predictor

    if ref in ALIASES:
        uri, version = _alias_version(task, ref)
    else:
        uri = ref
        version = Path(ref).resolve().name if Path(ref).is_dir() else ref
    return PreLabeller(version, load_predictor(uri, task))


def try_load(ref: str | None, task: str) -> tuple[PreLabeller | None, str | None]:
    """(pre-labeller, None), or (None, why there are no predictions) when no model is asked
    for or the asked alias has no model in the store. A folder or URI that fails to load is
    still an error: the user named that model."""
    if ref is None:
        return None, "no --models given"
    try:
        return load_prelabeller(ref, task), None
    except CnbenchError as exc:
        if ref not in ALIASES:
            raise
        return None, f"no {ref} model for {task}: {exc}"
