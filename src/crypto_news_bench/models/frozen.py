"""Encoder + head models: a sentence encoder (sentence-transformers) feeding a logistic
regression. The frozen-encoder baseline trains only the head; SetFit (``setfit_model``) also
tunes the encoder contrastively. Both save the same way: the encoder as a
sentence-transformers folder (safetensors) and the head as a skops file, never a pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from .encoder import (
    DEFAULT_MODEL,
    EMBEDDING_ONLY,
    ENCODE_BATCH_SIZE,
    HEAD_FILE,
    HEAD_INPUTS_FILE,
    resolve_model,
)
from .params import ModelPath, NonNegativeInt, PositiveFloat, PositiveInt


def head_probabilities(body, head, texts: Sequence[str],
                       batch_size: int = ENCODE_BATCH_SIZE,
                       inputs: Sequence[str] = EMBEDDING_ONLY) -> np.ndarray:
    """The head's class probabilities (columns in ``head.classes_`` order) for ``texts``;
    with ``layout`` among the inputs, ``texts`` are the blocks of one page in order."""
    # encode() sorts by length and pads per batch itself.
    emb = body.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                      normalize_embeddings=True, show_progress_bar=False)
    return head_probabilities_of(head, emb, texts, inputs)


def head_probabilities_of(head, embeddings: np.ndarray, texts: Sequence[str],
                          inputs: Sequence[str] = EMBEDDING_ONLY) -> np.ndarray:
    """``head_probabilities`` from the texts' normalised embeddings, however computed (torch
    here, an ONNX graph in ``serving``)."""
    if "layout" in inputs:
        from .layout_features import layout_features

        embeddings = np.concatenate([layout_features(list(texts), embeddings), embeddings],
                                    axis=1)
    return head.predict_proba(embeddings)


def cap_length(body, max_length: int) -> None:
    """Truncate a sentence-transformers body at ``max_length`` tokens, never past what the
    encoder has positions for (a small local model may have 128)."""
    body.max_seq_length = min(max_length, body.tokenizer.model_max_length)


def load_body(name_or_path: str, max_length: int):
    from sentence_transformers import SentenceTransformer

    body = SentenceTransformer(resolve_model(name_or_path), device="cpu")
    cap_length(body, max_length)
    return body


# Set (by ``cnbench bench``) to a folder, embeddings also persist there, one file per text and
# encoder: parallel bench workers and later runs share them instead of encoding again.
EMBEDDING_CACHE_ENV = "CNBENCH_EMBEDDING_CACHE"


def _model_fingerprint(path: str, max_length: int) -> str:
    """Which encoder made a vector: its folder, its files' sizes and times, the length cap."""
    folder = Path(path)
    files = sorted(f for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else []
    stamp = "|".join(f"{f.relative_to(folder)}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                     for f in files)
    return hashlib.sha256(f"{path}|{max_length}|{stamp}".encode()).hexdigest()[:16]


class _FrozenEmbeddings:
    """Embeddings of a frozen encoder, computed once per text.

    A frozen encoder is a pure function of the text, and the protocol shows every text to it
    four times (three folds and the final fit), as do the stance and claim-type tasks (the
    same sentences) and every encoder-based config; caching makes that one pass. In memory for
    the process, and on disk too when ``CNBENCH_EMBEDDING_CACHE`` names a folder. Never used
    for SetFit, whose encoder changes in training.
    """

    def __init__(self, max_bodies: int = 2):
        self.bodies: dict[tuple[str, int], object] = {}
        self.fingerprints: dict[tuple[str, int], str] = {}
        self.vectors: dict[tuple[str, int, str], np.ndarray] = {}
        self.max_bodies = max_bodies

    def body(self, name_or_path: str, max_length: int):
        key = (resolve_model(name_or_path), max_length)
        if key not in self.bodies:
            if len(self.bodies) >= self.max_bodies:
                self.bodies.clear()
                self.vectors.clear()
            self.bodies[key] = load_body(name_or_path, max_length)
            self.fingerprints[key] = _model_fingerprint(*key)
        return self.bodies[key]

    def _disk_path(self, key: tuple[str, int], text: str) -> Path | None:
        root = os.environ.get(EMBEDDING_CACHE_ENV)
        if not root:
            return None
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return Path(root) / self.fingerprints[key] / digest[:2] / f"{digest}.npy"

    def encode(self, name_or_path: str, max_length: int, texts: list[str],
               batch_size: int) -> np.ndarray:
        body = self.body(name_or_path, max_length)
        path = resolve_model(name_or_path)
        key = (path, max_length)
        missing = []
        for text in dict.fromkeys(t for t in texts if (path, max_length, t) not in self.vectors):
            disk = self._disk_path(key, text)
            if disk is not None and disk.is_file():
                self.vectors[(path, max_length, text)] = np.load(disk, allow_pickle=False)
            else:
                missing.append(text)
        if missing:
            vecs = body.encode(missing, batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
            for text, vec in zip(missing, vecs, strict=True):
                self.vectors[(path, max_length, text)] = vec
                disk = self._disk_path(key, text)
                if disk is not None:
                    disk.parent.mkdir(parents=True, exist_ok=True)
                    # Written whole, then renamed: a parallel reader never sees half a file.
                    tmp = disk.with_suffix(f".{os.getpid()}.tmp")
                    with open(tmp, "wb") as fh:
                        np.save(fh, vec, allow_pickle=False)
                    os.replace(tmp, disk)
        return np.stack([self.vectors[(path, max_length, t)] for t in texts])


FROZEN_EMBEDDINGS = _FrozenEmbeddings()


class EncoderHeadClassifier(ClassifierMixin, BaseEstimator):
    """Shared by the encoder + head methods: encode, then the head's probabilities."""

    inputs: tuple[str, ...] = EMBEDDING_ONLY

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return head_probabilities(self.body_, self.head_, X, self.batch_size, self.inputs)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def scale_logits(self, factor: float) -> None:
        """Multiply the head's logits by ``factor`` (a calibration temperature, folded in)."""
        last = self.head_[-1] if hasattr(self.head_, "steps") else self.head_
        last.coef_ = last.coef_ * factor
        last.intercept_ = last.intercept_ * factor

    def save_encoder_head(self, path: Path | str) -> Path:
        import skops.io

        path = Path(path)
        self.body_.save(str(path), safe_serialization=True)
        skops.io.dump(self.head_, path / HEAD_FILE)
        (path / HEAD_INPUTS_FILE).write_text(json.dumps({"inputs": list(self.inputs)}),
                                             encoding="utf-8")
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
