"""The bundled all-MiniLM-L6-v2 (``model_name_or_path: default``) fine-tunes offline."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import one_torch_thread

from crypto_news_bench.data import dataset as ds
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.models.finetune import FineTuneClassifier

pytestmark = pytest.mark.slow


def test_default_minilm_fine_tunes_offline(repo_data_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    data = ds.load("stance", repo_data_dir)
    # 16 units, every label present.
    by_label: dict[int, list[int]] = {}
    for i, y in enumerate(data["label"]):
        by_label.setdefault(y, []).append(i)
    rows = sorted(i for idx in by_label.values() for i in idx[:6])[:16]
    texts = [data["text"][i] for i in rows]
    labels = [data["label"][i] for i in rows]
    assert len(texts) == 16 and len(set(labels)) == 3

    with one_torch_thread():
        model = FineTuneClassifier(task="stance", model_name_or_path="default", epochs=2,
                                   batch_size=8, max_length=64, seed=0).fit(texts, labels)
        proba = model.predict_proba(texts)
        predicted = model.predict(texts)

    assert model.model_.config.model_type == "bert"
    assert model.model_.config.hidden_size == 384  # MiniLM, not the tiny test BERT
    assert len(model.history_) == 4  # 2 epochs x 2 batches, a loss per step
    assert all(math.isfinite(p["loss"]) for p in model.history_)
    assert proba.shape == (16, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert set(predicted) <= {0, 1, 2}
    assert model.model_.config.id2label == dict(enumerate(TASKS["stance"].labels))
