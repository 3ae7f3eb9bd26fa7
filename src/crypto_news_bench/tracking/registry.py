"""The model registry: each task's final models as registered versions, and the ``champion``
alias on the best one. How a model is logged is its flavour's business (``serving.flavours``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..errors import TrackingError
from ..evaluation.protocol import Evaluation


def registered_name(task: str, config_name: str) -> str:
    return f"{task}-{config_name}"


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


def log_final_model(evaluation: Evaluation, flavour: Any) -> Any:
    """Log the model fitted on all training data and register it as ``<task>-<config>``, the
    way its ``flavour`` (``serving.flavours``) saves models."""
    import mlflow

    registered = registered_name(evaluation.task, evaluation.config.name)
    with _registry_chatter_filtered():
        info = flavour.log(evaluation.final_model, registered, evaluation.task)
    mlflow.set_tags({"cnbench.flavour": flavour.name, "cnbench.model_uri": info.model_uri,
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
