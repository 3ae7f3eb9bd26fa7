"""Calibrated confidence: what a model's score of 0.8 should mean is "right 8 times in 10".

Two methods, both fitted on a model's out-of-fold predictions (never on what it trained on):

- **temperature scaling** for every trained model: one scalar ``T`` divides the logits (log
  probabilities, or the decision values of a margin model) before the softmax. It never changes
  which label wins, so macro-F1 is untouched; it is folded into the model's last linear layer
  (``attach``), so a saved model *is* calibrated and a plain ``transformers.pipeline`` on a
  published folder gives the same scores as the package;
- **empirical per-label precision** for the rule-based tools (jusText, VADER), which have no
  scores at all: the confidence of a label is how often that label was right out of fold.

The protocol reports the cross-fitted result (calibration fitted on the other folds, applied to
the held-out one), so ECE and Brier score are honest, and attaches the calibration fitted on
every fold to the final model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

N_BINS = 10
# Log-probabilities are floored here before scaling: a model certain of a wrong label must
# still give the fit a finite loss.
LOG_FLOOR = np.log(1e-12)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``; ``-inf`` columns (labels the model never
    saw) get probability 0."""
    z = np.asarray(logits, dtype=float) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)[np.arange(len(y)), y]
    return float(-np.mean(np.maximum(np.log(np.maximum(p, 1e-300)), LOG_FLOOR)))


def fit_temperature(logits: np.ndarray, y: Sequence[int]) -> float:
    """The temperature that minimises the negative log-likelihood of ``y``, searched over
    log T in [-4, 4] (T from 0.018 to 55); 1.0 when there is nothing to fit on."""
    from scipy.optimize import minimize_scalar

    logits, y = np.asarray(logits, dtype=float), np.asarray(y, dtype=int)
    if not len(y):
        return 1.0
    res = minimize_scalar(lambda log_t: nll(logits, y, float(np.exp(log_t))),
                          bounds=(-4.0, 4.0), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def label_precision(pred: Sequence[int], y: Sequence[int], n_labels: int) -> list[float]:
    """How often each predicted label was right, with one pseudo-count each way (a label
    predicted twice and right twice is 0.75, not a certain 1.0); 1/n_labels when never
    predicted."""
    pred, y = np.asarray(pred, dtype=int), np.asarray(y, dtype=int)
    out = []
    for k in range(n_labels):
        mask = pred == k
        out.append(float((np.sum(y[mask] == k) + 1) / (mask.sum() + 2)) if mask.any()
                   else 1.0 / n_labels)
    return out


def precision_probabilities(pred: Sequence[int], precision: Sequence[float],
                            n_labels: int) -> np.ndarray:
    """Probabilities from hard labels: the label's precision on it, the rest shared evenly.

    The predicted label keeps the highest probability (its precision is floored just above
    1/n_labels), so calibrating never changes a rule-based tool's decisions.
    """
    pred = np.asarray(pred, dtype=int)
    p = np.maximum(np.asarray(precision, dtype=float)[pred], 1.0 / n_labels + 1e-3)
    out = np.repeat(((1.0 - p) / max(n_labels - 1, 1))[:, None], n_labels, axis=1)
    out[np.arange(len(pred)), pred] = p
    return out


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool],
                               n_bins: int = N_BINS) -> float:
    """ECE of the top label: units binned by confidence into ``n_bins`` equal-width bins
    ((0, 0.1], (0.1, 0.2], ...), then the support-weighted mean of |accuracy - confidence|."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if not len(conf):
        return float("nan")
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(hit[mask].mean() - conf[mask].mean())
    return float(ece)


def brier_score(probabilities: np.ndarray, y: Sequence[int]) -> float:
    """Multi-class Brier score: mean over units of the squared distance between the
    probability vector and the one-hot gold label (0 is perfect, 2 the worst)."""
    p = np.asarray(probabilities, dtype=float)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), np.asarray(y, dtype=int)] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration: ``method`` is "temperature" or "precision"."""

    method: str
    temperature: float = 1.0
    precision: tuple[float, ...] = ()

    @classmethod
    def fit(cls, logits: np.ndarray, y: Sequence[int], trainable: bool) -> Calibration:
        logits = np.asarray(logits, dtype=float)
        if trainable:
            return cls("temperature", temperature=fit_temperature(logits, y))
        return cls("precision", precision=tuple(label_precision(logits.argmax(axis=1), y,
                                                                logits.shape[1])))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        logits = np.asarray(logits, dtype=float)
        if self.method == "temperature":
            return softmax(logits, self.temperature)
        return precision_probabilities(logits.argmax(axis=1), self.precision, logits.shape[1])

    def to_dict(self) -> dict:
        return asdict(self)


def cross_fitted(logits: np.ndarray, y: Sequence[int], groups: Sequence[str],
                 trainable: bool) -> np.ndarray:
    """Calibrated probabilities of each group (a held-out document) from a calibration fitted
    on the other groups only: the figures the protocol reports."""
    logits, y, groups = np.asarray(logits, dtype=float), np.asarray(y), np.asarray(groups)
    out = np.zeros_like(logits)
    for g in dict.fromkeys(groups.tolist()):
        test = groups == g
        cal = Calibration.fit(logits[~test], y[~test], trainable)
        out[test] = cal.probabilities(logits[test])
    return out


def calibration_metrics(probabilities: np.ndarray, y: Sequence[int]) -> dict[str, float]:
    p, y = np.asarray(probabilities, dtype=float), np.asarray(y, dtype=int)
    pred = p.argmax(axis=1)
    return {"ece": expected_calibration_error(p.max(axis=1), pred == y),
            "brier": brier_score(p, y)}


def attach(model, calibration: Calibration):
    """Put ``calibration`` into a fitted model, so what it saves and predicts is calibrated.

    A temperature is folded into the last linear layer (scikit-learn ``coef_``/``intercept_``,
    a transformer's classifier, a Dummy's class priors) through the model's
    ``scale_logits`` when it has one; a precision table goes to ``label_precision_`` of the
    rule-based tools. Returns the model.
    """
    if calibration.method == "precision":
        model.label_precision_ = list(calibration.precision)
        return model
    factor = 1.0 / calibration.temperature
    if hasattr(model, "scale_logits"):
        model.scale_logits(factor)
        return model
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if hasattr(last, "coef_"):
        last.coef_ = last.coef_ * factor
        last.intercept_ = last.intercept_ * factor
    elif hasattr(last, "class_prior_"):  # DummyClassifier(strategy="prior")
        prior = np.asarray(last.class_prior_, dtype=float) ** factor
        last.class_prior_ = prior / prior.sum()
    else:
        raise TypeError(f"cannot fold a temperature into {type(last).__name__}")
    return model
