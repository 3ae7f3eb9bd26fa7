"""MLflow "model from code" for encoder + head models (frozen encoder, SetFit).

MLflow logs this file instead of pickling a Python object; at load time it reads the saved
folder: a sentence-transformers encoder and a skops head. ``predict`` takes texts and returns
one row per text with ``label`` and ``score``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.pyfunc import PythonModel

LABELS_FILE = "labels.json"
HEAD_FILE = "head.skops"
# Texts per encode() batch. sentence-transformers sorts by length but counts texts, not
# tokens: 64 long blocks a batch ran 2.6x slower than 16 on a 2-core CPU (cache misses).
ENCODE_BATCH_SIZE = 16


def load_encoder_head(folder: str | Path):
    """(encoder, head, label names) from a folder written by ``save_encoder_head``, through the
    checks of ``safe_load``: nothing in the folder can run code."""
    from crypto_news_bench.safe_load import load_sentence_transformer, load_skops, read_labels

    folder = Path(folder)
    # The head is a scikit-learn LogisticRegression: no type outside scikit-learn/numpy.
    head = load_skops(folder / HEAD_FILE, allowed=())
    labels = read_labels(folder / LABELS_FILE)
    body = load_sentence_transformer(folder)
    return body, head, labels


def head_probabilities(body, head, texts: list[str]):
    """The head's class probabilities (columns in ``head.classes_`` order) for ``texts``."""
    emb = body.encode(texts, batch_size=ENCODE_BATCH_SIZE, convert_to_numpy=True,
                      normalize_embeddings=True, show_progress_bar=False)
    return head.predict_proba(emb)


class EncoderHeadModel(PythonModel):
    def load_context(self, context) -> None:
        self.body, self.head, self.labels = load_encoder_head(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None):
        import pandas as pd

        texts = (model_input.iloc[:, 0].tolist() if hasattr(model_input, "iloc")
                 else list(model_input))
        proba = head_probabilities(self.body, self.head, texts)
        best = proba.argmax(axis=1)
        return pd.DataFrame({"label": [self.labels[int(self.head.classes_[i])] for i in best],
                             "score": proba.max(axis=1)})


mlflow.models.set_model(EncoderHeadModel())
