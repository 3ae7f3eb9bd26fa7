"""crypto_news_bench.serving.batch (``cnbench predict`` on many articles), with cheap published
folders (conftest's ``cheap_models``): files and folders expanded, each article once, one JSONL
and one page per article and an index linking them, a progress bar; every bad input and every
collision refused by name before anything is predicted or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import models_arg

from crypto_news_bench import cli
from crypto_news_bench.errors import DataError
from crypto_news_bench.serving import batch

TEXTS = {
    "a": "Share this article\nBinance said its reserves are fully backed.\n",
    "b": "The SEC sued the exchange in June. The exchange paid 4 billion dollars.\n",
    "c": "Advertisement\nWe are proud to build a safer Binance for users.\n",
}


@pytest.fixture
def articles(tmp_path) -> dict[str, Path]:
    """a.txt on its own; b.txt and c.txt in a folder with a file that is not an article."""
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.md").write_text("not an article", encoding="utf-8")
    paths = {"a": tmp_path / "a.txt", "b": folder / "b.txt", "c": folder / "c.txt"}
    for name, path in paths.items():
        path.write_text(TEXTS[name], encoding="utf-8")
    return paths


def predict(args: list, capsys) -> tuple[int, str, str]:
    code = cli.main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_files_and_folders_each_article_once(cheap_models, articles, tmp_path, capsys):
    out = tmp_path / "out"
    folder = articles["b"].parent
    code, printed, err = predict([articles["a"], folder, articles["b"], "--models",
                                  models_arg(cheap_models), "--out", out], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "a.html", "a.predictions.jsonl", "b.html", "b.predictions.jsonl", "c.html",
        "c.predictions.jsonl", "index.html"]
    lines = [line for line in printed.splitlines() if "predictions:" in line]
    assert [line.split(":")[0] for line in lines] == [str(articles[n]) for n in "abc"]
    assert f"index: {out / 'index.html'}" in printed
    for name in "abc":
        records = [json.loads(line) for line in
                   (out / f"{name}.predictions.jsonl").read_text(encoding="utf-8").splitlines()]
        assert {r["unit"].split(":")[0] for r in records} == {name}
        assert f"{len(records)} predictions: {out / f'{name}.predictions.jsonl'}" in printed
    # A progress bar over the three articles, on stderr.
    assert "articles: 100%" in err and "3/3" in err


def test_index_links_every_article_with_its_counts(cheap_models, articles, tmp_path, capsys):
    out = tmp_path / "out"
    assert predict([articles["b"].parent, articles["a"], "--models", models_arg(cheap_models),
                    "--out", out], capsys)[0] == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.index('href="./b.html"') < index.index('href="./c.html"') \
        < index.index('href="./a.html"')
    assert "Predictions: 3 articles" in index
    for name in "abc":
        records = [json.loads(line) for line in
                   (out / f"{name}.predictions.jsonl").read_text(encoding="utf-8").splitlines()]
        blocks = [r for r in records if r["task"] == "boilerplate"]
        sentences = {r["unit"] for r in records if r["kind"] == "sentence"}
        n_bp = sum(r["label"] == "boilerplate" for r in blocks)
        share = f"{n_bp} ({100 * n_bp / len(blocks):.0f}%)"
        assert (f'<a href="./{name}.html">{name}</a></td><td>{len(blocks)}</td><td>{share}'
                f"</td><td>{len(sentences)}</td>") in index
        assert f'<a href="./{name}.predictions.jsonl">JSONL</a>' in index


def test_a_folder_without_articles_is_refused(cheap_models, tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.md").write_text("x", encoding="utf-8")
    code, _, err = predict([folder, "--models", models_arg(cheap_models),
                            "--out", tmp_path / "out"], capsys)
    assert code == 2
    assert err.startswith(f"error: {folder}: a folder with no *.txt article in it")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, message", [
    (None, "file not found"),
    (b"", "the document is empty"),
    (b"Binance \xff users\n", "not UTF-8 (byte 8"),
])
def test_one_bad_article_fails_the_run_and_writes_nothing(articles, tmp_path, capsys, content,
                                                          message):
    bad = tmp_path / "bad.txt"
    if content is not None:
        bad.write_bytes(content)
    # A model reference that does not exist: the articles are checked before any model.
    code, out, err = predict([articles["a"], bad, articles["b"].parent, "--models",
                              "stance=/nonexistent/model", "--out", tmp_path / "out"], capsys)
    assert code == 2
    assert err.startswith(f"error: {bad}: {message}")
    assert err.count("\n") == 1 and out == ""
    assert not (tmp_path / "out").exists()


def test_two_articles_with_the_same_name_are_refused(articles, tmp_path, capsys):
    other = tmp_path / "other" / "a.txt"
    other.parent.mkdir()
    other.write_text("Something else.\n", encoding="utf-8")
    code, _, err = predict([articles["a"], other, "--models", "stance=/nonexistent",
                            "--out", tmp_path / "out"], capsys)
    assert code == 2
    assert err == (f"error: {articles['a']} and {other}: both would be written as a.html; "
                   "rename one, or predict them into different --out folders\n")


def test_an_article_named_index_is_refused(tmp_path, capsys):
    path = tmp_path / "index.txt"
    path.write_text("Binance said so.\n", encoding="utf-8")
    code, _, err = predict([path, "--models", "stance=/nonexistent", "--out", tmp_path / "o"],
                           capsys)
    assert code == 2
    assert "would replace the index page index.html; rename it" in err


def test_an_earlier_index_needs_overwrite(cheap_models, articles, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("earlier", encoding="utf-8")
    models = models_arg(cheap_models)
    code, _, err = predict([articles["a"], "--models", models, "--out", out], capsys)
    assert code == 2
    assert err == (f"error: {out / 'index.html'}: exists, from an earlier prediction; use "
                   "--overwrite to replace it, or another --out\n")
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert predict([articles["a"], "--models", models, "--out", out, "--overwrite"],
                   capsys)[0] == 0
    assert 'href="./a.html"' in (out / "index.html").read_text(encoding="utf-8")


def test_outputs_are_checked_for_every_article_before_any_is_written(cheap_models, articles,
                                                                      tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "c.html").write_text("earlier", encoding="utf-8")
    code, _, err = predict([articles["a"], articles["b"].parent, "--models",
                            models_arg(cheap_models), "--out", out], capsys)
    assert code == 2
    assert f"{out / 'c.html'}: exists" in err
    assert sorted(p.name for p in out.iterdir()) == ["c.html"]


def test_expand_inputs_order_and_duplicates(articles):
    folder = articles["b"].parent
    got = batch.expand_inputs([articles["c"], folder, articles["a"], articles["a"]])
    assert got == [articles["c"], articles["b"], articles["a"]]


def test_read_articles_names_the_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"\n \n")
    with pytest.raises(DataError, match=rf"^{path}: the document is empty$"):
        batch.read_articles([path])
