"""scikit-learn models (TF-IDF baselines, the rule-based tools): one skops file, never pickle.
In MLflow they are a "model from code" (``serving/pyfunc.py``) over the published-folder
layout (``model.skops`` + ``labels.json``), so that the pyfunc returns label names."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...data.schema import TASKS
from ..predictor import Predictor, requirements
from ..safe_load import PACKAGE_TYPES, load_skops, read_labels
from . import MODEL_DIR, Flavour, log_folder, logged_folder, write_labels

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
    """A model from code (no pickle) over ``model.skops`` and ``labels.json``."""
    import skops.io

    # The pyfunc loads through this package (safe_load), with pandas for its output.
    reqs = requirements("crypto-news-bench", "scikit-learn", "skops", "numpy", "pandas")
    if type(model).__module__.startswith("crypto_news_bench"):
        # The rule-based wrappers run their tool.
        reqs += requirements("justext", "lxml_html_clean", "vaderSentiment")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / MODEL_DIR
        folder.mkdir()
        skops.io.dump(model, folder / MODEL_FILE)
        write_labels(folder, task)
        return log_folder(folder, registered, reqs)


def export(local: Path, staging: Path) -> None:
    path = logged_folder(local) / MODEL_FILE
    load_skops(path, allowed=PACKAGE_TYPES)  # checked before it is copied
    shutil.copy2(path, staging / MODEL_FILE)


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
    is_logged=lambda local: (logged_folder(local) / MODEL_FILE).is_file(),
    load_logged=lambda local, task, precision: load_folder(logged_folder(local), task,
                                                           precision),
)
