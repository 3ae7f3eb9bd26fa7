"""crypto_news_bench.serving.flavours.encoder_head: the predictor of a published encoder + head
folder runs its encoder in bfloat16 and scores close to float32."""

from __future__ import annotations

import pytest

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")


def test_encoder_head_predictor_in_bfloat16(model_dirs):
    import torch

    from crypto_news_bench.serving.flavours.encoder_head import EncoderHeadPredictor

    texts = ["Binance said users are safe.", "The SEC disagreed."]
    p32 = EncoderHeadPredictor(model_dirs["claim_type"]).predict(texts)
    bf16 = EncoderHeadPredictor(model_dirs["claim_type"], precision="bfloat16")
    assert next(bf16.body.parameters()).dtype == torch.bfloat16
    p16 = bf16.predict(texts)
    assert [s for _, s in p16] == pytest.approx([s for _, s in p32], abs=0.05)
