"""MLflow tracking: where runs go, and how one (config, task) evaluation is logged.

The embedded default is a SQLite store at ``mlruns/mlflow.db`` with artifacts under
``mlruns/artifacts``; ``MLFLOW_TRACKING_URI`` switches to a real server. Layout: one
experiment per task, a parent run per (config, task), a nested run per fold. MLflow is
imported inside functions so that ``cnbench --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .protocol import Evaluation, FoldResult
from .schema import TASKS

MLRUNS_DIR = Path("mlruns")
EXPERIMENT_PREFIX = "crypto-news-bench"
KIND_TAG = "cnbench.kind"


class TrackingError(RuntimeError):
    """The tracking server cannot be used; the message says which and why."""


def embedded_uri(mlruns: Path | str = MLRUNS_DIR) -> str:
    return f"sqlite:///{Path(mlruns).resolve() / 'mlflow.db'}"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or embedded_uri()


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail within seconds, not after MLflow's minutes of retries, when a server is down."""
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=timeout).raise_for_status()
    except requests.RequestException as exc:
        raise TrackingError(
            f"cannot reach the MLflow tracking server at {uri} ({type(exc).__name__}); "
            "start it, or unset MLFLOW_TRACKING_URI to use the embedded store under mlruns/"
        ) from None


def setup(uri: str | None = None) -> str:
    """Point MLflow at ``uri`` (default: the environment, else the embedded store)."""
    import mlflow

    uri = uri or tracking_uri()
    check_reachable(uri)
    # Once reachable, a server that stops answering should still fail fast.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    return uri


def experiment_name(task: str) -> str:
    return f"{EXPERIMENT_PREFIX}/{task}"


def experiment_id(task: str) -> str:
    """The task's experiment, created on first use (artifacts beside the embedded store)."""
    import mlflow

    name = experiment_name(task)
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def registered_name(task: str, config_name: str) -> str:
    return f"{task}-{config_name}"


@dataclass(frozen=True)
class DataInputs:
    """The run's two MLflow dataset inputs: what it trains on and what it is scored on.

    Training is the splits named by ``train_on`` (every fold trains on a part of it, the
    final model on all of it); evaluation is always the real pages.
    """

    training: Any
    evaluation: Any

    @classmethod
    def of(cls, task: str, splits: dict, train_on: str, data_dir) -> DataInputs:
        import mlflow
        import pandas as pd

        from . import dataset

        def make(names: list[str], name: str):
            frame = pd.concat([splits[n].to_pandas() for n in names], ignore_index=True)
            digest = hashlib.sha256("+".join(
                dataset.split_hash(task, n, data_dir) for n in names).encode()).hexdigest()[:16]
            folder = (dataset.processed_dir(data_dir) / task).resolve()
            source = ",".join(str(folder / f"{n}.parquet") for n in names)
            with warnings.catch_warnings():
                # MLflow warns that a local path could be two kinds of source and that integer
                # columns cannot hold missing values; neither applies to this dataset.
                warnings.simplefilter("ignore", UserWarning)
                return mlflow.data.from_pandas(frame, source=source, targets="label",
                                               name=name, digest=digest)

        return cls(
            training=make(train_on.split("+"), f"{EXPERIMENT_PREFIX}-{task}-train-{train_on}"),
            evaluation=make(["real"], f"{EXPERIMENT_PREFIX}-{task}-real"),
        )


@contextlib.contextmanager
def parent_run(config, task: str, inputs: DataInputs, dataset_hash: str,
               extra_tags: dict[str, str] | None = None) -> Iterator[Any]:
    """The parent run of one (config, task): params, tags and dataset inputs up front.

    An exception ends it FAILED and Ctrl-C ends it KILLED, so no run is left RUNNING.
    """
    import mlflow

    tags = {
        KIND_TAG: "parent",
        "cnbench.config": config.name,
        "cnbench.model": config.model,
        "cnbench.task": task,
        "cnbench.version": __version__,
        "cnbench.dataset_hash": dataset_hash,
        "cnbench.seed": str(config.seed),
        "cnbench.config_hash": config.digest(),
        "cnbench.train_on": config.train_on,
        **(extra_tags or {}),
    }
    commit = git_commit()
    if commit:
        tags["cnbench.git_commit"] = commit
    run = mlflow.start_run(experiment_id=experiment_id(task), run_name=config.name, tags=tags)
    try:
        mlflow.log_params(config.flat())
        _log_input(inputs.training, "training")
        _log_input(inputs.evaluation, "evaluation")
        yield run
    except KeyboardInterrupt:
        mlflow.end_run(status="KILLED")
        raise
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


def _log_input(data_input, context: str) -> None:
    """``mlflow.log_input``, once more if it collides with another writer.

    Two processes logging the same dataset to one experiment at once (``bench --jobs``,
    shards on one server) both find it missing and both insert it; the second insert fails
    on the store's unique key. By the retry the dataset exists, and the run is linked to it.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.log_input(data_input, context=context)
    except MlflowException:
        time.sleep(0.5)
        mlflow.log_input(data_input, context=context)


def log_fold(fold: FoldResult, task: str) -> str:
    """A nested run for one fold: its metrics and, for trained transformers, the loss curve."""
    import mlflow

    # In the parent's experiment: without experiment_id MLflow puts a nested run in the
    # default experiment (id 0, artifacts under ./mlruns), away from its parent.
    parent = mlflow.active_run()
    with mlflow.start_run(run_name=f"fold-{fold.held_out}", nested=True,
                          experiment_id=parent.info.experiment_id if parent else None,
                          tags={KIND_TAG: "fold", "cnbench.held_out": fold.held_out,
                                "cnbench.task": task}) as run:
        mlflow.log_params({"held_out": fold.held_out, "n_train": fold.n_train,
                           "n_test": fold.n_test})
        mlflow.log_metrics(flat_metrics(fold.metrics) | {
            "fit_seconds": fold.fit_seconds, "predict_seconds": fold.predict_seconds,
            "n_absent_classes": len(fold.absent_classes)})
        if fold.absent_classes:
            mlflow.set_tag("cnbench.absent_classes", ",".join(fold.absent_classes))
        for point in fold.history:
            mlflow.log_metric("train_loss", point["loss"], step=int(point["step"]))
        return run.info.run_id


def flat_metrics(metrics: dict) -> dict[str, float]:
    out = {k: float(v) for k, v in metrics.items() if k != "per_class"}
    for label, values in metrics.get("per_class", {}).items():
        for name in ("precision", "recall", "f1"):
            out[f"{name}_{label}"] = float(values[name])
    return out


def confusion_png(evaluation: Evaluation, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = list(TASKS[evaluation.task].labels)
    gold = [p["gold"] for p in evaluation.predictions]
    pred = [p["predicted"] for p in evaluation.predictions]
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 3, 1.2 * len(labels) + 2.5))
    ConfusionMatrixDisplay.from_predictions(gold, pred, labels=labels, ax=ax, colorbar=False,
                                            xticks_rotation=45)
    ax.set_title(f"{evaluation.config.name} on {evaluation.task} (out-of-fold)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_artifacts(evaluation: Evaluation, folder: Path) -> list[Path]:
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "oof_predictions.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "doc", "text", "gold", "predicted",
                                                "score"])
        writer.writeheader()
        writer.writerows(evaluation.predictions)
    metrics_path = folder / "metrics.json"
    metrics_path.write_text(json.dumps({
        "task": evaluation.task, "config": evaluation.config.name,
        "pooled": evaluation.metrics,
        "macro_f1_ci": list(evaluation.ci),
        "confidence": evaluation.config.confidence,
        "folds": [{"held_out": f.held_out, "metrics": f.metrics,
                   "absent_classes": f.absent_classes} for f in evaluation.folds],
        "notes": evaluation.notes,
    }, indent=2), encoding="utf-8")
    return [csv_path, metrics_path, confusion_png(evaluation, folder / "confusion_matrix.png")]


def log_evaluation(evaluation: Evaluation) -> None:
    """Aggregate metrics with the interval, and the artifacts, into the active parent run."""
    import mlflow

    mlflow.log_metrics(flat_metrics(evaluation.metrics) | {
        **{f"n_train_final_{k}": v for k, v in evaluation.n_train_final.items()},
        "macro_f1_ci_low": evaluation.ci[0], "macro_f1_ci_high": evaluation.ci[1],
        "fit_seconds": evaluation.fit_seconds, "final_fit_seconds": evaluation.final_fit_seconds,
        "throughput": evaluation.throughput,
        "n_absent_classes": sum(len(f.absent_classes) for f in evaluation.folds),
    })
    if evaluation.notes:
        mlflow.set_tag("cnbench.notes", "; ".join(evaluation.notes))
    # The config as data, for publishing and model cards (params are flattened strings).
    mlflow.log_dict(asdict(evaluation.config), "config.json")
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_artifacts(evaluation, Path(tmp)):
            mlflow.log_artifact(str(path))


def _requirements(*names: str) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for name in names:
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            reqs.append(name)
    return reqs


def log_sklearn_model(model, registered: str) -> Any:
    """Skops, never pickle; explicit requirements so MLflow does not spend seconds inferring."""
    import mlflow

    module = type(model).__module__
    own = module.startswith("crypto_news_bench")
    reqs = _requirements("scikit-learn", "skops", "numpy")
    if own:
        # The rule-based wrappers are this package's classes: loading needs it and its tool.
        reqs += _requirements("crypto-news-bench", "justext", "lxml_html_clean", "vaderSentiment")
    return mlflow.sklearn.log_model(
        model, name="model", registered_model_name=registered, pip_requirements=reqs,
        serialization_format="skops",
        skops_trusted_types=[f"{module}.{type(model).__qualname__}"] if own else None,
    )


def log_transformers_model(model, registered: str) -> Any:
    """MLflow's transformers flavour, offline: the components are passed in, nothing fetched."""
    import mlflow
    from huggingface_hub import ModelCard

    from .models.encoder import go_offline

    go_offline()
    # Our own card, so MLflow does not look one up on the hub for the base model.
    card = ModelCard(f"---\nlibrary_name: transformers\n---\n# {registered}\n\nTrained by "
                     "crypto-news-bench; `cnbench publish` writes the full model card.\n")
    return mlflow.transformers.log_model(
        transformers_model={"model": model.model_, "tokenizer": model.tokenizer_},
        task="text-classification", name="model", registered_model_name=registered,
        model_card=card,
        pip_requirements=_requirements("transformers", "torch", "safetensors", "tokenizers"),
        save_pretrained=True,
    )


def log_encoder_head_model(model, registered: str, task: str) -> Any:
    """A model from code (no pickle) over a saved encoder folder and skops head."""
    import mlflow

    from . import encoder_head_pyfunc

    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save_encoder_head(Path(tmp) / "model_dir")
        (folder / encoder_head_pyfunc.LABELS_FILE).write_text(
            json.dumps({"task": task, "labels": list(TASKS[task].labels)}), encoding="utf-8")
        # MLflow asks for type hints on predict() to infer a signature; ours takes texts
        # as a list or a one-column DataFrame, which no single hint describes.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*type hints to the `predict` method")
            return mlflow.pyfunc.log_model(
                name="model", python_model=encoder_head_pyfunc.__file__,
                artifacts={"model_dir": str(folder)}, registered_model_name=registered,
                pip_requirements=_requirements("sentence-transformers", "transformers",
                                               "torch", "skops", "scikit-learn", "pandas"),
            )


@contextlib.contextmanager
def _registry_chatter_filtered() -> Iterator[None]:
    """MLflow prints three lines to stderr per registered version; pass on everything else."""
    import io
    import sys

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    finally:
        chatter = ("Successfully registered model", "Registered model", "Created version")
        sys.stderr.write("".join(line for line in buffer.getvalue().splitlines(True)
                                 if not line.startswith(chatter)))


def log_final_model(evaluation: Evaluation, flavour: str) -> Any:
    """Log the model fitted on all gold data and register it as ``<task>-<config>``."""
    with _registry_chatter_filtered():
        return _log_final_model(evaluation, flavour)


def _log_final_model(evaluation: Evaluation, flavour: str) -> Any:
    registered = registered_name(evaluation.task, evaluation.config.name)
    model = evaluation.final_model
    # Training data with one class gets a DummyClassifier (protocol._fit), whatever the config.
    if flavour == "sklearn" or type(model).__module__.startswith("sklearn"):
        info = log_sklearn_model(model, registered)
    elif flavour == "transformers":
        info = log_transformers_model(model, registered)
    elif flavour == "encoder_head":
        info = log_encoder_head_model(model, registered, evaluation.task)
    else:
        raise ValueError(f"unknown model flavour {flavour!r}")
    import mlflow

    mlflow.set_tags({"cnbench.flavour": flavour, "cnbench.model_uri": info.model_uri,
                     "cnbench.registered_model": registered})
    return info


CHAMPION = "champion"


def update_champion(task: str) -> tuple[str, str] | None:
    """Point the ``champion`` alias at the best registered version of the task (by macro-F1,
    the newest on a tie) and take it off every other model of the task."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    best, best_key = None, None
    models = client.search_registered_models(filter_string=f"name LIKE '{task}-%'")
    for rm in models:
        for version in client.search_model_versions(f"name = '{rm.name}'"):
            if not version.run_id:
                continue
            f1 = client.get_run(version.run_id).data.metrics.get("macro_f1")
            if f1 is None:
                continue
            key = (f1, version.creation_timestamp)
            if best_key is None or key > best_key:
                best, best_key = version, key
    if best is None:
        return None
    for rm in models:
        if rm.name != best.name and CHAMPION in (rm.aliases or {}):
            client.delete_registered_model_alias(rm.name, CHAMPION)
    client.set_registered_model_alias(best.name, CHAMPION, best.version)
    return best.name, best.version


def champion_uri(task: str) -> str:
    """``models:/<name>@champion`` for the task's champion in the current store."""
    from mlflow.tracking import MlflowClient

    for rm in MlflowClient().search_registered_models(filter_string=f"name LIKE '{task}-%'"):
        if CHAMPION in (rm.aliases or {}):
            return f"models:/{rm.name}@{CHAMPION}"
    raise TrackingError(f"no registered {task} model has the {CHAMPION!r} alias yet; "
                        "train one with `cnbench train`")
