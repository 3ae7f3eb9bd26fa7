"""Encoder + head models: a sentence encoder (sentence-transformers) feeding a logistic
regression. The frozen-encoder baseline trains only the head; SetFit (``setfit_model``) also
tunes the encoder contrastively. Both save the same way: the encoder as a
sentence-transformers folder (safetensors) and the head as a skops file, never a pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from .encoder import DEFAULT_MODEL, resolve_model

HEAD_FILE = "head.skops"


def load_body(name_or_path: str, max_length: int):
    from sentence_transformers import SentenceTransformer

    body = SentenceTransformer(resolve_model(name_or_path), device="cpu")
    body.max_seq_length = max_length
    return body


class EncoderHeadClassifier(ClassifierMixin, BaseEstimator):
    """Shared by both methods: encode, then the head's probabilities."""

    batch_size: int = 64

    def transform(self, X: Sequence[str]) -> np.ndarray:
        # encode() sorts by length and pads per batch itself.
        return self.body_.encode(list(X), batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return self.head_.predict_proba(self.transform(X))

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save_encoder_head(self, path: Path | str) -> Path:
        import skops.io

        path = Path(path)
        self.body_.save(str(path), safe_serialization=True)
        skops.io.dump(self.head_, path / HEAD_FILE)
        return path


class FrozenEncoderClassifier(EncoderHeadClassifier):
    def __init__(self, model_name_or_path: str = DEFAULT_MODEL, C: float = 1.0,
                 batch_size: int = 64, max_length: int = 256, seed: int = 0):
        self.model_name_or_path = model_name_or_path
        self.C = C
        self.batch_size = batch_size
        self.max_length = max_length
        self.seed = seed

    def fit(self, X: Sequence[str], y) -> FrozenEncoderClassifier:
        self.body_ = load_body(self.model_name_or_path, self.max_length)
        self.head_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000,
                                        random_state=self.seed)
        self.head_.fit(self.transform(X), np.asarray(y))
        self.classes_ = self.head_.classes_
        return self
