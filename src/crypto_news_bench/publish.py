"""Publish a run's final model as a folder others use without this package.

- transformers: ``config.json`` (with ``id2label``/``label2id``), ``model.safetensors``, the
  tokenizer; loads with ``transformers.pipeline("text-classification", model=DIR)``;
- encoder + head (frozen encoder, SetFit): a sentence-transformers folder and ``head.skops``;
- scikit-learn: ``model.skops``.
Each gets ``labels.json`` and a ``README.md`` model card. Nothing is pickled.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import __version__, tracking
from .errors import DataError
from .model_card import card
from .schema import TASKS

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class PublishError(DataError):
    """The run cannot be published; the message says why."""


def publish(run_id: str, out_dir: Path | str, tracking_uri: str | None = None,
            overwrite: bool = False) -> Path:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    tracking.setup(tracking_uri)
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException:
        raise PublishError(f"run {run_id} not found at {mlflow.get_tracking_uri()}") from None
    tags = run.data.tags
    model_uri, flavour = tags.get("cnbench.model_uri"), tags.get("cnbench.flavour")
    task = tags.get("cnbench.task")
    if not model_uri or not flavour or task not in TASKS:
        raise PublishError(
            f"run {run_id} has no final model logged by cnbench train (a parent run of "
            "`cnbench train` has one; fold runs and failed runs do not)"
        )
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise PublishError(f"{out}: folder exists and is not empty (use --overwrite)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    if flavour == "transformers":
        parts = mlflow.transformers.load_model(model_uri, return_type="components")
        parts["model"].save_pretrained(out, safe_serialization=True)
        parts["tokenizer"].save_pretrained(out)
    else:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
        if flavour == "encoder_head":
            shutil.copytree(local / "artifacts" / "model_dir", out, dirs_exist_ok=True)
        else:
            shutil.copy2(local / "model.skops", out / "model.skops")
    (out / "labels.json").write_text(
        json.dumps({"task": task, "labels": list(TASKS[task].labels)}), encoding="utf-8")

    config = mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json")
    base = config.get("params", {}).get("model_name_or_path")
    if flavour != "sklearn" and base in (None, "default"):
        base = DEFAULT_BASE_MODEL
    (out / "README.md").write_text(card(
        task=task, config=config, flavour=flavour, metrics=run.data.metrics,
        dataset_hash=tags.get("cnbench.dataset_hash", ""), run_id=run_id,
        base_model=base if flavour != "sklearn" else None, version=__version__,
    ), encoding="utf-8")
    return out
