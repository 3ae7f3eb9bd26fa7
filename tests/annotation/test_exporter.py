"""crypto_news_bench.annotation.exporter and prelabel: ``cnbench annotate export`` writes Label
Studio tasks for the units that lack a label, pre-annotated by the task's champion (a cheap
TF-IDF model in a temporary store), least confident first."""

from __future__ import annotations

import json
import re

import pytest
from annotating import add_page, cheap_store, use_store

from crypto_news_bench.annotation import exporter, prelabel
from crypto_news_bench.cli import main
from crypto_news_bench.data.labels import text_hash
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.errors import DataError


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return cheap_store(tmp_path_factory)


@pytest.fixture
def page(tmp_path):
    return add_page(tmp_path)


def test_export_with_the_champion_least_confident_first(page, store, monkeypatch, capsys):
    use_store(store, monkeypatch)
    out = page.tmp / "tasks.json"
    code = main(["annotate", "export", "--task", "boilerplate", "--out", str(out),
                 "--models", "champion", "--data-dir", str(page.data_dir)])
    printed = capsys.readouterr().out
    assert code == 0
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 6
    version = tasks[0]["predictions"][0]["model_version"]
    assert re.fullmatch(r"crypto-news-bench-boilerplate v\d+ \(champion, tfidf_word_lr_real\)",
                        version), version
    assert f"wrote 6 boilerplate tasks to {out}" in printed
    assert f"pre-annotated by {version}, least confident first" in printed
    scores = [t["predictions"][0]["score"] for t in tasks]
    assert scores == sorted(scores) and all(0 < s <= 1 for s in scores)
    for task in tasks:
        (pred,) = task["predictions"]
        (result,) = pred["result"]
        assert result["from_name"] == "label" and result["to_name"] == "text"
        assert result["type"] == "choices"
        assert result["value"]["choices"][0] in TASKS["boilerplate"].labels
        data = task["data"]
        assert data["doc_id"] == page.id and data["task"] == "boilerplate"
        assert data["text_sha256"] == text_hash(data["text"])
        assert data["title"] == "Exchange adds a monthly reserve audit"
    assert sorted(t["data"]["unit_id"] for t in tasks) == sorted(
        f"{page.id}:L{n}" for n in range(1, 7))


def test_predictions_are_the_models_own(page, store, monkeypatch):
    use_store(store, monkeypatch)
    labeller = prelabel.load_prelabeller("champion", "boilerplate")
    report = exporter.export_tasks("boilerplate", page.data_dir, page.tmp / "t.json",
                                   model="champion")
    tasks = json.loads(report.out.read_text(encoding="utf-8"))
    expected = dict(zip([t["data"]["text"] for t in tasks],
                        labeller.predict([t["data"]["text"] for t in tasks]), strict=True))
    for task in tasks:
        label, score = expected[task["data"]["text"]]
        assert task["predictions"][0]["result"][0]["value"] == {
            "choices": [label]}
        assert task["predictions"][0]["score"] == round(score, 4)


def test_without_models_the_tasks_come_in_document_order_and_it_says_so(page, capsys):
    out = page.tmp / "tasks.json"
    assert main(["annotate", "export", "--task", "boilerplate", "--out", str(out),
                 "--data-dir", str(page.data_dir)]) == 0
    assert "without predictions (no --models given); tasks in document order" in \
        capsys.readouterr().out
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["data"]["unit_id"] for t in tasks] == [f"{page.id}:L{n}" for n in range(1, 7)]
    assert all("predictions" not in t for t in tasks)


def test_a_task_without_a_champion_exports_without_predictions(page, store, monkeypatch):
    use_store(store, monkeypatch)
    # The store has champions only: no challenger for any task.
    report = exporter.export_tasks("boilerplate", page.data_dir, page.tmp / "b.json",
                                   model="challenger")
    assert report.model_version is None
    assert "no challenger model for boilerplate" in report.no_predictions
    assert report.n_tasks == 6


def test_a_model_folder_that_does_not_load_is_an_error(page, tmp_path):
    with pytest.raises(DataError, match="is neither a folder nor an MLflow model URI"):
        exporter.export_tasks("boilerplate", page.data_dir, tmp_path / "s.json", model="nope")


def test_nothing_to_label_writes_nothing(page, capsys):
    out = page.tmp / "tasks.json"
    assert main(["annotate", "export", "--task", "stance", "--out", str(out),
                 "--data-dir", str(page.data_dir)]) == 0
    printed = capsys.readouterr().out
    assert "no stance unit lacks a label in the selected documents; nothing written" in printed
    assert (f"{page.id}: 6 block(s) have no boilerplate label yet; their sentences are "
            "exported for stance once the blocks are labelled content") in printed
    assert not out.exists()


def test_out_must_be_a_file(page, capsys):
    assert main(["annotate", "export", "--task", "boilerplate", "--out", str(page.tmp),
                 "--data-dir", str(page.data_dir)]) == 2
    assert "is a folder; give the JSON file to write" in capsys.readouterr().err
