"""crypto_news_bench.data.corpus: the raw documents, verified on load, the metadata of synthetic
pages, ``cnbench data``, and the metadata readers fed anything (hypothesis)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from fuzzing import FAST, files
from hypothesis import given

from crypto_news_bench.cli import main
from crypto_news_bench.data import dataset
from crypto_news_bench.data.corpus import (
    REQUIRED_FIELDS,
    load_corpus,
    read_jsonl,
    read_metadata,
    sha256_bytes,
)
from crypto_news_bench.errors import DataError

SEEDS = Path(__file__).parents[3] / "shared" / "seeds"


def raises(message: str):
    """pytest.raises(DataError) whose message contains ``message`` literally."""
    return pytest.raises(DataError, match=re.escape(message))


# --- the real corpus --------------------------------------------------------------------


def test_real_corpus_has_three_documents_with_their_metadata(repo_data_dir):
    raw = repo_data_dir / "raw"
    records = [json.loads(line) for line in
               (raw / "documents.jsonl").read_text(encoding="utf-8").splitlines() if line]
    docs = load_corpus(raw)

    assert len(docs) == 3
    assert [d.id for d in docs] == sorted(r["id"] for r in records)
    by_id = {r["id"]: r for r in records}
    for doc in docs:
        rec = by_id[doc.id]
        assert set(rec) >= set(REQUIRED_FIELDS)
        assert doc.path == raw / rec["file"]
        assert (doc.publisher, doc.title, doc.url, doc.published) == (
            rec["publisher"], rec["title"], rec["url"], rec["published"])
        assert doc.publisher and doc.title


def test_real_corpus_sha256_matches_the_bytes(repo_data_dir):
    for doc in load_corpus(repo_data_dir / "raw"):
        data = doc.path.read_bytes()
        assert doc.sha256 == hashlib.sha256(data).hexdigest()
        assert doc.text.encode("utf-8") == data  # decoded, bytes unchanged
        assert doc.path.name.startswith(doc.id)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present")
def test_real_corpus_bytes_equal_the_seeds(repo_data_dir):
    docs = load_corpus(repo_data_dir / "raw")
    seeds = sorted(p.name for p in SEEDS.glob("*.txt"))
    assert seeds == sorted(d.path.name for d in docs)
    for doc in docs:
        assert doc.path.read_bytes() == (SEEDS / doc.path.name).read_bytes(), doc.path.name


def test_sha256_bytes():
    assert sha256_bytes(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


# --- the tiny corpus and its refusals ---------------------------------------------------


def test_tiny_corpus_loads(tiny_data_dir, tiny_docs):
    docs = load_corpus(tiny_data_dir / "raw")
    assert [d.id for d in docs] == ["a01", "b02"]
    assert [d.text for d in docs] == [tiny_docs["a01"], tiny_docs["b02"]]
    assert docs[0].url == "https://example.com/a01"
    assert docs[0].published == "2023-01-01"


def test_docs_sorted_by_id_whatever_the_metadata_order(tiny_data_dir, jsonl):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    jsonl.write(meta, list(reversed(jsonl.read(meta))))
    assert [d.id for d in load_corpus(tiny_data_dir / "raw")] == ["a01", "b02"]


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\r\n"])
def test_empty_document_is_refused(tiny_data_dir, content):
    path = tiny_data_dir / "raw" / "b02.txt"
    path.write_bytes(content)
    with raises(f"{path}: the document is empty"):
        load_corpus(tiny_data_dir / "raw")


def test_non_utf8_document_is_refused(tiny_data_dir):
    path = tiny_data_dir / "raw" / "a01.txt"
    path.write_bytes("Café au lait\n".encode("latin-1"))
    with raises(f"{path}: not UTF-8 (byte 3: b'\\xe9')"):
        load_corpus(tiny_data_dir / "raw")


def test_changed_document_is_refused_by_its_hash(tiny_data_dir, jsonl):
    path = tiny_data_dir / "raw" / "a01.txt"
    recorded = jsonl.read(tiny_data_dir / "raw" / "documents.jsonl")[0]["sha256"]
    path.write_bytes(path.read_bytes() + b"One more line.\n")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DataError) as err:
        load_corpus(tiny_data_dir / "raw")
    msg = str(err.value)
    assert msg.startswith(f"{path}: sha256 {actual} does not match {recorded}")
    assert "documents.jsonl" in msg and "the raw text changed" in msg


def test_missing_metadata_file_is_refused(tiny_data_dir):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    meta.unlink()
    with raises(f"{meta}: metadata file not found"):
        load_corpus(tiny_data_dir / "raw")


def test_malformed_metadata_line_names_file_and_line(tiny_data_dir):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    lines = meta.read_text(encoding="utf-8").splitlines()
    # A blank line is skipped but still counted, so the bad line is line 3.
    meta.write_text("\n".join([lines[0], "", '{"id": "b02", "file": '] + lines[1:]) + "\n",
                    encoding="utf-8")
    with raises(f"{meta}:3: malformed JSON"):
        load_corpus(tiny_data_dir / "raw")


@pytest.mark.parametrize("line,kind", [("42", "int"), ('"id file sha256"', "str"),
                                       ("[1, 2]", "list")])
def test_metadata_line_that_is_not_an_object_is_refused(tiny_data_dir, line, kind):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    meta.write_text(meta.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    with raises(f"{meta}:3: expected a JSON object, got {kind}"):
        load_corpus(tiny_data_dir / "raw")


def test_missing_metadata_field_is_refused(tiny_data_dir, jsonl):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    records = jsonl.read(meta)
    del records[1]["sha256"]
    del records[1]["publisher"]
    jsonl.write(meta, records)
    with raises(f"{meta}:2: missing field(s) publisher, sha256"):
        load_corpus(tiny_data_dir / "raw")


def test_unlisted_txt_file_is_refused(tiny_data_dir):
    (tiny_data_dir / "raw" / "c03.txt").write_text("A page nobody described.\n")
    with raises("c03.txt not listed in documents.jsonl; add metadata for it"):
        load_corpus(tiny_data_dir / "raw")


def test_listed_file_that_is_missing_is_refused(tiny_data_dir):
    path = tiny_data_dir / "raw" / "b02.txt"
    path.unlink()
    with raises(f"{path}: file not found"):
        load_corpus(tiny_data_dir / "raw")


def test_duplicate_document_id_is_refused(tiny_data_dir, jsonl):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    records = jsonl.read(meta)
    records[1]["id"] = "a01"
    jsonl.write(meta, records)
    with raises(f"{meta}: duplicate document id a01"):
        load_corpus(tiny_data_dir / "raw")


def test_read_metadata_skips_blank_lines(tiny_data_dir):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    meta.write_text("\n" + meta.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert [r["id"] for r in read_metadata(tiny_data_dir / "raw")] == ["a01", "b02"]


# --- cnbench data (check) ---------------------------------------------------------------


def test_cli_data_check_reports_the_corpus(tiny_data_dir, tiny_docs, capsys):
    """Without a synthetic corpus there is nothing to leak: no encoder is needed."""
    assert main(["data", "--data-dir", str(tiny_data_dir)]) == 0
    from crypto_news_bench.data.units import blocks, sentences

    out = capsys.readouterr().out.splitlines()
    all_blocks = [b for d, text in tiny_docs.items() for b in blocks(d, text)]
    n = len(all_blocks) + len(sentences(all_blocks))
    assert out == [f"documents: 2 real, 0 synthetic; units: {n} real, 0 synthetic (blocks and "
                   "sentences)", "exact copies of real units (normalised case, white space, "
                   "quotes): none", "data check passed"]


def test_cli_data_check_reports_a_bad_corpus(tiny_data_dir, capsys):
    path = tiny_data_dir / "raw" / "a01.txt"
    path.write_bytes(b"\xff\xfe not text\n")
    assert main(["data", "check", "--data-dir", str(tiny_data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: not UTF-8")
    assert captured.err.count("\n") == 1  # one clean line, no traceback


def test_same_file_listed_twice_is_refused(tiny_data_dir, jsonl):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    records = jsonl.read(meta)
    records.append({**records[0], "id": "a01-copy"})
    jsonl.write(meta, records)
    with raises(f"{meta}: file {records[0]['file']} is listed twice"):
        load_corpus(tiny_data_dir / "raw")


def test_non_utf8_metadata_is_refused(tiny_data_dir):
    meta = tiny_data_dir / "raw" / "documents.jsonl"
    meta.write_bytes(meta.read_bytes() + b"\xff\n")
    with raises(f"{meta}: not UTF-8"):
        load_corpus(tiny_data_dir / "raw")


# --- synthetic pages: their metadata, and none listed with the real ones ---------------


def test_a_synthetic_page_listed_with_the_real_ones_is_refused(tiny_data_dir, jsonl):
    path = tiny_data_dir / "raw" / "documents.jsonl"
    records = jsonl.read(path)
    records[0]["synthetic"] = True
    jsonl.write(path, records)
    with pytest.raises(DataError, match="document a01 is marked synthetic but listed with "
                                        "the real pages"):
        dataset.build(tiny_data_dir)


def test_synthetic_metadata_needs_its_outlet_type(tiny_synthetic_data_dir, jsonl):
    path = tiny_synthetic_data_dir / "synthetic" / "raw" / "documents.jsonl"
    records = jsonl.read(path)
    records[1]["outlet_type"] = "blog"
    jsonl.write(path, records)
    with pytest.raises(DataError, match=f"{path}:2: unknown outlet_type 'blog'; valid: "
                                        "crypto_news, business_paper"):
        dataset.build(tiny_synthetic_data_dir)
    del records[1]["template"]
    jsonl.write(path, records)
    with pytest.raises(DataError, match=f"{path}:2: missing field\\(s\\) template"):
        dataset.build(tiny_synthetic_data_dir)


# --- any file (hypothesis) -------------------------------------------------------------


@FAST
@given(data=files)
def test_metadata_and_jsonl_readers_raise_only_data_errors(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("raw")
    (folder / "documents.jsonl").write_bytes(data)
    for synthetic in (False, True):
        try:
            records = read_metadata(folder, synthetic)
        except DataError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(isinstance(r, dict) for r in records)
    try:
        list(read_jsonl(folder / "documents.jsonl"))
    except DataError:
        pass


# --- writing several files at once -----------------------------------------------------


def test_write_atomically_moves_every_file_in_only_when_all_are_written(tmp_path):
    from crypto_news_bench.data.corpus import write_atomically

    kept = tmp_path / "kept.txt"
    kept.write_text("old", encoding="utf-8")
    kept.chmod(0o640)
    with pytest.raises(FileNotFoundError):
        write_atomically({kept: b"new", tmp_path / "missing" / "x.txt": b"x"})
    assert kept.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]  # no temporary left

    write_atomically({kept: b"new", tmp_path / "fresh.txt": b"fresh"})
    assert kept.read_bytes() == b"new" and (tmp_path / "fresh.txt").read_bytes() == b"fresh"
    assert kept.stat().st_mode & 0o777 == 0o640  # the mode a plain write keeps
    assert (tmp_path / "fresh.txt").stat().st_mode & 0o777 == 0o644
