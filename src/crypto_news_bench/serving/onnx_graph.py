"""A published encoder as an ONNX graph, so ``cnbench predict`` starts without torch.

Importing torch and transformers' model code takes about four seconds on a 2-core CPU, longer
than running three small models on an article. ``cnbench publish`` therefore also writes each
transformer it publishes as ``onnx/model.onnx`` (the layout the Hugging Face hub and Optimum
use), beside the safetensors weights that plain ``transformers`` loads. A fine-tuned
classifier is exported with its calibrated head, so the graph returns the same logits; an
encoder + head folder's encoder is exported with its mean pooling and normalisation, so the
graph returns the sentence embedding the head reads.

``onnx/export.json`` records what was exported: the SHA-256 of the weights and tokenizer it
came from, the graph's output, the token limit, and how far the graph's outputs were from
torch's on test sentences when it was written. An export that fails or whose outputs differ by
more than ``TOLERANCE`` is not written, and one whose weights or tokenizer have changed since
is not used: the folder then runs on torch, as it would without the export. Only float32
runs here; ``precision="bfloat16"`` runs on torch.

Running the graph needs ``onnxruntime`` and ``tokenizers`` (both loading no Python code from a
model file: an ONNX graph names operators, not code); writing it needs torch and ``onnx``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..models.encoder import budget_batches

ONNX_DIR = "onnx"
GRAPH_FILE = "model.onnx"
EXPORT_FILE = "export.json"
LOGITS, SENTENCE_EMBEDDING = "logits", "sentence_embedding"
# float32 graphs and torch differ in summation order only: a few 1e-7 on these models.
TOLERANCE = 1e-4
OPSET = 17
# A token limit an export record may name (BERT-like encoders have 512 positions).
MAX_LENGTH = 8192
# Sentences the export is checked on: short ones padded together in one batch, and one past
# the token limit (truncated), with punctuation, digits and non-ASCII text.
CHECK_TEXTS = (
    "Binance said it holds all customer assets in segregated accounts.",
    "The SEC sued the exchange in June 2023, alleging it misled investors about $4.3 billion.",
    "Share",
    "Critics called the claim misleading; the company's chief executive — who resigned — "
    "declined to comment on the court's order, the filing or the fines. " * 12,
    "Régulateurs: 3 enquêtes, 1 amende.",
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


class OnnxEncoder:
    """An exported graph and its tokenizer: ``run(texts)`` gives the graph's output per text
    (logits or a normalised sentence embedding), in token-budget batches like torch's."""

    def __init__(self, graph: Path, tokenizer_json: Path, max_length: int, output: str,
                 max_tokens: int = 512, max_batch: int = 128):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.output = output
        self.max_tokens, self.max_batch = max(max_tokens, max_length), max_batch

    def run(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        lengths = [len(x) for x in ids]
        width = self.session.get_outputs()[0].shape[-1]
        out = np.zeros((len(texts), width if isinstance(width, int) else 0), dtype=np.float32)
        for idx in budget_batches(lengths, self.max_tokens, self.max_batch):
            longest = max(lengths[i] for i in idx)
            # Padding positions are masked out of attention and pooling, so their token id
            # does not reach any output (the export check runs padded batches).
            input_ids = np.zeros((len(idx), longest), dtype=np.int64)
            mask = np.zeros((len(idx), longest), dtype=np.int64)
            for row, i in enumerate(idx):
                input_ids[row, :lengths[i]] = ids[i]
                mask[row, :lengths[i]] = 1
            (batch,) = self.session.run([self.output], {"input_ids": input_ids,
                                                        "attention_mask": mask})
            if out.shape[1] != batch.shape[1]:
                out = np.zeros((len(texts), batch.shape[1]), dtype=np.float32)
            out[idx] = batch
        return out


def _why(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _on_torch(path: Path, why: str) -> None:
    warnings.warn(f"{path}: {why}; running the model on torch", stacklevel=3)


def load(folder: Path, weights: Path, output: str) -> OnnxEncoder | None:
    """The folder's export, when there is one for ``output`` made from ``weights`` and the
    tokenizer as they are now; None (torch runs the folder) when there is none, and a
    one-line warning when it is stale or unreadable."""
    record_path = Path(folder) / ONNX_DIR / EXPORT_FILE
    graph = Path(folder) / ONNX_DIR / GRAPH_FILE
    tokenizer_json = weights.parent / "tokenizer.json"
    if not record_path.is_file() or not graph.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        recorded = (record["output"], record["weights_sha256"], record["tokenizer_sha256"])
        max_length = record["max_length"]
    except (ValueError, KeyError, TypeError) as exc:
        _on_torch(record_path, f"not an export record ({type(exc).__name__})")
        return None
    if recorded[0] != output:
        return None
    if not isinstance(max_length, int) or not 1 <= max_length <= MAX_LENGTH:
        _on_torch(record_path, f"max_length {max_length!r} is not between 1 and {MAX_LENGTH}")
        return None
    for path, expected in ((weights, recorded[1]), (tokenizer_json, recorded[2])):
        if not path.is_file() or sha256(path) != expected:
            _on_torch(graph, f"exported with another {path.name} than the folder holds now")
            return None
    try:
        return OnnxEncoder(graph, tokenizer_json, max_length, output)
    except Exception as exc:  # noqa: BLE001 - onnxruntime and tokenizers raise their own types
        _on_torch(graph, f"cannot be loaded ({_why(exc)})")
        return None


def _export(module, folder: Path, weights: Path, output: str, max_length: int,
            reference: np.ndarray) -> Path | None:
    """Trace ``module`` (input ids, mask -> ``output``) to ``folder/onnx/`` and keep it only if
    it reproduces ``reference`` (torch's outputs on CHECK_TEXTS) within TOLERANCE. A graph
    that cannot be written or does not reproduce torch leaves no ``onnx/``: the folder runs on
    torch, as it did before exports existed."""
    import torch

    target = Path(folder) / ONNX_DIR
    graph = target / GRAPH_FILE
    tokenizer_json = weights.parent / "tokenizer.json"
    example = torch.ones((2, 8), dtype=torch.long)
    try:
        if not tokenizer_json.is_file():
            raise FileNotFoundError(f"no {tokenizer_json.name} beside {weights.name}")
        target.mkdir(exist_ok=True)
        with warnings.catch_warnings():
            # The tracer warns about Python branches on shapes; the check below is what counts.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(), (example, torch.ones_like(example)), str(graph),
                input_names=["input_ids", "attention_mask"], output_names=[output],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                              "attention_mask": {0: "batch", 1: "tokens"},
                              output: {0: "batch"}},
                opset_version=OPSET, dynamo=False)
        diff = float(np.abs(OnnxEncoder(graph, tokenizer_json, max_length, output).run(
            CHECK_TEXTS) - reference).max())
    except Exception as exc:  # noqa: BLE001 - any failure means: no graph, torch runs it
        shutil.rmtree(target, ignore_errors=True)
        warnings.warn(f"{folder}: no ONNX export ({_why(exc)}); the folder runs on torch",
                      stacklevel=2)
        return None
    if not diff <= TOLERANCE:
        shutil.rmtree(target)
        warnings.warn(f"{folder}: the ONNX export differs from torch by {diff:.2g} (over "
                      f"{TOLERANCE:g}); not written, the folder runs on torch", stacklevel=2)
        return None
    (target / EXPORT_FILE).write_text(json.dumps({
        "output": output, "weights": str(weights.relative_to(folder)),
        "weights_sha256": sha256(weights), "tokenizer_sha256": sha256(tokenizer_json),
        "max_length": max_length, "opset": OPSET, "max_abs_diff_vs_torch": diff,
        "exported_with": {"torch": torch.__version__},
    }, indent=2) + "\n", encoding="utf-8")
    return graph


def export_classifier(folder: Path) -> Path | None:
    """``onnx/model.onnx`` for a published transformers classifier folder: its logits, so the
    calibration folded into its head holds. Returns the graph, or None when not written."""
    import torch

    from ..models.encoder import batched_logits
    from .flavours.transformers import TransformersPredictor

    class Logits(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    folder = Path(folder)
    predictor = TransformersPredictor.from_folder(folder)
    model, tokenizer, max_length = predictor.model, predictor.tokenizer, predictor.max_length
    reference = batched_logits(model, tokenizer, CHECK_TEXTS, max_length)
    return _export(Logits(model), folder, folder / "model.safetensors", LOGITS, max_length,
                   reference)


def export_sentence_encoder(folder: Path) -> Path | None:
    """``onnx/model.onnx`` for the sentence-transformers body of an encoder + head folder:
    every module of the body (transformer, pooling, ...) and the normalisation the head's
    inputs get, in one graph. Returns the graph, or None when not written."""
    import torch

    from ..models.encoder import ENCODE_BATCH_SIZE
    from .safe_load import load_sentence_transformer

    class Embedding(torch.nn.Module):
        def __init__(self, body):
            super().__init__()
            self.body = body

        def forward(self, input_ids, attention_mask):
            features = self.body({"input_ids": input_ids, "attention_mask": attention_mask})
            return torch.nn.functional.normalize(features["sentence_embedding"], p=2, dim=1)

    folder = Path(folder)
    weights = transformer_weights(folder)
    if weights is None:
        warnings.warn(f"{folder}: no transformer weights found through modules.json; no ONNX "
                      "export, the folder runs on torch", stacklevel=2)
        return None
    body = load_sentence_transformer(folder)

    def encode(texts):
        return body.encode(list(texts), batch_size=ENCODE_BATCH_SIZE, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)

    reference = encode(CHECK_TEXTS)
    return _export(Embedding(body), folder, weights, SENTENCE_EMBEDDING, body.max_seq_length,
                   reference)


def transformer_weights(folder: Path) -> Path | None:
    """The weights file of a sentence-transformers folder's transformer module (the folder
    itself for the usual layout), from its ``modules.json``."""
    try:
        modules = json.loads((Path(folder) / "modules.json").read_text(encoding="utf-8"))
        sub = next(m.get("path", "") for m in modules
                   if str(m.get("type", "")).endswith(".Transformer"))
    except (OSError, ValueError, StopIteration, AttributeError, TypeError):
        return None
    if not isinstance(sub, str) or Path(sub).is_absolute() or ".." in Path(sub).parts:
        return None  # safe_load refuses such a folder; nothing here reads outside it
    weights = Path(folder) / sub / "model.safetensors"
    return weights if weights.is_file() else None
