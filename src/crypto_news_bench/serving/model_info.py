"""What the page and the command line say about each model: which one it is (registered name,
version and alias, or folder; and its config) and how well it scored in the benchmark
(leave-one-document-out macro-F1, and the ECE of its calibrated confidence).

For an MLflow model the scores are the metrics of the run that logged it; for a published
folder, its model card (``README.md``, written by ``cnbench publish``): macro-F1 from the
card's ``model-index``, ECE from its ``cnbench`` block. What cannot be found is ``None`` and
shown as "unknown", never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

# A calibrated score below this is marked "low confidence": at 0.6 the label is wrong about
# two times in five or more, too often to read it without checking the text. It sits above a
# two-class coin toss (0.5), so it means something for boilerplate too.
LOW_CONFIDENCE = 0.6
# A task whose model scored below this leave-one-document-out macro-F1 is flagged: its labels
# are hints to check, not findings. 0.6 is about where the best stance models are; claim type
# stays under it.
MACRO_F1_FLOOR = 0.6


@dataclass(frozen=True)
class ModelInfo:
    """One task's model as people should see it."""

    task: str
    name: str  # "crypto-news-bench-stance v3 @champion", "run ID", "folder PATH"
    config: str | None = None
    macro_f1: float | None = None
    ece: float | None = None
    run_id: str | None = None

    @property
    def below_floor(self) -> bool:
        return self.macro_f1 is not None and self.macro_f1 < MACRO_F1_FLOOR

    @property
    def warning(self) -> str | None:
        """Why this task's labels deserve less trust, or None."""
        if self.macro_f1 is None:
            return (f"{self.task}: the benchmark macro-F1 of {self.name} is unknown; "
                    "how far to trust its labels is unknown")
        if self.below_floor:
            return (f"{self.task}: {self.name} scored macro-F1 {self.macro_f1:.3f} in the "
                    f"benchmark, below the floor of {MACRO_F1_FLOOR:.2f}; treat its labels "
                    "as hints to check")
        return None

    def summary(self) -> str:
        """One line: the model, its config and its scores."""
        config = f" ({self.config})" if self.config else ""
        return (f"{self.task}: {self.name}{config}, macro-F1 {fmt(self.macro_f1)}, "
                f"ECE {fmt(self.ece)}")


def fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3f}"


def _number(value: object) -> float | None:
    """A finite float, or None (a missing metric, NaN, or something that is not a number)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def describe_folder(folder: Path, task: str) -> ModelInfo:
    """A published folder, scored by its model card; a folder without a readable card (made by
    hand, or by an older version) gets "unknown" scores rather than an error: the model
    itself still loads."""
    name = f"folder {folder}"
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return ModelInfo(task, name)
    try:
        from huggingface_hub import ModelCard

        # A Path, never a str: a str that is not a file would be looked up on the Hub.
        data = ModelCard.load(readme, ignore_metadata_errors=True).data
    except Exception:  # a card is a courtesy: any parse failure means "unknown"
        return ModelInfo(task, name)
    f1 = next((_number(r.metric_value) for r in data.eval_results or []
               if r.metric_type == "f1"), None)
    block = getattr(data, "cnbench", None)
    block = block if isinstance(block, dict) else {}
    config = block.get("config")
    config_name = config.get("name") if isinstance(config, dict) else None
    return ModelInfo(task, name, config_name if isinstance(config_name, str) else None, f1,
                     _number(block.get("ece")), block.get("mlflow_run_id"))


def resolve_logged(ref: str, task: str) -> tuple[str, ModelInfo]:
    """(the URI to download, its description) for an MLflow reference in the current store.

    An alias is pinned to the version it names now, so that the model described is the model
    loaded even if the alias moves in between; ``champion`` or ``challenger`` alone is that
    alias of the task's registered model (refused when not set). Lookups that fail leave the
    URI as given (the download then says why) and the scores unknown.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from ..tracking import registry

    uri = registry.alias_uri(task, ref) if ref in registry.ALIASES else ref
    client = MlflowClient()
    name, run_id, config = uri, None, None
    try:
        if uri.startswith("runs:/"):
            run_id = uri.removeprefix("runs:/").split("/", 1)[0]
            name = f"run {run_id}"
        else:
            body = uri.removeprefix("models:/")
            if "@" in body:
                registered, alias = body.rsplit("@", 1)
                version = client.get_model_version_by_alias(registered, alias)
                uri = f"models:/{registered}/{version.version}"
                name = f"{registered} v{version.version} @{alias}"
            else:
                registered, _, number = body.partition("/")
                version = client.get_model_version(registered, number)
                name = f"{registered} v{version.version}"
            run_id = version.run_id
            config = version.tags.get(registry.CONFIG_TAG)
        run = client.get_run(run_id) if run_id else None
    except MlflowException:
        return uri, ModelInfo(task, name, config, run_id=run_id)
    if run is None:
        return uri, ModelInfo(task, name, config)
    metrics = run.data.metrics
    return uri, ModelInfo(task, name, config or run.data.tags.get(registry.CONFIG_TAG),
                          _number(metrics.get("macro_f1")), _number(metrics.get("ece")),
                          run_id)
