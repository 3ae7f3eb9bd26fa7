"""The one evaluation protocol every model goes through: leave-one-document-out.

Each fold trains a fresh estimator on the other documents and predicts the held-out one; the
metrics are computed per fold and on the pooled out-of-fold predictions, with a bootstrap
interval of macro-F1. Then the final model is fitted on all gold data. Nothing here logs: the
caller passes ``on_fold`` to see each fold as it finishes (that is how tracking hooks in).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier

from .config import ExperimentConfig
from .folds import lodo_folds
from .metrics import bootstrap_ci, classification_metrics
from .models import MODELS
from .schema import TASKS, Task


@dataclass
class FoldResult:
    held_out: str
    n_train: int
    n_test: int
    metrics: dict
    absent_classes: list[str]
    fit_seconds: float
    predict_seconds: float
    # Training curve of models that have one: [{"step": int, "loss": float}, ...].
    history: list[dict] = field(default_factory=list)


@dataclass
class Evaluation:
    task: str
    config: ExperimentConfig
    folds: list[FoldResult]
    metrics: dict
    ci: tuple[float, float]
    predictions: list[dict]
    final_model: Any = None
    final_fit_seconds: float = 0.0

    @property
    def notes(self) -> list[str]:
        return [
            f"fold {f.held_out}: {', '.join(f.absent_classes)} absent from training, "
            "never predicted"
            for f in self.folds if f.absent_classes
        ]

    @property
    def fit_seconds(self) -> float:
        return sum(f.fit_seconds for f in self.folds)

    @property
    def throughput(self) -> float:
        """Out-of-fold inference speed, units per second."""
        seconds = sum(f.predict_seconds for f in self.folds)
        return sum(f.n_test for f in self.folds) / seconds if seconds > 0 else float("inf")


def label_scores(model, texts: Sequence[str], n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted label ids and the score of each, over the task's whole label space.

    Classes the model never saw get -inf, so they are never predicted. The score is the
    probability of the predicted label, or the decision value for margin models (the SVM).
    """
    if hasattr(model, "predict_proba"):
        raw = np.asarray(model.predict_proba(texts), dtype=float)
    else:
        raw = np.asarray(model.decision_function(texts), dtype=float)
        if raw.ndim == 1:  # binary margin: positive means classes_[1]
            raw = np.stack([-raw, raw], axis=1)
    full = np.full((len(texts), n_labels), -np.inf)
    full[:, np.asarray(model.classes_, dtype=int)] = raw
    pred = full.argmax(axis=1)
    return pred, full[np.arange(len(texts)), pred]


def _fit(config: ExperimentConfig, task: Task, texts: list[str], y: np.ndarray):
    if len(np.unique(y)) == 1 and MODELS[config.model].trainable:
        # Most estimators refuse to fit one class; predicting it is all there is to learn.
        return DummyClassifier(strategy="most_frequent").fit(texts, y)
    model = MODELS[config.model].build(task.name, config.seed, config.params)
    model.fit(texts, y)
    return model


def evaluate(config: ExperimentConfig, task_name: str, texts: Sequence[str],
             labels: Sequence[int], doc_ids: Sequence[str], ids: Sequence[str],
             on_fold: Callable[[FoldResult], None] | None = None,
             fit_final: bool = True) -> Evaluation:
    """Run the protocol for one (config, task) on the given gold units."""
    task = TASKS[task_name]
    texts, y = list(texts), np.asarray(labels, dtype=int)
    n_labels = len(task.labels)
    oof_pred = np.full(len(y), -1)
    oof_score = np.zeros(len(y))
    folds = []
    for fold in lodo_folds(doc_ids):
        train_texts = [texts[i] for i in fold.train]
        test_texts = [texts[i] for i in fold.test]
        t0 = time.perf_counter()
        model = _fit(config, task, train_texts, y[fold.train])
        t1 = time.perf_counter()
        pred, score = label_scores(model, test_texts, n_labels)
        t2 = time.perf_counter()
        oof_pred[fold.test], oof_score[fold.test] = pred, score
        seen = set(np.unique(y[fold.train]).tolist()) if MODELS[config.model].trainable \
            else set(range(n_labels))
        result = FoldResult(
            held_out=fold.held_out, n_train=len(fold.train), n_test=len(fold.test),
            metrics=classification_metrics(y[fold.test], pred, task),
            absent_classes=[lab for i, lab in enumerate(task.labels) if i not in seen],
            fit_seconds=t1 - t0, predict_seconds=t2 - t1,
            history=list(getattr(model, "history_", [])),
        )
        folds.append(result)
        if on_fold is not None:
            on_fold(result)
    predictions = [
        {"id": ids[i], "doc": doc_ids[i], "text": texts[i], "gold": task.labels[y[i]],
         "predicted": task.labels[oof_pred[i]], "score": float(oof_score[i])}
        for i in range(len(y))
    ]
    evaluation = Evaluation(
        task=task_name, config=config, folds=folds,
        metrics=classification_metrics(y, oof_pred, task),
        ci=bootstrap_ci(y, oof_pred, config.bootstrap_resamples, config.confidence, config.seed),
        predictions=predictions,
    )
    if fit_final:
        t0 = time.perf_counter()
        evaluation.final_model = _fit(config, task, texts, y)
        evaluation.final_fit_seconds = time.perf_counter() - t0
    return evaluation
