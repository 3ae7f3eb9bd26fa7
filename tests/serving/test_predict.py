"""crypto_news_bench.serving.predict (``cnbench predict``) on a made-up article with published
models: the outputs where they are announced, JSONL records with exact offsets, stance and claim
type on content sentences only; bad articles fail before any model loads; a model of another
task or a reference to nothing is refused; the champion from the tracking store; bfloat16; the
Python API gives the records the command writes. Many articles: test_batch.py; ``--models``
syntax: test_commands.py; the page: test_page.py; each flavour's predictor: flavours/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ARTICLE, models_arg

from crypto_news_bench import cli
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks, sentences
from crypto_news_bench.errors import DataError
from crypto_news_bench.serving.predict import Model, load_models, predict_text, predict_texts

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")

RECORD_KEYS = {"unit", "kind", "task", "start", "end", "label", "score", "text"}


def test_outputs_are_where_they_are_announced(model_dirs, tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Binance said users are safe. The SEC disagreed.\n", encoding="utf-8")
    assert cli.main(["predict", "--models", f"stance={model_dirs['stance']}", str(article),
                     "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "2 predictions:" in printed
    assert str(tmp_path / "o" / "a.predictions.jsonl") in printed
    assert str(tmp_path / "o" / "a.html") in printed


def test_records_have_every_field_and_exact_offsets(predicted):
    records, _ = predicted
    assert records
    for r in records:
        assert set(r) == RECORD_KEYS
        assert ARTICLE[r["start"]:r["end"]] == r["text"]
        assert r["label"] in TASKS[r["task"]].labels
        assert 0 <= r["score"] <= 1
        assert r["kind"] == ("block" if r["task"] == "boilerplate" else "sentence")


def test_every_block_gets_a_boilerplate_label(predicted):
    records, _ = predicted
    got = [(r["unit"], r["text"]) for r in records if r["task"] == "boilerplate"]
    assert got == [(b.id, b.text) for b in blocks("my-article", ARTICLE)]
    # The bullet is stripped from its block.
    assert "We launched a Law Enforcement Request System to help investigators." in \
        [text for _, text in got]


def test_stance_and_claim_type_only_on_content_sentences(predicted):
    records, _ = predicted
    labels = {r["unit"]: r["label"] for r in records if r["task"] == "boilerplate"}
    assert set(labels.values()) == {"content", "boilerplate"}, labels
    content = [b for b in blocks("my-article", ARTICLE) if labels[b.id] == "content"]
    expected = [(s.id, s.start, s.end) for s in sentences(content)]
    assert len(expected) > len(content)  # several sentences in a block
    for task in ("stance", "claim_type"):
        got = [(r["unit"], r["start"], r["end"]) for r in records if r["task"] == task]
        assert got == expected, task
        assert all(r["unit"].rsplit(":S", 1)[0] in {b.id for b in content}
                   for r in records if r["task"] == task)


# --- bad articles: exit 2, the file named, before any model is loaded -------------------

MISSING_MODEL = "/nonexistent/model-folder"


def run_predict(article: Path, out: Path, capsys, models: str) -> tuple[int, str]:
    code = cli.main(["predict", "--models", models, str(article), "--out", str(out)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"", "the document is empty"),
    (b"  \n\t\r\n \n", "the document is empty"),
    (b"Binance said \xff\xfe users are safe.\n", "not UTF-8 (byte 13"),
])
def test_bad_article_fails_before_models_load(tmp_path, capsys, content, message):
    article = tmp_path / "article.txt"
    article.write_bytes(content)
    code, err = run_predict(article, tmp_path / "out", capsys, f"stance={MISSING_MODEL}")
    assert code == 2
    assert str(article) in err
    assert message in err
    assert "model reference" not in err  # the bad model reference was never looked at
    assert not (tmp_path / "out").exists()


def test_missing_article_fails_before_models_load(tmp_path, capsys):
    article = tmp_path / "nope.txt"
    code, err = run_predict(article, tmp_path / "out", capsys, f"stance={MISSING_MODEL}")
    assert code == 2
    assert f"{article}: file not found" in err
    assert "model reference" not in err


def test_missing_model_is_reported_once_the_article_is_fine(tmp_path, capsys):
    article = tmp_path / "article.txt"
    article.write_text("Binance said users are safe.\n", encoding="utf-8")
    code, err = run_predict(article, tmp_path / "out", capsys, f"stance={MISSING_MODEL}")
    assert code == 2
    assert "neither a folder nor an MLflow model URI" in err
    assert MISSING_MODEL in err


def test_a_folder_without_articles_is_one_line(tmp_path, capsys):
    folder = tmp_path / "articles"
    folder.mkdir()
    code, err = run_predict(folder, tmp_path / "out", capsys, f"stance={MISSING_MODEL}")
    assert (code, err) == (2, f"error: {folder}: a folder with no *.txt article in it; predict "
                              "takes plain-text articles (UTF-8, one block a line) and folders "
                              "of them\n")


def test_out_naming_a_file_is_one_line(tmp_path, capsys):
    article = tmp_path / "article.txt"
    article.write_text("Binance said users are safe.\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    out.write_text("keep me", encoding="utf-8")
    code, err = run_predict(article, out, capsys, f"stance={MISSING_MODEL}")
    assert (code, err) == (2, f"error: {out}: is a file; --out names the folder to write "
                              "predictions to\n")
    assert out.read_text(encoding="utf-8") == "keep me"


def test_a_second_prediction_of_the_same_name_needs_overwrite(model_dirs, tmp_path, capsys):
    first, second = tmp_path / "a" / "article.txt", tmp_path / "b" / "article.txt"
    for path, text in ((first, "Binance said users are safe.\n"),
                       (second, "The SEC sued the exchange.\n")):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    models = f"stance={model_dirs['stance']}"
    assert cli.main(["predict", "--models", models, str(first), "--out", str(out)]) == 0
    page = (out / "article.html").read_text(encoding="utf-8")
    capsys.readouterr()
    code, err = run_predict(second, out, capsys, models)
    assert code == 2
    assert err == (f"error: {out / 'article.predictions.jsonl'}: exists, from an earlier "
                   "prediction of an article named 'article'; use --overwrite to replace it, "
                   "or another --out\n")
    assert (out / "article.html").read_text(encoding="utf-8") == page
    assert cli.main(["predict", "--models", models, str(second), "--out", str(out),
                     "--overwrite"]) == 0
    assert "The SEC sued the exchange." in (out / "article.html").read_text(encoding="utf-8")


# --- bad --models ---------------------------------------------------------------------------


@pytest.fixture
def article(tmp_path) -> Path:
    path = tmp_path / "article.txt"
    path.write_text("Binance said users are safe. The SEC disagreed.\n", encoding="utf-8")
    return path


def test_model_of_another_task_is_refused(model_dirs, article, tmp_path, capsys):
    code, err = run_predict(article, tmp_path / "out", capsys,
                            f"boilerplate={model_dirs['stance']}")
    assert code == 2
    assert "another task" in err
    assert "not the boilerplate labels" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("task", ["claim_type", "boilerplate"])
def test_encoder_head_and_sklearn_models_of_another_task_are_refused(model_dirs, article,
                                                                     tmp_path, capsys, task):
    # A claim-type (encoder + head) or boilerplate (skops) folder given for stance.
    code, err = run_predict(article, tmp_path / "out", capsys, f"stance={model_dirs[task]}")
    assert code == 2
    assert "another task" in err


@pytest.mark.parametrize("ref", ["not-a-folder", "s3://bucket/model", "hf://org/model"])
def test_reference_neither_folder_nor_uri_is_refused(article, tmp_path, capsys, ref):
    code, err = run_predict(article, tmp_path / "out", capsys, f"stance={ref}")
    assert code == 2
    assert f"model reference {ref!r} for stance is neither a folder nor an MLflow model URI" \
        in err


def test_folder_that_is_not_a_model_is_refused(article, tmp_path, capsys):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    code, err = run_predict(article, tmp_path / "out", capsys, f"stance={empty}")
    assert code == 2
    assert f"{empty}: not a model folder" in err


def test_champion_from_the_tracking_store(use_transformer_store, model_dirs, article, tmp_path,
                                          capsys):
    """``champion`` resolves through MLFLOW_TRACKING_URI (boilerplate has one model)."""
    code = cli.main(["predict", "--models", "boilerplate=champion", str(article),
                     "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    records = [json.loads(line) for line in
               (tmp_path / "out" / "article.predictions.jsonl").read_text().splitlines()]
    assert [r["task"] for r in records] == ["boilerplate"]
    assert records[0]["label"] in TASKS["boilerplate"].labels


def test_unknown_registered_model_is_a_clear_error(use_transformer_store, article, tmp_path,
                                                  capsys):
    code = cli.main(["predict", "--models", "stance=models:/no-such-model/1", str(article),
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "model 'models:/no-such-model/1' for stance: Registered Model with name=no-such-model" \
        " not found" in err
    assert use_transformer_store.uri in err


# --- precision ------------------------------------------------------------------------------


def test_cli_predict_in_bfloat16(model_dirs, predicted, tmp_path, capsys):
    article = tmp_path / "my-article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    code = cli.main(["predict", "--models", models_arg(model_dirs), str(article),
                     "--out", str(tmp_path / "out"), "--precision", "bfloat16"])
    assert code == 0, capsys.readouterr().err
    records = [json.loads(line) for line in
               (tmp_path / "out" / "my-article.predictions.jsonl").read_text().splitlines()]
    float32_records, _ = predicted
    same = ("unit", "task", "start", "end", "text")
    assert [{k: r[k] for k in same} for r in records] == \
        [{k: r[k] for k in same} for r in float32_records]
    # The TF-IDF boilerplate model has no precision: its scores are float32's exactly.
    assert [r["score"] for r in records if r["task"] == "boilerplate"] == \
        [r["score"] for r in float32_records if r["task"] == "boilerplate"]


def test_cli_predict_refuses_an_unknown_precision(article, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["predict", str(article), "--precision", "float16"])
    assert exc.value.code == 2
    assert "argument --precision: invalid choice: 'float16'" in capsys.readouterr().err


# --- the Python API -----------------------------------------------------------------------


def test_predict_text_gives_the_records_the_command_writes(model_dirs, predicted):
    records, _ = predicted
    refs = {task: str(folder) for task, folder in model_dirs.items()}
    got = predict_text(ARTICLE, refs, name="my-article")
    assert got == records


def test_predict_texts_with_models_loaded_once(cheap_models):
    models = load_models({"stance": str(cheap_models["stance"]),
                          "boilerplate": str(cheap_models["boilerplate"])})
    assert list(models) == ["boilerplate", "stance"]  # the tasks' order
    assert all(isinstance(m, Model) for m in models.values())
    assert models["stance"].info.macro_f1 == 0.65
    first, second = predict_texts(["Share this article\nThe SEC sued the exchange.\n",
                                   "We are proud to build a safer Binance for users."], models)
    assert {r["unit"].split(":")[0] for r in first} == {"text1"}
    assert [r["unit"] for r in second] == ["text2:L1", "text2:L1:S1"]
    assert [r["task"] for r in second] == ["boilerplate", "stance"]
    assert all(set(r) == RECORD_KEYS for r in first + second)


def test_predict_text_refuses_an_empty_text_before_loading():
    with pytest.raises(DataError, match="text 'text': empty or not a string"):
        predict_text(" \n", {"stance": MISSING_MODEL})


def test_predict_text_with_the_champion(use_store):
    got = predict_text("Binance said users are safe. The SEC disagreed.", {"stance": "champion"})
    assert [(r["unit"], r["task"]) for r in got] == [("text:L1:S1", "stance"),
                                                     ("text:L1:S2", "stance")]
