"""crypto_news_bench.serving.model_card: the model card of a published folder: the YAML metadata
that tools read (model-index with the leave-one-document-out macro-F1, the dataset revision, a
widget, the base model and its license) and the prose with the interval; it parses back with
huggingface_hub."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import one_torch_thread, parent_run

from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.serving import model_card

STANCE = list(TASKS["stance"].labels)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def front_matter(readme: Path) -> dict:
    lines = readme.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return yaml.safe_load("\n".join(lines[1:end]))


@pytest.mark.parametrize("name", ["tiny-finetune", "tiny-setfit", "tfidf_word_lr"])
def test_model_card_metadata(published, transformer_store, name):
    run = parent_run(transformer_store, name)
    meta = front_matter(published[name] / "README.md")
    [result] = meta["model-index"][0]["results"]
    # One metric: the leave-one-document-out macro-F1; its interval is in the prose.
    assert result["metrics"] == [{"type": "f1", "value": round(run.data.metrics["macro_f1"], 4),
                                  "name": "macro-F1 (leave-one-document-out)",
                                  "config": "macro"}]
    assert result["dataset"]["revision"] == run.data.tags["cnbench.dataset_hash"]
    assert result["dataset"]["config"] == "stance"
    assert meta["cnbench"]["dataset_hash"] == run.data.tags["cnbench.dataset_hash"]
    assert meta["cnbench"]["mlflow_run_id"] == run.info.run_id
    assert meta["cnbench"]["labels"] == STANCE
    assert meta["cnbench"]["config"]["name"] == name
    assert meta["pipeline_tag"] == "text-classification"
    assert meta["language"] == "en" and meta["datasets"] == ["crypto-news-bench"]
    assert [w["text"] for w in meta["widget"]] == model_card.WIDGET["stance"]
    flavour = run.data.tags["cnbench.flavour"]
    assert meta["library_name"] == {"transformers": "transformers", "sklearn": "sklearn",
                                    "encoder_head": "sentence-transformers"}[flavour]
    if flavour == "sklearn":
        assert "base_model" not in meta and meta["license"] == "mit"
    else:
        # A local path is what the config named; the card says it, and keeps its license.
        assert meta["base_model"] == transformer_store.configs[name].params[
            "model_name_or_path"]
        assert meta["license"] == "apache-2.0"
    text = (published[name] / "README.md").read_text(encoding="utf-8")
    m = run.data.metrics
    assert (f"(95% bootstrap interval {m['macro_f1_ci_low']:.3f} to\n"
            f"{m['macro_f1_ci_high']:.3f})") in text


@pytest.mark.parametrize("name", ["tiny-finetune", "tiny-setfit", "tfidf_word_lr"])
def test_model_card_parses_back_with_huggingface_hub(published, transformer_store, name):
    from huggingface_hub import ModelCard

    card = ModelCard.load(published[name] / "README.md")
    [result] = card.data.eval_results
    assert (result.metric_type, result.task_type) == ("f1", "text-classification")
    assert result.metric_value == round(parent_run(transformer_store, name)
                                        .data.metrics["macro_f1"], 4)
    assert card.data.license in ("mit", "apache-2.0")
    assert card.data.widget and card.data.pipeline_tag == "text-classification"
    assert card.text.lstrip().startswith("# crypto-news-bench: stance")
