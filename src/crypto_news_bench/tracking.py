"""MLflow tracking: where runs go, and how one (config, task) evaluation is logged.

The embedded default is a SQLite store at ``mlruns/mlflow.db`` with artifacts under
``mlruns/artifacts``; ``MLFLOW_TRACKING_URI`` switches to a real server. Layout: one
experiment per task, a parent run per (config, task), a nested run per fold. MLflow is
imported inside functions so that ``cnbench --help`` stays fast.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import TrackingError
from .protocol import Evaluation, FoldResult
from .schema import TASKS

MLRUNS_DIR = Path("mlruns")
EXPERIMENT_PREFIX = "crypto-news-bench"
KIND_TAG = "cnbench.kind"
HOST_TAG, PID_TAG, HEARTBEAT_TAG = "cnbench.host", "cnbench.pid", "cnbench.heartbeat"
ENDED_TAG = "cnbench.ended_by"
# A RUNNING run on another host with no heartbeat for this long is taken for dead.
ORPHAN_AFTER_S = 6 * 3600


def embedded_uri(mlruns: Path | str = MLRUNS_DIR) -> str:
    return f"sqlite:///{Path(mlruns).resolve() / 'mlflow.db'}"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or embedded_uri()


# Schemes MLflow's tracking client speaks; anything else is a typo or a store this MLflow
# refuses (a plain folder, MLflow's old file store).
KNOWN_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")


def check_scheme(uri: str) -> None:
    scheme, sep, _ = uri.partition("://")
    base = scheme.split("+", 1)[0]
    if not sep or base not in KNOWN_SCHEMES:
        raise TrackingError(
            f"tracking URI {uri!r}: unknown scheme {scheme if sep else '(none)'!r}; use "
            "http(s)://HOST:PORT for a server or sqlite:///PATH for a local store (MLflow's "
            "plain-folder store is not supported)")


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


_READY: set[str] = set()


def _create_store_once(uri: str) -> None:
    """Create and migrate an embedded store under a file lock.

    MLflow creates the SQLite schema and runs its migrations when a client first opens the
    file. Two processes opening a new store at once (``--shard 1/2 &`` with ``--shard 2/2``)
    both ran the migration, and one crashed on the other's half-made tables. Under the lock
    the first creates it; the others find it ready.
    """
    if uri in _READY:
        return
    from filelock import FileLock
    from mlflow.tracking import MlflowClient

    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lock", timeout=300):
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    _READY.add(uri)


def setup(uri: str | None = None) -> str:
    """Point MLflow at ``uri`` (default: the environment, else the embedded store)."""
    import mlflow

    uri = uri or tracking_uri()
    check_scheme(uri)
    check_reachable(uri)
    # Once reachable, a server that stops answering should still fail fast.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if uri.startswith("sqlite:///"):
        _create_store_once(uri)
    mlflow.set_tracking_uri(uri)
    return uri


def is_lost_server(exc: BaseException) -> bool:
    """Whether ``exc`` means the tracking store stopped answering (rather than a bug)."""
    import requests
    from mlflow.exceptions import MlflowException

    if isinstance(exc, (requests.RequestException, ConnectionError)):
        return True
    # MLflow's REST client wraps a failed request (after its retries) in an MlflowException.
    text = str(exc)
    return isinstance(exc, MlflowException) and (
        ("API request to" in text and "failed" in text) or "Max retries exceeded" in text)


def lost(exc: BaseException, run_id: str | None = None) -> TrackingError:
    """The one-line error for a store that stopped answering mid-run."""
    import mlflow

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f" during run {run_id}" if run_id else ""
    return TrackingError(
        f"lost the MLflow tracking store at {mlflow.get_tracking_uri()}{where} "
        f"({type(exc).__name__}: {first[:160]}); the next `cnbench train` or `cnbench bench` "
        "against it marks the run FAILED")


def experiment_name(task: str) -> str:
    return f"{EXPERIMENT_PREFIX}/{task}"


def experiment_id(task: str) -> str:
    """The task's experiment, created on first use (artifacts beside the embedded store).

    Two processes may create it at once (shards, bench workers): the loser reads the winner's.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    name = experiment_name(task)
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except MlflowException:
        exp = mlflow.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


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
    # Who runs it, and a heartbeat renewed at every fold: a run whose process died can be
    # told from one still training (see ``mark_orphans``).
    tags |= {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()),
             HEARTBEAT_TAG: _now()}
    try:
        run = mlflow.start_run(experiment_id=experiment_id(task), run_name=run_name(config),
                               tags=tags)
    except Exception as exc:
        if is_lost_server(exc):
            raise lost(exc) from None
        raise
    run_id = run.info.run_id
    try:
        mlflow.log_params(config.flat())
        _log_input(inputs.training, "training")
        _log_input(inputs.evaluation, "evaluation")
        yield run
    except KeyboardInterrupt:
        _end(run_id, "KILLED")
        raise
    except BaseException as exc:
        reachable = _end(run_id, "FAILED")
        if not reachable or is_lost_server(exc):
            raise lost(exc, run_id) from None
        raise
    else:
        if not _end(run_id, "FINISHED"):
            raise TrackingError(f"run {run_id} finished, but the tracking store at "
                                f"{mlflow.get_tracking_uri()} could not record it; the next "
                                "`cnbench train` or `cnbench bench` marks it FAILED")


def _end(run_id: str, status: str) -> bool:
    """End the active run; False when the store cannot be reached to record it."""
    import mlflow

    try:
        mlflow.end_run(status=status)
    except Exception as exc:  # the store went away: the run stays RUNNING there for now
        if not is_lost_server(exc):
            raise
        return False
    return True


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run_name(config) -> str:
    """``<config>-seed<N>``: seeds of one config are told apart in the MLflow UI's run list."""
    return f"{config.name}-seed{config.seed}"


def heartbeat() -> None:
    """Renew the active parent run's heartbeat tag (called at every fold)."""
    import mlflow

    mlflow.set_tag(HEARTBEAT_TAG, _now())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphan_reason(tags: dict[str, str], now: float | None = None,
                  host: str | None = None) -> str | None:
    """Why a RUNNING run is orphaned, or None while it may still be alive.

    On this host, a run whose process is gone is orphaned at once; elsewhere (we cannot see
    the process), one whose heartbeat is older than ``ORPHAN_AFTER_S``.
    """
    now = time.time() if now is None else now
    host = socket.gethostname() if host is None else host
    beat = tags.get(HEARTBEAT_TAG)
    try:
        beat_s = calendar.timegm(time.strptime(beat, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        beat_s = None
    pid = tags.get(PID_TAG, "")
    if tags.get(HOST_TAG) == host and pid.isdigit() and not _alive(int(pid)):
        return f"its process {pid} on {host} is gone (last heartbeat {beat or 'never'})"
    if beat_s is None or now - beat_s > ORPHAN_AFTER_S:
        return (f"no heartbeat for over {ORPHAN_AFTER_S // 3600} h (last {beat or 'never'}, "
                f"process {pid or '?'} on {tags.get(HOST_TAG, '?')})")
    return None


def mark_orphans(tasks) -> list[str]:
    """Mark RUNNING parent runs (and their folds) whose process is gone FAILED, with a tag
    saying why; returns their ids. ``cnbench train`` and ``bench`` call it first, so a run
    left behind by a crash or a lost server never stays RUNNING."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    marked = []
    for task in tasks:
        exp = client.get_experiment_by_name(experiment_name(task))
        if exp is None:
            continue
        running = client.search_runs([exp.experiment_id],
                                     filter_string="attributes.status = 'RUNNING'",
                                     max_results=50000)
        for run in running:
            if run.data.tags.get(KIND_TAG) != "parent":
                continue
            reason = orphan_reason(run.data.tags)
            if reason is None:
                continue
            note = f"marked FAILED by cnbench at {_now()}: {reason}"
            for child in running:
                if child.data.tags.get("mlflow.parentRunId") == run.info.run_id:
                    client.set_tag(child.info.run_id, ENDED_TAG, note)
                    client.set_terminated(child.info.run_id, "FAILED")
            client.set_tag(run.info.run_id, ENDED_TAG, note)
            client.set_terminated(run.info.run_id, "FAILED")
            marked.append(run.info.run_id)
    return marked


def _log_input(data_input, context: str) -> None:
    """``mlflow.log_input``, once more if it collides with another writer.

    Two processes logging the same dataset to one experiment at once (``bench --jobs``,
    shards on one server) both find it missing and both insert it; the second insert fails
    on the store's unique key. By the retry the dataset exists, and the run is linked to it.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    with warnings.catch_warnings():
        # MLflow infers the schema here and warns that integer columns cannot hold missing
        # values; the dataset has none.
        warnings.simplefilter("ignore", UserWarning)
        try:
            mlflow.log_input(data_input, context=context)
        except MlflowException:
            time.sleep(0.5)
            mlflow.log_input(data_input, context=context)


def log_fold(fold: FoldResult, task: str) -> str:
    """A nested run for one fold: its metrics and, for trained transformers, the loss curve."""
    import mlflow

    heartbeat()
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
    mlflow.log_dict(evaluation.config.model_dump(), "config.json")
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
