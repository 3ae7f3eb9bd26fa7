"""A tiny randomly initialised BERT, built inside the tests: no download, a second to make."""

from __future__ import annotations

import inspect
import string
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = """binance exchange sec lawsuit users compliance crypto the a of to and in is for we our
its has have by with on that this as are from customer customers assets funds regulatory
security safe protect investigation court order alleged claims news advertisement share
published read also""".split()


def make_tiny_bert(path: Path | str) -> Path:
    """Save a 2-layer, 32-wide BERT with its tokenizer to ``path`` and return it."""
    from transformers import BertConfig, BertModel, BertTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = SPECIAL + chars + [f"##{c}" for c in chars] + WORDS
    (path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    if "vocab" in inspect.signature(BertTokenizer.__init__).parameters:
        # transformers 5: a tokenizers-backed class that ignores vocab_file (every word would
        # become [UNK]); it takes the vocabulary itself.
        tokens = (path / "vocab.txt").read_text(encoding="utf-8").split()
        tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(tokens)},
                                  do_lower_case=True, model_max_length=128)
    else:
        tokenizer = BertTokenizer(vocab_file=str(path / "vocab.txt"), do_lower_case=True,
                                  model_max_length=128)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
