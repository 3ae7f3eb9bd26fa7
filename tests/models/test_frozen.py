"""crypto_news_bench.models.frozen: the frozen encoder + logistic head records no loss curve
through the protocol, and never feeds its encoder more tokens than the model has positions."""

from __future__ import annotations

import pytest
from tiny_units import CRIT, LONG_TEXT, PRO

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")


def test_frozen_encoder_has_no_loss_history(evaluations):
    ev, _ = evaluations["frozen_encoder"]
    assert all(fold.history == [] for fold in ev.folds)


def test_frozen_encoder_never_exceeds_the_model_positions(tiny_bert):
    """The default max_length (256) is more than the tiny BERT's 128 positions: capped."""
    from crypto_news_bench.models.frozen import FrozenEncoderClassifier

    model = FrozenEncoderClassifier(model_name_or_path=str(tiny_bert))
    assert model.max_length == 256
    model.fit([LONG_TEXT, "Binance is safe", LONG_TEXT + " fraud", "Great rewards"],
              [CRIT, PRO, CRIT, PRO])
    assert model.body_.max_seq_length == 128
    assert model.predict_proba([LONG_TEXT]).shape == (1, 2)
