"""Publish a run's final model as a folder others use without this package.

- transformers: ``config.json`` (with ``id2label``/``label2id``), ``model.safetensors``, the
  tokenizer; loads with ``transformers.pipeline("text-classification", model=DIR)``;
- encoder + head (frozen encoder, SetFit): a sentence-transformers folder and ``head.skops``;
- scikit-learn: ``model.skops``.
Each gets ``labels.json`` and a ``README.md`` model card. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from pathlib import Path

from .. import __version__
from ..data.schema import TASKS
from ..errors import PublishError
from ..tracking import runs, store
from . import flavours, onnx_graph
from .model_card import card

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def is_previous_publish(folder: Path) -> bool:
    """Whether ``folder`` was written by ``cnbench publish``: its ``labels.json`` and a model
    card whose metadata carries our ``cnbench`` block. Only such a folder may be replaced."""
    import yaml

    readme, labels = folder / "README.md", folder / "labels.json"
    if not (readme.is_file() and labels.is_file()):
        return False
    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---\n"):
        return False
    try:
        meta = yaml.safe_load(text[4:].partition("\n---")[0])
    except yaml.YAMLError:
        return False
    return isinstance(meta, dict) and isinstance(meta.get("cnbench"), dict)


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse what publishing must never touch, before anything is read or written."""
    if out.exists() and not out.is_dir():
        raise PublishError(f"{out}: is a file; --out names the folder to write")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise PublishError(f"{out}: folder exists and is not empty (--overwrite replaces a "
                               "folder written by an earlier cnbench publish)")
        if not is_previous_publish(out):
            raise PublishError(f"{out}: --overwrite replaces only a folder written by cnbench "
                               "publish (with its labels.json and model card); this one is "
                               "not, so nothing was changed")


def publish(run_id: str, out_dir: Path | str, tracking_uri: str | None = None,
            overwrite: bool = False) -> Path:
    """Write the final model of a run, with ``labels.json`` and a model card, to ``out_dir``.

    The folder is built beside ``out_dir`` and swapped in only once complete, so a failed
    export leaves an earlier publish as it was; ``overwrite`` replaces only an earlier publish.
    """
    import tempfile
    import uuid

    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    out = Path(out_dir)
    _check_out(out, overwrite)
    store.setup(tracking_uri)
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException:
        raise PublishError(f"run {run_id} not found at {mlflow.get_tracking_uri()}") from None
    tags = run.data.tags
    model_uri, flavour = tags.get("cnbench.model_uri"), tags.get("cnbench.flavour")
    task = tags.get("cnbench.task")
    if not model_uri or not flavour or task not in TASKS:
        raise PublishError(_no_model(run, out))
    kind = flavours.get(flavour)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.publishing-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with _quiet("mlflow.store.artifact.artifact_repo"):
                local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri,
                                                                 dst_path=tmp))
            config = mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json")
            calibration = _calibration(run_id)
        except (MlflowException, OSError) as exc:
            raise PublishError(f"run {run_id}: its model {model_uri} cannot be read from the "
                               f"store ({type(exc).__name__}: {str(exc).splitlines()[0]})"
                               ) from None
        if not local.is_dir() or not any(local.iterdir()):
            raise PublishError(f"run {run_id}: its model {model_uri} cannot be read from the "
                               "store (its artifact folder is missing or empty)")
        staging.mkdir()
        try:
            # The flavour checks every file (safe_load) before it copies it: a model a store
            # was made to hold cannot run code on whoever publishes it.
            kind.export(local, staging)
            (staging / "labels.json").write_text(
                json.dumps({"task": task, "labels": list(TASKS[task].labels)}),
                encoding="utf-8")
            if calibration is not None:
                # A record, not something to apply: the scores of the folder's model are
                # calibrated already (the temperature is in its weights, the precision table
                # in a rule-based tool's skops file).
                (staging / runs.CALIBRATION_FILE).write_text(json.dumps(
                    {**calibration, "applied": "inside the model: its scores are calibrated"}),
                    encoding="utf-8")
            base = config.get("params", {}).get("model_name_or_path")
            if kind.has_base_model and base in (None, "default"):
                base = DEFAULT_BASE_MODEL
            (staging / "README.md").write_text(card(
                task=task, config=config, flavour=flavour, metrics=run.data.metrics,
                dataset_hash=tags.get("cnbench.dataset_hash", ""), run_id=run_id,
                base_model=base if kind.has_base_model else None, version=__version__,
                onnx=(staging / onnx_graph.ONNX_DIR / onnx_graph.EXPORT_FILE).is_file(),
            ), encoding="utf-8")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _swap_in(staging, out)
    return out


def _calibration(run_id: str) -> dict | None:
    """The run's ``calibration.json``; None for runs logged before calibration existed."""
    from mlflow.tracking import MlflowClient

    names = {a.path for a in MlflowClient().list_artifacts(run_id)}
    if runs.CALIBRATION_FILE not in names:
        return None
    import mlflow

    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{runs.CALIBRATION_FILE}")


def _no_model(run, out: Path) -> str:
    """Why a run cannot be published, and, for a seed the bench ran without a final model,
    which run of the same config holds it."""
    tags, run_id = run.data.tags, run.info.run_id
    config, task = tags.get("cnbench.config"), tags.get("cnbench.task")
    if tags.get(runs.KIND_TAG) != "parent" or not config or task not in TASKS:
        return (f"run {run_id} has no final model logged by cnbench train (a parent run of "
                "`cnbench train` has one; fold runs and failed runs do not)")
    seed = tags.get("cnbench.seed", "?")
    holder = next((r.info.run_id for r in runs.finished_parent_runs(task)
                   if r.data.tags.get("cnbench.config") == config
                   and r.data.tags.get("cnbench.model_uri")), None)
    if holder is None:
        return (f"run {run_id} (seed {seed}) holds no model, and no finished run of {config} "
                f"on {task} does (`cnbench train` logs one; `cnbench bench` with a config's "
                "first seed)")
    return (f"run {run_id} (seed {seed}) holds no model; the model of {config} on {task} is "
            f"in run {holder}: cnbench publish {holder} --out {out}")


@contextlib.contextmanager
def _quiet(logger: str):
    """MLflow logs an INFO line when an artifact folder is empty; the error says it better."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by the complete ``staging`` folder: two renames on one file system."""
    old = None
    if out.exists():
        old = out.parent / f"{staging.name}.old"
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
