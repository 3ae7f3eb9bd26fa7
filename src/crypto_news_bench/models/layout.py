"""A structure-aware boilerplate classifier: frozen-encoder embeddings plus the page's layout
(``layout_features``) into one logistic regression.

It reads pages, not loose lines: ``fit`` takes the document of each block (``groups``), and
``predict`` treats the blocks it is given as one page in reading order, as jusText does (the
protocol's test fold is one document; ``cnbench predict`` passes one article at a time).

The head is a scikit-learn pipeline, saved as skops like every encoder + head model: a scaler
that standardises the layout columns and weights them against the embedding columns, and the
logistic regression. Embeddings keep their geometry (unit norm, one weight for all).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .encoder import DEFAULT_MODEL, ENCODE_BATCH_SIZE
from .frozen import FROZEN_EMBEDDINGS, EncoderHeadClassifier
from .layout_features import layout_features
from .params import ModelPath, NonNegativeInt, PositiveFloat, PositiveInt

# What the head reads, written beside it so a loader builds the same inputs.
INPUTS = ("layout", "embedding")


class LayoutEncoderClassifier(EncoderHeadClassifier):
    inputs = INPUTS

    def __init__(self, model_name_or_path: ModelPath = DEFAULT_MODEL, C: PositiveFloat = 0.5,
                 layout_weight: PositiveFloat = 0.5, embedding_weight: PositiveFloat = 3.0,
                 batch_size: PositiveInt = ENCODE_BATCH_SIZE, max_length: PositiveInt = 256,
                 seed: NonNegativeInt = 0):
        self.model_name_or_path = model_name_or_path
        self.C = C
        self.layout_weight = layout_weight
        self.embedding_weight = embedding_weight
        self.batch_size = batch_size
        self.max_length = max_length
        self.seed = seed

    def fit(self, X: Sequence[str], y, groups: Sequence[str] | None = None
            ) -> LayoutEncoderClassifier:
        self.body_ = FROZEN_EMBEDDINGS.body(self.model_name_or_path, self.max_length)
        embeddings = FROZEN_EMBEDDINGS.encode(self.model_name_or_path, self.max_length,
                                              list(X), self.batch_size)
        features = np.concatenate([layout_features(X, embeddings, groups), embeddings], axis=1)
        n_layout = features.shape[1] - embeddings.shape[1]
        scaler = StandardScaler().fit(features)
        # Layout columns: standardised, then weighted; embedding columns: only weighted. Both
        # are plain attributes of a StandardScaler, so the head stays a skops-safe pipeline.
        scaler.mean_[n_layout:] = 0.0
        scaler.scale_[:n_layout] = scaler.scale_[:n_layout] / self.layout_weight
        scaler.scale_[n_layout:] = 1.0 / self.embedding_weight
        self.head_ = Pipeline([
            ("scale", scaler),
            ("clf", LogisticRegression(C=self.C, class_weight="balanced", max_iter=5000,
                                       random_state=self.seed)),
        ])
        self.head_[-1].fit(scaler.transform(features), np.asarray(y))
        self.classes_ = self.head_.classes_
        return self
