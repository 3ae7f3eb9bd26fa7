"""crypto_news_bench.serving.model_info: which model a task's labels come from and how far to
trust them. A published folder is scored by its model card (macro-F1 from the model-index,
ECE from the cnbench block) and a folder without a readable card says "unknown"; an MLflow
model by the metrics of the run that logged it, an alias pinned to its version; a model below
the macro-F1 floor, or with an unknown score, carries a warning."""

from __future__ import annotations

import shutil

import pytest
from conftest import CHEAP_SCORES, write_cheap_model

from crypto_news_bench.errors import TrackingError
from crypto_news_bench.serving.model_info import (
    LOW_CONFIDENCE,
    MACRO_F1_FLOOR,
    ModelInfo,
    describe_folder,
    resolve_logged,
)

STANCE = "crypto-news-bench-stance"


def test_thresholds_are_stated():
    assert (LOW_CONFIDENCE, MACRO_F1_FLOOR) == (0.6, 0.6)


def test_published_folder_is_scored_by_its_card(cheap_models):
    folder = cheap_models["claim_type"]
    info = describe_folder(folder, "claim_type")
    assert info == ModelInfo("claim_type", f"folder {folder}", "tfidf_word_lr",
                             *CHEAP_SCORES["claim_type"], "cheap-run")
    assert info.below_floor
    assert info.warning == (f"claim_type: folder {folder} scored macro-F1 0.450 in the "
                            "benchmark, below the floor of 0.60; treat its labels as hints to "
                            "check")
    assert info.summary() == (f"claim_type: folder {folder} (tfidf_word_lr), macro-F1 0.450, "
                              "ECE 0.120")
    above = describe_folder(cheap_models["stance"], "stance")
    assert (above.macro_f1, above.below_floor, above.warning) == (0.65, False, None)


def test_a_card_without_ece_says_unknown(tmp_path):
    info = describe_folder(write_cheap_model(tmp_path / "m", "stance", 0.7, None), "stance")
    assert (info.macro_f1, info.ece) == (0.7, None)
    assert info.summary().endswith("macro-F1 0.700, ECE unknown")


@pytest.mark.parametrize("readme", [None, "no front matter at all\n",
                                    "---\nmodel-index: [unclosed\n---\n# card\n"])
def test_a_folder_without_a_readable_card_is_unknown(cheap_models, tmp_path, readme):
    folder = tmp_path / "m"
    shutil.copytree(cheap_models["stance"], folder)
    if readme is None:
        (folder / "README.md").unlink()
    else:
        (folder / "README.md").write_text(readme, encoding="utf-8")
    info = describe_folder(folder, "stance")
    assert info == ModelInfo("stance", f"folder {folder}")
    assert not info.below_floor
    assert info.warning == (f"stance: the benchmark macro-F1 of folder {folder} is unknown; "
                            "how far to trust its labels is unknown")


def test_champion_is_pinned_and_scored_by_its_run(use_store):
    version = use_store.client.get_model_version_by_alias(STANCE, "champion")
    run = use_store.client.get_run(version.run_id)
    uri, info = resolve_logged("champion", "stance")
    assert uri == f"models:/{STANCE}/{version.version}"
    assert info == ModelInfo("stance", f"{STANCE} v{version.version} @champion",
                             "tfidf_word_lr", run.data.metrics["macro_f1"],
                             run.data.metrics["ece"], version.run_id)
    assert resolve_logged(f"models:/{STANCE}@champion", "stance") == (uri, info)


def test_a_version_and_a_run_are_scored_by_their_run(use_store):
    first = use_store.client.get_run(use_store.first.run_id)
    uri, info = resolve_logged(f"runs:/{first.info.run_id}/model", "stance")
    assert uri == f"runs:/{first.info.run_id}/model"
    assert (info.name, info.config, info.macro_f1) == (
        f"run {first.info.run_id}", "tfidf_word_lr", first.data.metrics["macro_f1"])
    number = first.data.tags["cnbench.registered_version"]
    uri, info = resolve_logged(f"models:/{STANCE}/{number}", "stance")
    assert (uri, info.name, info.run_id) == (f"models:/{STANCE}/{number}",
                                             f"{STANCE} v{number}", first.info.run_id)


def test_an_unknown_model_keeps_its_uri_and_unknown_scores(use_store):
    uri, info = resolve_logged("models:/no-such-model/1", "stance")
    assert uri == "models:/no-such-model/1"
    assert (info.macro_f1, info.ece) == (None, None)


def test_an_alias_not_set_is_refused(use_store):
    # One config trained: no second config for a challenger.
    with pytest.raises(TrackingError, match="no registered stance model has the 'challenger' "
                                            "alias yet"):
        resolve_logged("challenger", "stance")
