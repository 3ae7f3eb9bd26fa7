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

from .encoder import DEFAULT_MODEL, ENCODE_BATCH_SIZE, resolve_model
from .params import ModelPath, NonNegativeInt, PositiveFloat, PositiveInt

# The head of a saved encoder + head folder (a skops file, beside the encoder's own files).
HEAD_FILE = "head.skops"


def head_probabilities(body, head, texts: Sequence[str],
                       batch_size: int = ENCODE_BATCH_SIZE) -> np.ndarray:
    """The head's class probabilities (columns in ``head.classes_`` order) for ``texts``."""
    # encode() sorts by length and pads per batch itself.
    emb = body.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                      normalize_embeddings=True, show_progress_bar=False)
    return head.predict_proba(emb)


def cap_length(body, max_length: int) -> None:
    """Truncate a sentence-transformers body at ``max_length`` tokens, never past what the
    encoder has positions for (a small local model may have 128)."""
    body.max_seq_length = min(max_length, body.tokenizer.model_max_length)


def load_body(name_or_path: str, max_length: int):
    from sentence_transformers import SentenceTransformer

    body = SentenceTransformer(resolve_model(name_or_path), device="cpu")
    cap_length(body, max_length)
    return body


class _FrozenEmbeddings:
    """Embeddings of a frozen encoder, computed once per text for the whole process.

    A frozen encoder is a pure function of the text, and the protocol shows every text to it
    four times (three folds and the final fit); caching makes that one pass. Never used for
    SetFit, whose encoder changes in training.
    """

    def __init__(self, max_bodies: int = 2):
        self.bodies: dict[tuple[str, int], object] = {}
        self.vectors: dict[tuple[str, int, str], np.ndarray] = {}
        self.max_bodies = max_bodies

    def body(self, name_or_path: str, max_length: int):
        key = (resolve_model(name_or_path), max_length)
        if key not in self.bodies:
            if len(self.bodies) >= self.max_bodies:
                self.bodies.clear()
                self.vectors.clear()
            self.bodies[key] = load_body(name_or_path, max_length)
        return self.bodies[key]

    def encode(self, name_or_path: str, max_length: int, texts: list[str],
               batch_size: int) -> np.ndarray:
        body = self.body(name_or_path, max_length)
        path = resolve_model(name_or_path)
        missing = list(dict.fromkeys(t for t in texts
                                     if (path, max_length, t) not in self.vectors))
        if missing:
            vecs = body.encode(missing, batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
            for text, vec in zip(missing, vecs, strict=True):
                self.vectors[(path, max_length, text)] = vec
        return np.stack([self.vectors[(path, max_length, t)] for t in texts])


FROZEN_EMBEDDINGS = _FrozenEmbeddings()


class EncoderHeadClassifier(ClassifierMixin, BaseEstimator):
    """Shared by both methods: encode, then the head's probabilities."""

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return head_probabilities(self.body_, self.head_, X, self.batch_size)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save_encoder_head(self, path: Path | str) -> Path:
        import skops.io

        path = Path(path)
        self.body_.save(str(path), safe_serialization=True)
        skops.io.dump(self.head_, path / HEAD_FILE)
        return path


class FrozenEncoderClassifier(EncoderHeadClassifier):
    def __init__(self, model_name_or_path: ModelPath = DEFAULT_MODEL, C: PositiveFloat = 1.0,
                 batch_size: PositiveInt = ENCODE_BATCH_SIZE, max_length: PositiveInt = 256,
                 seed: NonNegativeInt = 0):
        self.model_name_or_path = model_name_or_path
        self.C = C
        self.batch_size = batch_size
        self.max_length = max_length
        self.seed = seed

    def fit(self, X: Sequence[str], y) -> FrozenEncoderClassifier:
        self.body_ = FROZEN_EMBEDDINGS.body(self.model_name_or_path, self.max_length)
        self.head_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000,
                                        random_state=self.seed)
        # Training reads the process-wide cache; prediction encodes for real (inherited
        # transform), so the measured inference speed is the model's, not the cache's.
        embeddings = FROZEN_EMBEDDINGS.encode(self.model_name_or_path, self.max_length,
                                              list(X), self.batch_size)
        self.head_.fit(embeddings, np.asarray(y))
        self.classes_ = self.head_.classes_
        return self
