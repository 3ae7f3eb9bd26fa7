"""crypto_news_bench.serving.predictor: an unknown precision is refused before any model loads, by
``load_predictor`` and by a flavour's predictor alike."""

from __future__ import annotations

import pytest

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")

MISSING_MODEL = "/nonexistent/model-folder"


def test_unknown_precision_is_refused_before_any_model_loads():
    from crypto_news_bench.serving.flavours.transformers import TransformersPredictor
    from crypto_news_bench.serving.predict import load_predictor

    message = "precision 'float16': expected one of float32, bfloat16"
    with pytest.raises(ValueError, match=message):
        load_predictor(MISSING_MODEL, "stance", precision="float16")
    with pytest.raises(ValueError, match=message):
        TransformersPredictor.from_folder(MISSING_MODEL, precision="float16")
