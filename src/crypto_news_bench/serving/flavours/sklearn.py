"""scikit-learn models (TF-IDF baselines, the rule-based tools): one skops file, never pickle."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...data.schema import TASKS
from ..predictor import Predictor, requirements
from ..safe_load import PACKAGE_TYPES, load_skops, read_labels
from . import Flavour

MODEL_FILE = "model.skops"


class SklearnPredictor(Predictor):
    def __init__(self, path: str | Path, labels: Sequence[str]):
        self.model = load_skops(Path(path), allowed=PACKAGE_TYPES)
        self.labels = list(labels)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        from ...evaluation.protocol import label_scores

        pred, score = label_scores(self.model, list(texts), len(self.labels))
        return [(self.labels[i], float(s)) for i, s in zip(pred, score, strict=True)]


def log(model, registered: str, task: str) -> Any:
    """MLflow's scikit-learn flavour with skops serialisation."""
    import mlflow

    module = type(model).__module__
    own = module.startswith("crypto_news_bench")
    reqs = requirements("scikit-learn", "skops", "numpy")
    if own:
        # The rule-based wrappers are this package's classes: loading needs it and its tool.
        reqs += requirements("crypto-news-bench", "justext", "lxml_html_clean", "vaderSentiment")
    return mlflow.sklearn.log_model(
        model, name="model", registered_model_name=registered, pip_requirements=reqs,
        serialization_format="skops",
        skops_trusted_types=[f"{module}.{type(model).__qualname__}"] if own else None,
    )


def export(local: Path, staging: Path) -> None:
    load_skops(local / MODEL_FILE, allowed=PACKAGE_TYPES)  # checked before it is copied
    shutil.copy2(local / MODEL_FILE, staging / MODEL_FILE)


def load_folder(folder: Path, task: str, precision: str) -> SklearnPredictor:
    labels = folder / "labels.json"
    return SklearnPredictor(folder / MODEL_FILE,
                            read_labels(labels) if labels.exists() else TASKS[task].labels)


FLAVOUR = Flavour(
    name="sklearn", library_name="sklearn", has_base_model=False,
    usage="""```python
import json, skops.io
model = skops.io.load("{path}/model.skops", trusted=skops.io.get_untrusted_types(
    file="{path}/model.skops"))  # review the listed types before trusting them
labels = json.load(open("{path}/labels.json"))["labels"]
print(labels[int(model.predict(["Binance said ..."])[0])])
```""",
    log=log, export=export,
    is_folder=lambda folder: (folder / MODEL_FILE).is_file(), load_folder=load_folder,
    is_logged=lambda local: (local / MODEL_FILE).is_file(),
    load_logged=lambda local, task, precision: SklearnPredictor(local / MODEL_FILE,
                                                                TASKS[task].labels),
)
