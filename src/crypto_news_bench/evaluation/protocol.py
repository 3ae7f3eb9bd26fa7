"""The one evaluation protocol every model goes through: leave-one-real-document-out.

Each fold holds out one real page and trains a fresh estimator on what the config's
``train_on`` says: the other real pages, every synthetic article, or both. Only real pages are
ever tested, so no synthetic unit is in a test fold. The metrics are computed per fold and on
the pooled out-of-fold predictions, with a bootstrap interval of macro-F1. Then the final model
is fitted on every unit the config trains on (real plus synthetic by default). Nothing here
logs: the caller passes ``on_fold`` to see each fold as it finishes (that is how tracking
hooks in).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier

from ..config import ExperimentConfig
from ..data.schema import TASKS, Task
from ..errors import DataError
from ..models import MODELS
from .calibration import (
    LOG_FLOOR,
    Calibration,
    attach,
    calibration_metrics,
    cross_fitted,
    softmax,
)
from .folds import lodo_folds
from .metrics import bootstrap_ci, classification_metrics


@dataclass(frozen=True)
class Units:
    """The gold units of one split of one task, as the protocol needs them."""

    texts: list[str]
    labels: np.ndarray
    doc_ids: list[str]
    ids: list[str]

    @classmethod
    def of(cls, texts: Sequence[str], labels: Sequence[int], doc_ids: Sequence[str],
           ids: Sequence[str]) -> Units:
        return cls(list(texts), np.asarray(labels, dtype=int), list(doc_ids), list(ids))

    @classmethod
    def empty(cls) -> Units:
        return cls([], np.zeros(0, dtype=int), [], [])

    def __len__(self) -> int:
        return len(self.texts)


def training_indices(train_on: str, real_train: Sequence[int], n_synthetic: int,
                     cap: int | None, seed: int) -> tuple[list[int], list[int]]:
    """(real indices, synthetic indices) one fit trains on.

    ``cap`` bounds the total: every real unit is kept (they are the scarce in-domain data) and
    the synthetic ones are a seeded random sample of what is left, in their original order.
    """
    real = list(real_train) if "real" in train_on.split("+") else []
    synthetic = list(range(n_synthetic)) if "synthetic" in train_on.split("+") else []
    if cap is not None and len(real) + len(synthetic) > cap:
        rng = np.random.default_rng(seed)
        if len(real) >= cap:
            real = sorted(rng.choice(real, cap, replace=False).tolist())
            synthetic = []
        else:
            synthetic = sorted(rng.choice(synthetic, cap - len(real), replace=False).tolist())
    return real, synthetic


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
    # Units in the final model's training data, per source.
    n_train_final: dict[str, int] = field(default_factory=dict)
    # Fitted on every out-of-fold prediction; already inside ``final_model``.
    calibration: Calibration | None = None

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


def model_logits(model, texts: Sequence[str], n_labels: int) -> np.ndarray:
    """The model's logits over the task's whole label space: log-probabilities (floored), or
    the decision values of a margin model (the SVM). Classes the model never saw get -inf, so
    they are never predicted and get probability 0."""
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(texts), dtype=float)
        raw = np.maximum(np.log(np.maximum(proba, 1e-300)), LOG_FLOOR)
    else:
        raw = np.asarray(model.decision_function(texts), dtype=float)
        if raw.ndim == 1:  # binary margin: positive means classes_[1]
            raw = np.stack([-raw, raw], axis=1)
    full = np.full((len(texts), n_labels), -np.inf)
    full[:, np.asarray(model.classes_, dtype=int)] = raw
    return full


def label_scores(model, texts: Sequence[str], n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted label ids and the probability of each (the softmax of ``model_logits``: a
    calibrated model has its calibration inside, see ``calibration.attach``)."""
    if not len(texts):
        return np.zeros(0, dtype=int), np.zeros(0)
    p = softmax(model_logits(model, texts, n_labels))
    pred = p.argmax(axis=1)
    return pred, p[np.arange(len(texts)), pred]


def fit_model(config: ExperimentConfig, task: Task, texts: list[str], y: np.ndarray,
              groups: list[str]):
    """One fit of ``config``'s model (a prior-only ``DummyClassifier`` for a single class),
    given each unit's document when the model reads whole pages."""
    if len(np.unique(y)) == 1 and MODELS[config.model].trainable:
        # Most estimators refuse to fit one class; predicting it is all there is to learn.
        return DummyClassifier(strategy="prior").fit(texts, y)
    model = MODELS[config.model].build(task.name, config.seed, config.params)
    # Structure-aware models read each page as a whole: they get the document of each unit.
    if "groups" in inspect.signature(model.fit).parameters:
        model.fit(texts, y, groups=groups)
    else:
        model.fit(texts, y)
    return model


def evaluate(config: ExperimentConfig, task_name: str, real: Units,
             synthetic: Units | None = None,
             on_fold: Callable[[FoldResult], None] | None = None,
             fit_final: bool = True) -> Evaluation:
    """Run the protocol for one (config, task): folds over the real pages, training on what
    ``config.train_on`` names, then the final fit."""
    task = TASKS[task_name]
    config = config.for_task(task_name)
    synthetic = synthetic if synthetic is not None else Units.empty()
    if config.train_on == "synthetic" and not len(synthetic):
        raise DataError(f"config {config.name!r} has train_on: synthetic, but there are no "
                        f"synthetic {task_name} units (data/synthetic/)")
    y, n_labels = real.labels, len(task.labels)
    trainable = MODELS[config.model].trainable
    oof_logits = np.full((len(y), n_labels), -np.inf)
    folds = []
    cached: tuple[tuple, Any] | None = None

    def training_set(real_idx: list[int], syn_idx: list[int]):
        texts = [real.texts[i] for i in real_idx] + [synthetic.texts[i] for i in syn_idx]
        labels = np.concatenate([y[real_idx], synthetic.labels[syn_idx]]).astype(int)
        groups = [real.doc_ids[i] for i in real_idx] + [synthetic.doc_ids[i] for i in syn_idx]
        return texts, labels, groups

    for fold in lodo_folds(real.doc_ids):
        real_idx, syn_idx = training_indices(config.train_on, fold.train, len(synthetic),
                                             config.train_cap, config.seed)
        train_texts, train_y, train_groups = training_set(real_idx, syn_idx)
        test_texts = [real.texts[i] for i in fold.test]
        key = (tuple(real_idx), tuple(syn_idx))
        t0 = time.perf_counter()
        if cached is not None and cached[0] == key:
            # train_on: synthetic trains every fold on the same units: one fit serves all,
            # and its time is counted once (in the fold that fitted it).
            model, fit_seconds = cached[1], 0.0
        else:
            model = fit_model(config, task, train_texts, train_y, train_groups)
            fit_seconds = time.perf_counter() - t0
            cached = (key, model)
        t1 = time.perf_counter()
        logits = model_logits(model, test_texts, n_labels)
        t2 = time.perf_counter()
        pred = logits.argmax(axis=1)
        oof_logits[fold.test] = logits
        seen = set(np.unique(train_y).tolist()) if trainable else set(range(n_labels))
        result = FoldResult(
            held_out=fold.held_out, n_train=len(train_texts), n_test=len(fold.test),
            metrics=classification_metrics(y[fold.test], pred, task),
            absent_classes=[lab for i, lab in enumerate(task.labels) if i not in seen],
            fit_seconds=fit_seconds, predict_seconds=t2 - t1,
            history=list(getattr(model, "history_", [])),
        )
        folds.append(result)
        if on_fold is not None:
            on_fold(result)
    oof_pred = oof_logits.argmax(axis=1)
    # Reported confidence is cross-fitted: each document's from a calibration fitted on the
    # other documents' out-of-fold predictions.
    probs = cross_fitted(oof_logits, y, real.doc_ids, trainable)
    predictions = [
        {"id": real.ids[i], "doc": real.doc_ids[i], "text": real.texts[i],
         "gold": task.labels[y[i]], "predicted": task.labels[oof_pred[i]],
         "score": float(probs[i, oof_pred[i]])}
        for i in range(len(y))
    ]
    evaluation = Evaluation(
        task=task_name, config=config, folds=folds,
        metrics=classification_metrics(y, oof_pred, task) | calibration_metrics(probs, y),
        ci=bootstrap_ci(y, oof_pred, config.bootstrap_resamples, config.confidence, config.seed),
        predictions=predictions,
        calibration=Calibration.fit(oof_logits, y, trainable),
    )
    if fit_final:
        real_idx, syn_idx = training_indices(config.train_on, range(len(real)), len(synthetic),
                                             config.train_cap, config.seed)
        t0 = time.perf_counter()
        if cached is not None and cached[0] == (tuple(real_idx), tuple(syn_idx)):
            # The folds already fitted exactly the final training set (train_on: synthetic).
            final, evaluation.final_fit_seconds = cached[1], 0.0
        else:
            final = fit_model(config, task, *training_set(real_idx, syn_idx))
            evaluation.final_fit_seconds = time.perf_counter() - t0
        evaluation.final_model = attach(final, evaluation.calibration)
        evaluation.n_train_final = {"real": len(real_idx), "synthetic": len(syn_idx)}
    return evaluation
