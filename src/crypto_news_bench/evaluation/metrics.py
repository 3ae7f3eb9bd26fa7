"""Metrics of the protocol: macro-F1 (headline), accuracy, per-class P/R/F1, the SemEval stance
mean, a seeded bootstrap interval, and a paired bootstrap for comparing two models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from ..data.schema import Task


def macro_f1(gold: Sequence[int], pred: Sequence[int]) -> float:
    # Averaged over the classes present in gold or predictions (scikit-learn's default): a
    # class that is in neither says nothing about the model.
    return float(f1_score(gold, pred, average="macro", zero_division=0))


def pro_crit_f1(gold: Sequence[int], pred: Sequence[int], task: Task) -> float:
    """SemEval-2016 stance: mean F1 of the two polar classes, whatever the neutral class does."""
    ids = [task.label_id("promotional"), task.label_id("critical")]
    return float(np.mean(f1_score(gold, pred, labels=ids, average=None, zero_division=0)))


def classification_metrics(gold: Sequence[int], pred: Sequence[int], task: Task) -> dict:
    """Headline and per-class metrics; per-class figures cover every label, with support."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    labels = list(range(len(task.labels)))
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    out = {
        "macro_f1": macro_f1(gold, pred),
        "accuracy": float(accuracy_score(gold, pred)),
        "n": int(len(gold)),
    }
    if task.secondary_metric == "f1_pro_crit":
        out["f1_pro_crit"] = pro_crit_f1(gold, pred, task)
    out["per_class"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
               "support": int(s[i])}
        for i, name in enumerate(task.labels)
    }
    return out


def macro_f1_rows(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``macro_f1`` of every row of two (resamples, units) label arrays at once.

    The same definition as scikit-learn's (classes present in gold or predictions, F1 0 where
    undefined), from one confusion matrix per row: a thousand resamples take milliseconds
    instead of a second of ``f1_score`` calls.
    """
    gold, pred = np.atleast_2d(gold), np.atleast_2d(pred)
    rows, k = gold.shape[0], int(max(gold.max(), pred.max())) + 1
    codes = (np.arange(rows)[:, None] * k * k + gold * k + pred).ravel()
    cm = np.bincount(codes, minlength=rows * k * k).reshape(rows, k, k)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    denom = cm.sum(axis=2) + cm.sum(axis=1)  # support + predicted = 2tp + fp + fn
    present = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros(tp.shape), where=present)
    return f1.sum(axis=1) / present.sum(axis=1)


def _resample(n: int, n_resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def bootstrap_ci(gold: Sequence[int], pred: Sequence[int], n_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of macro-F1 over units (resampled with replacement)."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    idx = _resample(len(gold), n_resamples, seed)
    scores = macro_f1_rows(gold[idx], pred[idx])
    alpha = (1 - confidence) / 2
    return float(np.quantile(scores, alpha)), float(np.quantile(scores, 1 - alpha))


def paired_bootstrap(gold: Sequence[int], pred_a: Sequence[int], pred_b: Sequence[int],
                     n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Difference in macro-F1 (A - B) on the same resampled units, with its interval and the
    share of resamples in which A does not beat B (a one-sided p-value)."""
    gold, a, b = np.asarray(gold), np.asarray(pred_a), np.asarray(pred_b)
    if not len(gold) == len(a) == len(b):
        raise ValueError(f"paired bootstrap needs equal lengths, got {len(gold)}, {len(a)}, "
                         f"{len(b)}")
    idx = _resample(len(gold), n_resamples, seed)
    diffs = macro_f1_rows(gold[idx], a[idx]) - macro_f1_rows(gold[idx], b[idx])
    alpha = (1 - confidence) / 2
    return {
        "diff": macro_f1(gold, a) - macro_f1(gold, b),
        "low": float(np.quantile(diffs, alpha)),
        "high": float(np.quantile(diffs, 1 - alpha)),
        "p_value": float(np.mean(diffs <= 0)),
        "n_resamples": n_resamples,
    }
