"""The model registry: one registered model per task, ``crypto-news-bench-<task>``, whose
versions are the candidates (each config's final model), and the aliases ``champion`` (the
config with the best leave-one-document-out macro-F1) and ``challenger`` (the second best).
How a model is logged is its flavour's business (``serving.flavours``).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator
from typing import Any

from ..errors import TrackingError
from ..evaluation.protocol import Evaluation
from . import runs
from .store import EXPERIMENT_PREFIX, is_lost_server

CHAMPION, CHALLENGER = "champion", "challenger"
ALIASES = (CHAMPION, CHALLENGER)  # best first
CONFIG_TAG, SEED_TAG = "cnbench.config", "cnbench.seed"


def registered_name(task: str) -> str:
    """``crypto-news-bench-<task>``: the task's one registered model."""
    return f"{EXPERIMENT_PREFIX}-{task}"


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
    """Log the model fitted on all training data, the way its ``flavour`` (``serving.flavours``)
    saves models, as a new version of the task's registered model; the version's tags and
    description name the config and seed it was trained from."""
    import mlflow
    from mlflow.tracking import MlflowClient

    task, config = evaluation.task, evaluation.config
    registered = registered_name(task)
    with _registry_chatter_filtered():
        info = flavour.log(evaluation.final_model, registered, task)
    version = str(info.registered_model_version)
    client = MlflowClient()
    for key, value in {CONFIG_TAG: config.name, SEED_TAG: str(config.seed),
                       "cnbench.model": config.model, "cnbench.flavour": flavour.name}.items():
        client.set_model_version_tag(registered, version, key, value)
    client.update_model_version(
        registered, version,
        description=f"{config.name} (seed {config.seed}) on {task}: the {config.model} model "
                    "fitted on all its training data by crypto-news-bench")
    mlflow.set_tags({"cnbench.flavour": flavour.name, "cnbench.model_uri": info.model_uri,
                     "cnbench.registered_model": registered,
                     "cnbench.registered_version": version})
    return info


def config_scores(found: list) -> dict[str, float]:
    """Each config's mean macro-F1 over its seeds (the newest of ``found``, finished parent
    runs listed newest first, per seed), as the leaderboard ranks them; configs whose mean is
    undefined are left out."""
    scores = {}
    for config, latest in runs.latest_per_seed(found).items():
        f1 = statistics.fmean(r.data.metrics.get("macro_f1", float("nan")) for r in latest)
        if f1 == f1:  # not NaN
            scores[config] = f1
    return scores


def candidates(task: str) -> list:
    """The newest registered version of each config, among those logged by a finished parent
    run, best first (by the config's mean macro-F1; on a tie the newest version first)."""
    from mlflow.tracking import MlflowClient

    found = runs.finished_parent_runs(task)
    finished = {r.info.run_id: r for r in found}
    newest: dict[str, Any] = {}
    for v in MlflowClient().search_model_versions(f"name = '{registered_name(task)}'"):
        run = finished.get(v.run_id)
        if run is None:
            continue
        config = v.tags.get(CONFIG_TAG) or run.data.tags.get(CONFIG_TAG)
        if config and (config not in newest or int(v.version) > int(newest[config].version)):
            newest[config] = v
    scores = config_scores(found)
    ranked = [(scores[c], int(v.version), v) for c, v in newest.items() if c in scores]
    return [v for *_, v in sorted(ranked, key=lambda t: (t[0], t[1]), reverse=True)]


def update_aliases(task: str) -> dict[str, tuple[str, str]]:
    """Point ``champion`` at the best candidate of the task and ``challenger`` at the second
    (another config), and remove an alias that has no candidate left (a stale ``challenger``
    where only one config has a model). Returns {alias: (registered name, version)}."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    name = registered_name(task)
    ranked = candidates(task)
    if not ranked:
        return {}
    out = {}
    for alias, version in zip(ALIASES, ranked, strict=False):
        client.set_registered_model_alias(name, alias, version.version)
        out[alias] = (name, str(version.version))
    current = client.get_registered_model(name).aliases or {}
    for alias in ALIASES[len(out):]:
        if alias in current:
            with contextlib.suppress(MlflowException):  # another process removed it first
                client.delete_registered_model_alias(name, alias)
    return out


def alias_uri(task: str, alias: str = CHAMPION) -> str:
    """``models:/crypto-news-bench-<task>@<alias>`` when the alias is set in the current store."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    name = registered_name(task)
    try:
        MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if is_lost_server(exc):
            raise
        raise TrackingError(f"no registered {task} model has the {alias!r} alias yet; "
                            "train one with `cnbench train`") from None
    return f"models:/{name}@{alias}"


def champion_uri(task: str) -> str:
    """``models:/crypto-news-bench-<task>@champion`` for the task's champion."""
    return alias_uri(task, CHAMPION)
