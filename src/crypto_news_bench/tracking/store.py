"""Where runs go: the tracking URI, the embedded store (created once, under a lock), the
task's experiments, and what a lost server looks like.

The embedded default is a SQLite store at ``mlruns/mlflow.db`` with artifacts under
``mlruns/artifacts``; ``MLFLOW_TRACKING_URI`` switches to a real server. MLflow is imported
inside functions so that ``cnbench --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import TrackingError

MLRUNS_DIR = Path("mlruns")
EXPERIMENT_PREFIX = "crypto-news-bench"


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


# MLflow 3's UI opens an experiment with this tag in its "Model training" view (the other
# kind, genai_development, opens the GenAI one).
KIND_KEY = "mlflow.experimentKind"
EXPERIMENT_KIND = (KIND_KEY, "custom_model_development")


def experiment_name(task: str) -> str:
    return f"{EXPERIMENT_PREFIX}/{task}"


def experiment_id(task: str) -> str:
    """The task's experiment, created on first use (artifacts beside the embedded store) and
    tagged as model training (``EXPERIMENT_KIND``); one made before the tag existed gets it.

    Two processes may create it at once (shards, bench workers): the loser reads the winner's.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    name = experiment_name(task)
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        if KIND_KEY not in (exp.tags or {}):
            mlflow.MlflowClient().set_experiment_tag(exp.experiment_id, *EXPERIMENT_KIND)
        return exp.experiment_id
    location = None
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location,
                                        tags=dict([EXPERIMENT_KIND]))
    except MlflowException:
        exp = mlflow.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id
