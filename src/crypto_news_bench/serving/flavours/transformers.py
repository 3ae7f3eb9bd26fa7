"""Fine-tuned transformers: a plain transformers folder (config with ``id2label``, safetensors,
tokenizer) that ``transformers.pipeline`` loads without this package. ``cnbench publish`` adds
the same model as an ONNX graph (``serving/onnx_graph.py``), which a float32 prediction runs
on without importing torch."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import onnx_graph
from ..predictor import ClassifierPredictor, check_precision, requirements, torch_dtype
from ..safe_load import (
    UnsafeModelError,
    check_no_pickles,
    check_tokenizer_config,
    check_transformers_folder,
    load_transformers,
)
from . import Flavour


class TransformersPredictor(ClassifierPredictor):
    """Length-sorted batches of at most ``max_tokens`` tokens with their padding, tokenised
    once, under ``torch.inference_mode``.

    ``precision="bfloat16"`` runs a bfloat16 copy of the model: about 1.7x faster on a CPU with
    native bf16 (avx512_bf16, AMX), slower on one without. It can flip a label whose top two
    scores nearly tie, so float32, the arithmetic the benchmark scored, is the default;
    bench/results/perf.md reports how many labels bfloat16 changes.
    """

    def __init__(self, model, tokenizer, max_length: int = 256, max_tokens: int = 512,
                 max_batch: int = 128, precision: str = "float32"):
        dtype = torch_dtype(precision)
        if model.dtype != dtype:
            # A copy: the caller's model keeps its own weights.
            model = copy.deepcopy(model).to(dtype)
        self.model, self.tokenizer, self.precision = model.eval(), tokenizer, precision
        # Never past what the model has positions for: a longer sentence would crash it.
        limits = (getattr(model.config, "max_position_embeddings", None),
                  getattr(tokenizer, "model_max_length", None))
        self.max_length = min([max_length, *(n for n in limits if n)])
        # One text of full length must fit in a batch.
        self.max_tokens = max(max_tokens, self.max_length)
        self.max_batch = max_batch
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

    @classmethod
    def from_folder(cls, folder: str | Path, tokenizer_folder: str | Path | None = None,
                    **kwargs) -> TransformersPredictor:
        """A checked transformers folder (``safe_load``): safetensors only, no remote code."""
        # Loaded straight in the precision asked for: no float32 copy to convert.
        dtype = torch_dtype(kwargs.get("precision", "float32"))
        return cls(*load_transformers(Path(folder), tokenizer_folder, dtype=dtype), **kwargs)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from ...models.encoder import batched_logits

        logits = batched_logits(self.model, self.tokenizer, list(texts), self.max_length,
                                self.max_tokens, self.max_batch)
        return torch.softmax(torch.from_numpy(logits), dim=-1).numpy()


class OnnxClassifierPredictor(ClassifierPredictor):
    """The folder's ONNX export (float32) in onnxruntime: the same logits as the torch
    predictor within ``onnx_graph.TOLERANCE``, without importing torch or transformers."""

    precision = "float32"

    def __init__(self, encoder: onnx_graph.OnnxEncoder, labels: list[str]):
        self.encoder, self.labels = encoder, labels

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        logits = self.encoder.run(texts)
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def config_labels(folder: Path) -> list[str]:
    """The label names of a transformers folder's ``config.json`` (``id2label``), in id order."""
    path = Path(folder) / "config.json"
    try:
        id2label = json.loads(path.read_text(encoding="utf-8"))["id2label"]
        return [str(id2label[str(i)]) for i in range(len(id2label))]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnsafeModelError(f"{path}: refusing to load: no id2label with ids 0..n-1 "
                               f"({type(exc).__name__})") from None


def load_folder(folder: Path, task: str, precision: str) -> ClassifierPredictor:
    """The ONNX export for float32 when it matches the folder's weights; torch otherwise."""
    if check_precision(precision) == "float32":
        check_transformers_folder(folder, classes=False)
        encoder = onnx_graph.load(folder, Path(folder) / "model.safetensors", onnx_graph.LOGITS)
        if encoder is not None:
            return OnnxClassifierPredictor(encoder, config_labels(folder))
    return TransformersPredictor.from_folder(folder, precision=precision)


def log(model, registered: str, task: str) -> Any:
    """MLflow's transformers flavour, offline: the components are passed in, nothing fetched."""
    import mlflow
    from huggingface_hub import ModelCard

    from ...models.encoder import go_offline

    go_offline()
    # Our own card, so MLflow does not look one up on the hub for the base model.
    card = ModelCard(f"---\nlibrary_name: transformers\n---\n# {registered}\n\nTrained by "
                     "crypto-news-bench; `cnbench publish` writes the full model card.\n")
    return mlflow.transformers.log_model(
        transformers_model={"model": model.model_, "tokenizer": model.tokenizer_},
        task="text-classification", name="model", registered_model_name=registered,
        model_card=card,
        pip_requirements=requirements("transformers", "torch", "safetensors", "tokenizers"),
        save_pretrained=True,
    )


def _parts(local: Path) -> tuple[Path, Path | None]:
    """MLflow's transformers layout: the weights under model/, the tokenizer apart."""
    tokenizer = local / "components" / "tokenizer"
    return local / "model", tokenizer if tokenizer.is_dir() else None


def export(local: Path, staging: Path) -> None:
    model, tokenizer = _parts(local)
    check_transformers_folder(model)
    if tokenizer is not None:
        check_no_pickles(tokenizer)
        check_tokenizer_config(tokenizer)
    for folder in (model, tokenizer):
        if folder is not None:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
    onnx_graph.export_classifier(staging)


def load_logged(local: Path, task: str, precision: str) -> TransformersPredictor:
    model, tokenizer = _parts(local)
    return TransformersPredictor.from_folder(model, tokenizer, precision=precision)


FLAVOUR = Flavour(
    name="transformers", library_name="transformers", has_base_model=True,
    usage="""```python
from transformers import pipeline
clf = pipeline("text-classification", model="{path}")
# truncation=True: cut where the model was trained and scored (the tokenizer's limit)
clf("Binance said it holds all customer assets in segregated accounts.", truncation=True)
```""",
    log=log, export=export,
    # Checked last: an encoder + head folder holds a config.json too.
    is_folder=lambda folder: (folder / "config.json").is_file()
    and not (folder / "head.skops").exists(),
    load_folder=load_folder,
    is_logged=lambda local: (local / "model" / "config.json").is_file(),
    load_logged=load_logged,
)
