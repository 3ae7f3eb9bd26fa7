"""Encoder + head models (frozen encoder, SetFit, layout model): a sentence-transformers folder
and a skops head. In MLflow they are a "model from code" (``serving/pyfunc.py``): nothing is
pickled. ``cnbench publish`` adds the encoder as an ONNX graph (``serving/onnx_graph.py``),
which a float32 prediction runs on without importing torch."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import DataError
from ...models.encoder import EMBEDDING_ONLY, HEAD_FILE, HEAD_INPUTS_FILE
from .. import onnx_graph
from ..predictor import Predictor, check_precision, requirements, torch_dtype
from ..safe_load import check_sentence_transformers_folder, load_sentence_transformer, load_skops
from ..safe_load import read_labels as _read_labels
from . import LABELS_FILE, MODEL_DIR, Flavour, log_folder, logged_folder, write_labels


def read_head_inputs(folder: Path) -> tuple[str, ...]:
    """What the head reads (``embedding``, and ``layout`` for the structure-aware model);
    embeddings only for folders written before the file existed."""
    path = folder / HEAD_INPUTS_FILE
    if not path.is_file():
        return EMBEDDING_ONLY
    try:
        inputs = json.loads(path.read_text(encoding="utf-8"))["inputs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a head inputs file ({exc})") from None
    if not isinstance(inputs, list) or not set(inputs) <= {"embedding", "layout"}:
        raise DataError(f"{path}: unknown head inputs {inputs!r}; expected embedding, layout")
    return tuple(inputs)


def load_head(folder: str | Path) -> tuple[Any, list[str], tuple[str, ...]]:
    """(head, label names, head inputs) of a folder written by ``save_encoder_head``, through
    the checks of ``safe_load``. The head is scikit-learn (a LogisticRegression, or a scaler +
    one in a Pipeline): no type outside scikit-learn/numpy."""
    folder = Path(folder)
    return (load_skops(folder / HEAD_FILE, allowed=()), _read_labels(folder / LABELS_FILE),
            read_head_inputs(folder))


class EncoderHeadPredictor(Predictor):
    """A sentence encoder and a scikit-learn head. For float32 the encoder is the folder's
    ONNX export when it matches the folder's weights (``onnx``), else the sentence-transformers
    body (``body``); ``precision="bfloat16"`` runs the body in bfloat16 (the head always reads
    float32 embeddings)."""

    def __init__(self, folder: str | Path, precision: str = "float32"):
        folder = Path(folder)
        self.precision = check_precision(precision)
        self.head, self.labels, self.inputs = load_head(folder)
        self.onnx = self.body = None
        weights = onnx_graph.transformer_weights(folder)
        if precision == "float32" and weights is not None:
            check_sentence_transformers_folder(folder, classes=False)
            self.onnx = onnx_graph.load(folder, weights, onnx_graph.SENTENCE_EMBEDDING)
        if self.onnx is None:
            self.body = load_sentence_transformer(folder).to(torch_dtype(precision))

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        # Imported here: the model code (scikit-learn) only when an encoder + head model runs.
        from ...models.frozen import head_probabilities, head_probabilities_of

        texts = list(texts)
        if not texts:  # scikit-learn refuses an empty batch
            return []
        if self.onnx is not None:
            p = head_probabilities_of(self.head, self.onnx.run(texts), texts, self.inputs)
        else:
            p = head_probabilities(self.body, self.head, texts, inputs=self.inputs)
        return [(self.labels[int(self.head.classes_[i])], float(p[n, i]))
                for n, i in enumerate(p.argmax(axis=1))]


def log(model, registered: str, task: str) -> Any:
    """A model from code (no pickle) over a saved encoder folder and skops head."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save_encoder_head(Path(tmp) / MODEL_DIR)
        write_labels(folder, task)
        return log_folder(folder, registered, requirements(
            "crypto-news-bench", "sentence-transformers", "transformers", "torch", "skops",
            "scikit-learn", "pandas"))


def export(local: Path, staging: Path) -> None:
    folder = logged_folder(local)
    check_sentence_transformers_folder(folder)
    load_skops(folder / HEAD_FILE, allowed=())
    shutil.copytree(folder, staging, dirs_exist_ok=True)
    onnx_graph.export_sentence_encoder(staging)


FLAVOUR = Flavour(
    name="encoder_head", library_name="sentence-transformers", has_base_model=True,
    usage="""```python
import json, skops.io
from sentence_transformers import SentenceTransformer
body = SentenceTransformer("{path}")
head = skops.io.load("{path}/head.skops", trusted=[])
labels = json.load(open("{path}/labels.json"))["labels"]
proba = head.predict_proba(body.encode(["Binance said ..."], normalize_embeddings=True))
print(labels[int(head.classes_[proba.argmax(1)[0]])])
```""",
    log=log, export=export,
    is_folder=lambda folder: (folder / HEAD_FILE).is_file(),
    load_folder=lambda folder, task, precision: EncoderHeadPredictor(folder, precision),
    is_logged=lambda local: (logged_folder(local) / HEAD_FILE).is_file(),
    load_logged=lambda local, task, precision: EncoderHeadPredictor(
        logged_folder(local), precision),
)
