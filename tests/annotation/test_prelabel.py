"""crypto_news_bench.annotation.prelabel: which model pre-annotates, under what name, and when
an export goes without predictions rather than failing."""

from __future__ import annotations

import re

import pytest
from annotating import cheap_store, use_store

from crypto_news_bench.annotation import prelabel
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.errors import DataError


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return cheap_store(tmp_path_factory)


def test_no_model_asked_for():
    assert prelabel.try_load(None, "stance") == (None, "no --models given")


def test_an_alias_missing_from_the_store_means_no_predictions(mlflow_store):
    labeller, why = prelabel.try_load("champion", "claim_type")
    assert labeller is None
    assert why.startswith("no champion model for claim_type: no registered claim_type model "
                          "has the 'champion' alias yet")


def test_a_named_model_that_does_not_load_is_an_error():
    with pytest.raises(DataError, match="'no-such-model' for stance is neither a folder"):
        prelabel.try_load("no-such-model", "stance")


def test_the_champion_is_named_by_registered_model_version_and_config(store, monkeypatch):
    use_store(store, monkeypatch)
    labeller = prelabel.load_prelabeller("champion", "stance")
    assert re.fullmatch(r"crypto-news-bench-stance v\d+ \(champion, tfidf_word_lr_real\)",
                        labeller.version)
    (label, score), = labeller.predict(["Regulators fined the exchange."])
    assert label in TASKS["stance"].labels and 0 < score <= 1
    assert labeller.predict([]) == []
