"""crypto_news_bench.models.layout: the structure-aware boilerplate model reads whole pages,
saves a skops-safe head that says what it reads, and loads back to the same probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import one_torch_thread

BODY = ("The exchange said on Tuesday that it had settled the case with the regulator and "
        "that customer funds were never at risk, according to a statement.")
CLUTTER = ["Home | Markets | Crypto", "Share on X", "Subscribe to our newsletter",
           "© 2024 Example Media"]


def page(n: int) -> tuple[list[str], list[int]]:
    texts = CLUTTER[:2] + [BODY.replace("Tuesday", f"day {i}") for i in range(n)] + CLUTTER[2:]
    return texts, [0, 0] + [1] * n + [0, 0]  # boilerplate labels: 0 boilerplate, 1 content


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def fitted(tiny_bert):
    from crypto_news_bench.models.layout import LayoutEncoderClassifier

    texts, y, groups = [], [], []
    for doc, n in (("a", 3), ("b", 4), ("c", 2)):
        t, lab = page(n)
        texts += t
        y += lab
        groups += [doc] * len(t)
    with one_torch_thread():
        model = LayoutEncoderClassifier(model_name_or_path=str(tiny_bert)).fit(
            texts, y, groups=groups)
    return model


def test_learns_the_page_structure(fitted):
    texts, y = page(5)
    with one_torch_thread():
        assert fitted.predict(texts).tolist() == y


def test_saved_folder_says_it_reads_the_layout_and_loads_to_the_same_scores(fitted, tmp_path):
    from crypto_news_bench.serving.flavours.encoder_head import LABELS_FILE, EncoderHeadPredictor

    folder = fitted.save_encoder_head(tmp_path / "m")
    (folder / LABELS_FILE).write_text(json.dumps({"task": "boilerplate",
                                                  "labels": ["boilerplate", "content"]}))
    assert json.loads((folder / "head_inputs.json").read_text()) == {
        "inputs": ["layout", "embedding"]}
    texts, _ = page(3)
    with one_torch_thread():
        ours = fitted.predict_proba(texts).max(axis=1)
        loaded = EncoderHeadPredictor(folder).predict(texts)
    assert [s for _, s in loaded] == pytest.approx(ours.tolist(), abs=1e-6)


def test_an_unknown_head_input_is_refused(fitted, tmp_path):
    from crypto_news_bench.errors import DataError
    from crypto_news_bench.serving.flavours.encoder_head import read_head_inputs

    folder = fitted.save_encoder_head(tmp_path / "m")
    (folder / "head_inputs.json").write_text(json.dumps({"inputs": ["layout", "html"]}))
    with pytest.raises(DataError, match=r"head_inputs.json: unknown head inputs"):
        read_head_inputs(folder)


def test_temperature_folds_into_the_head(fitted):
    import copy

    from crypto_news_bench.evaluation.calibration import Calibration, attach, softmax
    from crypto_news_bench.evaluation.protocol import model_logits

    texts, _ = page(2)
    model = copy.deepcopy(fitted)
    with one_torch_thread():
        raw = model_logits(model, texts, 2)
        attach(model, Calibration("temperature", temperature=3.0))
        scaled = model.predict_proba(texts)
    assert scaled == pytest.approx(softmax(raw, 3.0), abs=1e-6)
    assert np.array_equal(scaled.argmax(axis=1), raw.argmax(axis=1))
