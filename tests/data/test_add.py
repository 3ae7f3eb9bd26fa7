"""crypto_news_bench.data.add: ``cnbench data add`` copies a page into the corpus in its own
format, refuses duplicates and unreadable files with one line, writing nothing, and says what
to label next."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from crypto_news_bench.cli import main
from crypto_news_bench.data import dataset
from crypto_news_bench.data.add import add_document
from crypto_news_bench.data.corpus import REQUIRED_FIELDS, load_corpus
from crypto_news_bench.data.units import blocks, sentences
from crypto_news_bench.errors import DataError

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
PAGE = ("Home | News\n"
        "Exchange opens an office in Lisbon\n"
        "The exchange said it hired 40 people. It plans to hire more next year.\n"
        "Share this article\n")


def real_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for sub in ("raw", "annotations"):
        shutil.copytree(REPO_DATA / sub, data / sub)
    return data


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def data(tmp_path):
    return real_copy(tmp_path)


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "lisbon.txt"
    path.write_text(PAGE, encoding="utf-8")
    return path


def test_add_copies_the_bytes_and_lists_them_like_the_seed_pages(data, page):
    added = add_document(page, data, " Coin Daily ", "Exchange opens an office in Lisbon",
                         "https://example.com/lisbon", "2024-03-05")

    digest = hashlib.sha256(PAGE.encode()).hexdigest()
    # The seed pages are 000-002: the next number, then the first 16 hex of the sha256.
    assert added.id == f"003_{digest[:16]}"
    assert added.path == data / "raw" / f"{added.id}.txt"
    assert added.path.read_bytes() == page.read_bytes()
    lines = (data / "raw" / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    seed = json.loads(lines[0])
    record = json.loads(lines[-1])
    assert list(record) == list(seed) == list(REQUIRED_FIELDS)
    assert record == {"id": added.id, "file": f"{added.id}.txt", "publisher": "Coin Daily",
                      "title": "Exchange opens an office in Lisbon",
                      "url": "https://example.com/lisbon", "published": "2024-03-05",
                      "sha256": digest}
    docs = load_corpus(data / "raw")  # verifies the hash like every load
    assert [d.id for d in docs][-1] == added.id and len(docs) == 4
    assert added.n_blocks == len(blocks(added.id, PAGE)) == 4
    assert added.n_sentences == len(sentences(blocks(added.id, PAGE))) == 5


def test_url_and_date_are_optional_and_null_like_the_seed_pages(data, page):
    added = add_document(page, data, "Coin Daily", "Lisbon")
    assert added.record["url"] is None and added.record["published"] is None


def test_the_new_units_have_no_labels_so_the_build_names_them(data, page):
    added = add_document(page, data, "Coin Daily", "Lisbon")
    with pytest.raises(DataError, match=re.escape(f"with no 'boilerplate' label: {added.id}:L1")):
        dataset.gold_examples(data)


def test_cli_prints_the_counts_and_the_export_command(data, page, capsys):
    code = main(["data", "add", str(page), "--publisher", "Coin Daily", "--title", "Lisbon",
                 "--data-dir", str(data)])
    out = capsys.readouterr().out
    doc = json.loads((data / "raw" / "documents.jsonl").read_text().splitlines()[-1])["id"]
    assert code == 0
    assert f"as document {doc}" in out
    assert re.search(r"boilerplate\s+4 blocks", out)
    assert re.search(r"stance\s+up to 5 sentences", out)
    assert (f"cnbench annotate export --task boilerplate --docs {doc} --out "
            f"{doc}-boilerplate.json --models champion --data-dir {data}") in out


def _refused(args, data, capsys, message):
    before = files(data)
    assert main(["data", "add", *args, "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert files(data) == before


def test_same_bytes_twice_is_refused(data, page, tmp_path, capsys):
    first = add_document(page, data, "Coin Daily", "Lisbon")
    copy = tmp_path / "again.txt"
    copy.write_bytes(page.read_bytes())
    _refused([str(copy), "--publisher", "Other", "--title", "Other"], data, capsys,
             f"{copy}: the same bytes are already in the corpus as document {first.id}")


def test_a_seed_page_again_is_refused(data, tmp_path, capsys):
    seed = tmp_path / "seed.txt"
    seed.write_bytes((REPO_DATA / "raw" / "001_38751da489e2f297.txt").read_bytes())
    _refused([str(seed), "--publisher", "P", "--title", "T"], data, capsys,
             "already in the corpus as document 001_38751da489e2f297")


def test_same_url_is_refused_even_with_a_trailing_slash_or_another_host_case(data, page,
                                                                             tmp_path, capsys):
    first = add_document(page, data, "Coin Daily", "Lisbon", "https://example.com/lisbon")
    other = tmp_path / "other.txt"
    other.write_text("A different page\n", encoding="utf-8")
    _refused([str(other), "--publisher", "P", "--title", "T", "--url",
              "https://EXAMPLE.com/lisbon/"], data, capsys,
             f"--url https://EXAMPLE.com/lisbon/ is already the URL of document {first.id}")


def test_a_synthetic_page_added_as_real_is_refused(tiny_synthetic_data_dir, tmp_path, capsys):
    data = tiny_synthetic_data_dir
    leak = tmp_path / "leak.txt"
    leak.write_bytes((data / "synthetic" / "raw" / "s01.txt").read_bytes())
    _refused([str(leak), "--publisher", "P", "--title", "T"], data, capsys,
             "already in the corpus as document s01")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the document is empty"),
    (b"  \n\t\n", "the document is empty"),
    (b"Caf\xe9 prices\n", "not UTF-8 (byte 3"),
])
def test_empty_and_non_utf8_files_are_refused(data, tmp_path, capsys, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    _refused([str(path), "--publisher", "P", "--title", "T"], data, capsys, f"{path}: {message}")


@pytest.mark.parametrize(("extra", "message"), [
    (["--date", "5 May 2024"], "--date '5 May 2024' is not a date in the form YYYY-MM-DD"),
    (["--url", "example.com/x"], "--url 'example.com/x' is not an http(s) URL"),
    (["--title", "  "], "--title must not be empty"),
])
def test_bad_metadata_is_refused(data, page, capsys, extra, message):
    _refused([str(page), "--publisher", "P", "--title", "T", *extra], data, capsys, message)


def test_missing_file_folder_and_missing_options_are_refused(data, tmp_path, capsys):
    _refused([str(tmp_path / "nope.txt"), "--publisher", "P", "--title", "T"], data, capsys,
             "nope.txt: file not found")
    _refused([str(tmp_path), "--publisher", "P", "--title", "T"], data, capsys,
             "is a folder; data add takes one plain-text page")
    _refused([str(tmp_path / "x.txt")], data, capsys, "data add needs FILE, --publisher and "
                                                       "--title")
