"""The tools a practitioner would reach for instead, wrapped as untrained estimators.

``fit`` only records the label space, so they pass through the same protocol as trained
models and land in the same leaderboard.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..data.schema import TASKS
from .params import PositiveInt, Share


class _RuleClassifier(ClassifierMixin, BaseEstimator):
    """Shared plumbing: a fixed label space, and probabilities from hard decisions: one-hot
    until the protocol attaches each label's out-of-fold precision (``label_precision_``,
    see ``evaluation.calibration``), then that precision on the label given."""

    task = "boilerplate"

    def fit(self, X: Sequence[str], y=None):
        self.classes_ = np.arange(len(TASKS[self.task].labels))
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        from ..evaluation.calibration import precision_probabilities

        pred = self.predict(X)
        precision = getattr(self, "label_precision_", None)
        if precision is not None:
            return precision_probabilities(pred, precision, len(self.classes_))
        proba = np.zeros((len(pred), len(self.classes_)))
        proba[np.arange(len(pred)), pred] = 1.0
        return proba


class JusTextClassifier(_RuleClassifier):
    """jusText on the blocks given, wrapped as consecutive ``<p>`` paragraphs of one page.

    jusText classifies a paragraph partly by its neighbours, so ``predict`` expects the blocks
    of one document in reading order (the protocol's test fold is one document).
    """

    task = "boilerplate"

    def __init__(self, language: str = "English", length_low: PositiveInt = 70,
                 length_high: PositiveInt = 200, stopwords_low: Share = 0.30,
                 stopwords_high: Share = 0.32, max_link_density: Share = 0.2):
        self.language = language
        self.length_low = length_low
        self.length_high = length_high
        self.stopwords_low = stopwords_low
        self.stopwords_high = stopwords_high
        self.max_link_density = max_link_density

    def predict(self, X: Sequence[str]) -> np.ndarray:
        import justext

        page = "<html><body>" + "".join(f"<p>{html.escape(t)}</p>" for t in X) + "</body></html>"
        paragraphs = justext.justext(
            page.encode("utf-8"), justext.get_stoplist(self.language),
            length_low=self.length_low, length_high=self.length_high,
            stopwords_low=self.stopwords_low, stopwords_high=self.stopwords_high,
            max_link_density=self.max_link_density,
        )
        if len(paragraphs) != len(X):
            raise RuntimeError(
                f"jusText returned {len(paragraphs)} paragraphs for {len(X)} blocks; "
                "it must see every block as one paragraph"
            )
        labels = TASKS["boilerplate"].labels
        return np.array([labels.index("content" if p.class_type == "good" else "boilerplate")
                         for p in paragraphs])


class VaderStanceClassifier(_RuleClassifier):
    """VADER compound score: >= pos_threshold promotional, <= -neg_threshold critical."""

    task = "stance"

    def __init__(self, pos_threshold: Share = 0.05, neg_threshold: Share = 0.05):
        self.pos_threshold = pos_threshold
        self.neg_threshold = neg_threshold

    def compound(self, X: Sequence[str]) -> np.ndarray:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()
        return np.array([analyzer.polarity_scores(t)["compound"] for t in X])

    def predict(self, X: Sequence[str]) -> np.ndarray:
        labels = TASKS["stance"].labels
        c = self.compound(X)
        out = np.full(len(c), labels.index("neutral"))
        out[c >= self.pos_threshold] = labels.index("promotional")
        out[c <= -self.neg_threshold] = labels.index("critical")
        return out

