"""Runs: one parent run per (config, task, seed) with its params, tags, dataset inputs and
metrics, a nested run per fold, and the bookkeeping that keeps none RUNNING for ever
(heartbeats, and marking the runs of dead processes FAILED).
"""

from __future__ import annotations

import contextlib
import hashlib
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

from .. import __version__
from ..errors import TrackingError
from ..evaluation.protocol import Evaluation, FoldResult
from .artifacts import write_artifacts
from .store import EXPERIMENT_PREFIX, experiment_id, experiment_name, is_lost_server, lost

KIND_TAG = "cnbench.kind"
HOST_TAG, PID_TAG, HEARTBEAT_TAG = "cnbench.host", "cnbench.pid", "cnbench.heartbeat"
ENDED_TAG = "cnbench.ended_by"
# The metrics of a nested fold run are named with this prefix (``fold_macro_f1``).
FOLD_PREFIX = "fold_"
# A RUNNING run on another host with no heartbeat for this long is taken for dead.
ORPHAN_AFTER_S = 6 * 3600


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


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

        from ..data import dataset

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
             HEARTBEAT_TAG: utc_timestamp()}
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


def utc_timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run_name(config) -> str:
    """``<config>-seed<N>``: seeds of one config are told apart in the MLflow UI's run list."""
    return f"{config.name}-seed{config.seed}"


def heartbeat() -> None:
    """Renew the active parent run's heartbeat tag (called at every fold)."""
    import mlflow

    mlflow.set_tag(HEARTBEAT_TAG, utc_timestamp())


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
    """A nested run for one fold: its metrics, named ``fold_*`` (``fold_macro_f1``, ...) so
    that sorting or charting runs by a pooled metric (``macro_f1``) never mixes in a fold's,
    and, for trained transformers, the loss curve (``train_loss``)."""
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
        mlflow.log_metrics({f"{FOLD_PREFIX}{name}": value for name, value in (
            flat_metrics(fold.metrics) | {"fit_seconds": fold.fit_seconds,
                                          "predict_seconds": fold.predict_seconds,
                                          "n_absent_classes": len(fold.absent_classes)}
        ).items()})
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


CALIBRATION_FILE = "calibration.json"


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
    if evaluation.calibration is not None:
        # Already inside the final model; logged so a reader can see what was applied.
        mlflow.log_dict(evaluation.calibration.to_dict(), CALIBRATION_FILE)
        if evaluation.calibration.method == "temperature":
            mlflow.log_metric("calibration_temperature", evaluation.calibration.temperature)
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_artifacts(evaluation, Path(tmp)):
            mlflow.log_artifact(str(path))


def finished_parent_runs(task: str, extra_filter: str = "") -> list:
    """Every FINISHED parent run of the task's experiment, newest first (``extra_filter`` is
    ANDed to the search: the bench narrows it to one version and dataset)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment_name(task))
    if exp is None:
        return []
    query = f"tags.`{KIND_TAG}` = 'parent' and attributes.status = 'FINISHED'"
    return client.search_runs([exp.experiment_id],
                              filter_string=f"{query} and {extra_filter}" if extra_filter
                              else query,
                              order_by=["attributes.start_time DESC"], max_results=50000)


def latest_per_seed(found: list) -> dict[str, list]:
    """{config: [the newest run of each seed]} from parent runs listed newest first (as
    ``finished_parent_runs`` lists them): what a config's mean over seeds is taken over."""
    latest: dict[tuple[str, str], Any] = {}
    for r in found:  # newest first: the first run of a (config, seed) wins
        config = r.data.tags.get("cnbench.config", r.info.run_name)
        latest.setdefault((config, r.data.tags.get("cnbench.seed", "0")), r)
    by_config: dict[str, list] = {}
    for (config, _), r in latest.items():
        by_config.setdefault(config, []).append(r)
    return by_config
