"""crypto_news_bench.models.setfit_model: SetFit trains and predicts within its max_length (the
contrastive phase, prediction and the saved encoder alike, never past the model's positions), and
training data of one class is a clear error."""

from __future__ import annotations

import pytest
from tiny_units import CRIT, LONG_TEXT, PRO

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")


@pytest.mark.parametrize("max_length, expected", [(16, 16), (256, 128)])
def test_setfit_trains_and_predicts_within_its_max_length(tiny_bert, tmp_path, max_length,
                                                           expected):
    """setfit applies its own max_length to the classifier phase only: ours caps the body, so
    the contrastive phase, prediction and the saved model all stop at max_length (and never
    past the model's positions)."""
    from sentence_transformers import SentenceTransformer

    from crypto_news_bench.models.setfit_model import SetFitClassifier

    model = SetFitClassifier(model_name_or_path=str(tiny_bert), num_iterations=1,
                             max_length=max_length)
    model.fit([LONG_TEXT, "Binance is safe", LONG_TEXT + " fraud", "Great rewards"],
              [CRIT, PRO, CRIT, PRO])
    assert model.body_.max_seq_length == expected
    model.save_encoder_head(tmp_path / "published")
    assert SentenceTransformer(str(tmp_path / "published")).max_seq_length == expected


def test_setfit_with_one_class_is_a_clear_error(tiny_bert):
    from crypto_news_bench.models.setfit_model import SetFitClassifier

    model = SetFitClassifier(model_name_or_path=str(tiny_bert), num_iterations=1)
    with pytest.raises(ValueError, match=r"SetFit needs at least two classes in its training "
                                         r"data to form negative pairs; got only class \[0\] "
                                         r"\(3 texts\)"):
        model.fit(["Binance is safe", "Great rewards", "Earn more"], [PRO, PRO, PRO])
