"""Fine-tuning the upper layers of a BERT-style classifier on cached lower-layer outputs.

With the embeddings and the lowest ``k`` encoder layers frozen, what they compute for a text
never changes during training: running them again every epoch is wasted work. So they run
once per text, under ``torch.inference_mode`` and in length-sorted batches, and training runs
only the layers above (plus pooler and classifier) on the cached hidden states. The trained
layers are the model's own modules, so the model that is saved afterwards is the ordinary
``AutoModelForSequenceClassification``.

The loop is what the transformers ``Trainer`` does with the arguments ``finetune`` passes it
(AdamW without decay on biases and LayerNorm weights, linear warm-up and decay, gradient
clipping at 1.0, length-grouped shuffled batches, cross-entropy), written out because the
``Trainer`` feeds token ids to the whole model. The one difference: the frozen layers run in
evaluation mode, so their dropout is off (bench/results/perf.md compares the scores).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def supports(model, freeze_embeddings: bool, freeze_layers: int) -> bool:
    """Whether ``model`` can train this way: frozen embeddings and layers below, and the BERT
    layout (``base_model.encoder.layer``, a pooler, ``dropout`` and ``classifier``)."""
    base = getattr(model, "base_model", None)
    return (freeze_embeddings and freeze_layers > 0
            and getattr(model.config, "model_type", "") == "bert"
            and hasattr(getattr(base, "encoder", None), "layer")
            and getattr(base, "pooler", None) is not None
            and hasattr(model, "classifier") and hasattr(model, "dropout"))


def lower_hidden_states(model, tokenizer, texts: Sequence[str], max_length: int,
                        layers: int) -> tuple[list, list[int]]:
    """Each text's hidden states after the lowest ``layers`` encoder layers (a
    ``[tokens, hidden]`` tensor, unpadded), and its token count."""
    import torch

    from .encoder import batches

    out: list = [None] * len(texts)
    model.eval()
    with torch.inference_mode():
        for idx, enc in batches(tokenizer, texts, max_length):
            hidden = model.base_model(**enc, output_hidden_states=True).hidden_states[layers]
            lengths = enc["attention_mask"].sum(dim=1).tolist()
            for row, i in enumerate(idx):
                out[i] = hidden[row, :lengths[row]].clone()
    return out, [len(h) for h in out]


def _upper_logits(model, layers: int, hidden, attention_mask):
    from transformers.masking_utils import create_bidirectional_mask

    base = model.base_model
    mask = create_bidirectional_mask(config=model.config, inputs_embeds=hidden,
                                     attention_mask=attention_mask)
    for layer in base.encoder.layer[layers:]:
        hidden = layer(hidden, mask)
        if isinstance(hidden, tuple):  # older transformers return (hidden, ...)
            hidden = hidden[0]
    return model.classifier(model.dropout(base.pooler(hidden)))


def _length_grouped_batches(lengths: list[int], batch_size: int,
                            rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length (less padding): a random order, cut into
    megabatches of 50 batches, each sorted by length, then the batches shuffled."""
    order = rng.permutation(len(lengths))
    mega = batch_size * 50
    out = []
    for start in range(0, len(order), mega):
        chunk = order[start:start + mega]
        chunk = chunk[np.argsort([-lengths[i] for i in chunk], kind="stable")]
        out += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def train_upper_layers(model, tokenizer, texts: Sequence[str], y: np.ndarray, *,
                       layers: int, epochs: float, learning_rate: float, batch_size: int,
                       weight_decay: float, warmup_ratio: float, max_length: int, seed: int,
                       on_step: Callable[[int, float], None] | None = None) -> float:
    """Train ``model`` in place above its lowest ``layers`` layers; returns the training
    seconds (cache pass included). ``on_step(step, loss)`` sees each step's loss."""
    import time

    import torch
    from transformers import get_linear_schedule_with_warmup

    start = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hidden, lengths = lower_hidden_states(model, tokenizer, list(texts), max_length, layers)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.long)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = ("bias", "LayerNorm.weight", "layernorm.weight", "norm.weight")
    groups = [
        {"params": [p for n, p in trainable if not n.endswith(no_decay)],
         "weight_decay": weight_decay},
        {"params": [p for n, p in trainable if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=learning_rate)
    steps_per_epoch = math.ceil(len(texts) / batch_size)
    total = max(1, math.ceil(steps_per_epoch * epochs))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * total), total)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    step = 0
    while step < total:
        for idx in _length_grouped_batches(lengths, batch_size, rng):
            if step >= total:
                break
            width = max(lengths[i] for i in idx)
            batch = torch.zeros(len(idx), width, hidden[idx[0]].shape[-1])
            mask = torch.zeros(len(idx), width, dtype=torch.long)
            for row, i in enumerate(idx):
                batch[row, :lengths[i]] = hidden[i]
                mask[row, :lengths[i]] = 1
            loss = loss_fn(_upper_logits(model, layers, batch, mask), labels[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if on_step is not None:
                on_step(step, float(loss.detach()))
    model.eval()
    return time.perf_counter() - start
