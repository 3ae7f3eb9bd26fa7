"""crypto_news_bench.data.labels: every bad annotation is refused with file, line and unit id;
the label reader, fed anything (hypothesis), raises only one-line DataErrors."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from fuzzing import FAST, files
from hypothesis import given

from crypto_news_bench.data.dataset import gold_examples
from crypto_news_bench.data.labels import load_labels, read_label_file, text_hash
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.errors import DataError

# tiny_data_dir's annotation files, line by line (see conftest.TINY_DOCS):
BOILERPLATE_IDS = ["a01:L1", "a01:L2", "a01:L3", "a01:L5", "b02:L1", "b02:L2", "b02:L3"]
SENTENCE_IDS = ["a01:L2:S1", "a01:L3:S1", "a01:L3:S2", "a01:L5:S1", "b02:L2:S1"]


def raises(message: str):
    return pytest.raises(DataError, match=re.escape(message))


def ann(data_dir, task):
    return data_dir / "annotations" / f"{task}.jsonl"


def replace_line(path, lineno, text):
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def append_line(path, record):
    text = record if isinstance(record, str) else json.dumps(record)
    path.write_text(path.read_text(encoding="utf-8") + text + "\n", encoding="utf-8")


def test_text_hash():
    assert text_hash("abc") == "ba7816bf8f01cfea"
    assert text_hash("café") != text_hash("cafe")


def test_tiny_gold_set_is_complete(tiny_data_dir):
    gold = gold_examples(tiny_data_dir)
    assert [e.unit.id for e in gold["boilerplate"]] == BOILERPLATE_IDS
    assert [e.label for e in gold["boilerplate"]] == [
        "boilerplate", "content", "content", "content", "boilerplate", "content", "boilerplate"]
    assert [e.unit.id for e in gold["stance"]] == SENTENCE_IDS
    assert [e.label for e in gold["stance"]] == [
        "promotional", "critical", "neutral", "promotional", "critical"]
    assert [e.unit.id for e in gold["claim_type"]] == SENTENCE_IDS
    assert gold["claim_type"][4].label == "opinion"


def test_label_records_keep_note_and_source(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "stance")
    records = jsonl.read(path)
    records[2]["note"] = "hedged"
    jsonl.write(path, records)
    labels = load_labels(tiny_data_dir / "annotations", "stance")
    assert list(labels) == SENTENCE_IDS
    assert labels["a01:L3:S2"].note == "hedged"
    assert labels["a01:L3:S1"].note is None
    assert labels["a01:L3:S2"].source == f"{path}:3"
    gold_examples(tiny_data_dir)  # a note is allowed


def test_unknown_label(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "boilerplate")
    records = jsonl.read(path)
    records[1]["label"] = "navigation"
    jsonl.write(path, records)
    with raises(f"{path}:2: unknown label 'navigation' for unit a01:L2 in task 'boilerplate'; "
                "valid labels: content, boilerplate"):
        gold_examples(tiny_data_dir)


def test_unknown_label_in_sentence_task_lists_its_labels(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "stance")
    records = jsonl.read(path)
    records[4]["label"] = "Neutral"  # labels are case-sensitive
    jsonl.write(path, records)
    with raises(f"{path}:5: unknown label 'Neutral' for unit b02:L2:S1 in task 'stance'; "
                "valid labels: promotional, critical, neutral"):
        gold_examples(tiny_data_dir)


def test_unit_without_label(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "stance")
    jsonl.write(path, [r for r in jsonl.read(path) if r["id"] != "a01:L3:S2"])
    with raises("1 unit(s) with no 'stance' label: a01:L3:S2"):
        gold_examples(tiny_data_dir)


def test_many_units_without_label_are_listed_and_cut(tiny_data_dir):
    ann(tiny_data_dir, "boilerplate").write_text("", encoding="utf-8")
    with pytest.raises(DataError) as err:
        gold_examples(tiny_data_dir)
    assert str(err.value) == ("7 unit(s) with no 'boilerplate' label: "
                              "a01:L1, a01:L2, a01:L3, a01:L5, b02:L1 ...")


def test_label_for_unit_that_does_not_exist(tiny_data_dir):
    path = ann(tiny_data_dir, "boilerplate")
    append_line(path, {"id": "a01:L4", "text_sha256": text_hash(""), "label": "content"})
    with raises(f"{path}:8: label for unit a01:L4, which does not exist"):
        gold_examples(tiny_data_dir)


def test_sentence_label_for_missing_sentence_of_content_block(tiny_data_dir):
    path = ann(tiny_data_dir, "claim_type")
    append_line(path, {"id": "a01:L3:S3", "text_sha256": "0" * 16, "label": "opinion"})
    with raises(f"{path}:6: label for unit a01:L3:S3, which does not exist"):
        gold_examples(tiny_data_dir)


def test_block_id_in_sentence_task_does_not_exist(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "stance")
    records = jsonl.read(path)
    records[0]["id"] = "a01:L2"  # a block id where a sentence id belongs
    jsonl.write(path, records)
    with raises(f"{path}:1: label for unit a01:L2, which does not exist"):
        gold_examples(tiny_data_dir)


def test_text_hash_mismatch(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "boilerplate")
    records = jsonl.read(path)
    records[2]["text_sha256"] = "0123456789abcdef"
    jsonl.write(path, records)
    unit_text = ("The exchange said trading volume rose 5% in May. Critics called the figure "
                 "misleading.")
    with pytest.raises(DataError) as err:
        gold_examples(tiny_data_dir)
    msg = str(err.value)
    assert msg.startswith(f"{path}:3: text hash mismatch for a01:L3: ")
    assert "hash 0123456789abcdef" in msg
    assert f"now hashes to {text_hash(unit_text)}" in msg
    assert repr(unit_text[:60]) in msg


def test_edited_raw_text_is_caught_by_the_text_hash(tiny_data_dir, jsonl, tiny_docs):
    # The raw file is edited and its metadata hash updated, so only the labels can tell.
    raw = tiny_data_dir / "raw"
    new = tiny_docs["b02"].replace("are safe", "are totally safe")
    (raw / "b02.txt").write_text(new, encoding="utf-8")
    meta = jsonl.read(raw / "documents.jsonl")
    meta[1]["sha256"] = hashlib.sha256(new.encode("utf-8")).hexdigest()
    jsonl.write(raw / "documents.jsonl", meta)
    with raises(f"{ann(tiny_data_dir, 'boilerplate')}:6: text hash mismatch for b02:L2"):
        gold_examples(tiny_data_dir)


def test_duplicate_id(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "claim_type")
    first = jsonl.read(path)[1]
    append_line(path, first)
    with raises(f"{path}:6: duplicate id a01:L3:S1 (first labelled at {path}:2)"):
        gold_examples(tiny_data_dir)


def test_sentence_label_under_boilerplate_block(tiny_data_dir):
    path = ann(tiny_data_dir, "stance")
    append_line(path, {"id": "b02:L3:S1", "text_sha256": text_hash("Subscribe to our newsletter"),
                       "label": "neutral"})
    with pytest.raises(DataError) as err:
        gold_examples(tiny_data_dir)
    msg = str(err.value)
    assert msg.startswith(f"{path}:6: sentence b02:L3:S1 is labelled for 'stance', but its block "
                          "b02:L3 is not labelled content")
    assert "boilerplate" in msg


@pytest.mark.parametrize("uid", ["a01:L4:S1", "a01:L99:S1", "zz9:L1:S1"])
def test_sentence_label_whose_block_does_not_exist(tiny_data_dir, uid):
    """A01's line 4 is blank, line 99 is past the end, zz9 is no document: the block does not
    exist, which is not the same as a block labelled boilerplate."""
    path = ann(tiny_data_dir, "claim_type")
    append_line(path, {"id": uid, "text_sha256": "0" * 16, "label": "no_claim"})
    block = uid.rsplit(":S", 1)[0]
    with raises(f"{path}:6: sentence {uid} is labelled for 'claim_type', but its block {block} "
                "does not exist (no such document or non-empty line)"):
        gold_examples(tiny_data_dir)


def test_block_relabelled_boilerplate_orphans_its_sentence_labels(tiny_data_dir, jsonl):
    bp = ann(tiny_data_dir, "boilerplate")
    records = jsonl.read(bp)
    records[5]["label"] = "boilerplate"  # b02:L2, whose sentence has stance/claim labels
    jsonl.write(bp, records)
    with raises(f"{ann(tiny_data_dir, 'stance')}:5: sentence b02:L2:S1 is labelled for 'stance', "
                "but its block b02:L2 is not labelled content (boilerplate blocks get no "
                "sentence labels)"):
        gold_examples(tiny_data_dir)


@pytest.mark.parametrize("bad", ['{"id": "a01:L2", "label": ', "not json", "{'id': 'a01:L2'}"])
def test_malformed_jsonl_line(tiny_data_dir, bad):
    path = ann(tiny_data_dir, "boilerplate")
    replace_line(path, 4, bad)
    with raises(f"{path}:4: malformed JSON line ("):
        gold_examples(tiny_data_dir)


@pytest.mark.parametrize("bad,kind", [('["a01:L2", "content"]', "list"), ('"content"', "str"),
                                      ("null", "NoneType")])
def test_jsonl_line_that_is_not_an_object(tiny_data_dir, bad, kind):
    path = ann(tiny_data_dir, "claim_type")
    replace_line(path, 2, bad)
    with raises(f"{path}:2: expected a JSON object, got {kind}"):
        gold_examples(tiny_data_dir)


def test_blank_lines_are_skipped_but_counted(tiny_data_dir):
    path = ann(tiny_data_dir, "boilerplate")
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:2] + ["", "  "] + lines[2:] + ["", "oops"]) + "\n",
                    encoding="utf-8")
    with raises(f"{path}:11: malformed JSON line"):
        gold_examples(tiny_data_dir)


def test_missing_key(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "boilerplate")
    records = jsonl.read(path)
    del records[1]["text_sha256"]
    jsonl.write(path, records)
    with raises(f"{path}:2: missing key(s) text_sha256"):
        gold_examples(tiny_data_dir)


def test_missing_keys_are_all_named(tiny_data_dir):
    path = ann(tiny_data_dir, "stance")
    replace_line(path, 3, '{"text_sha256": "0000000000000000"}')
    with raises(f"{path}:3: missing key(s) id, label"):
        gold_examples(tiny_data_dir)


def test_unknown_key(tiny_data_dir, jsonl):
    path = ann(tiny_data_dir, "stance")
    records = jsonl.read(path)
    records[0]["notes"] = "typo of note"
    records[0]["confidence"] = 0.9
    jsonl.write(path, records)
    with raises(f"{path}:1: unknown key(s) confidence, notes; "
                "allowed: annotator, id, label, note, text_sha256"):
        gold_examples(tiny_data_dir)


@pytest.mark.parametrize("uid", [7, None, ["a01:L1"]])
def test_id_that_is_not_a_string(tiny_data_dir, jsonl, uid):
    path = ann(tiny_data_dir, "boilerplate")
    records = jsonl.read(path)
    records[0]["id"] = uid
    jsonl.write(path, records)
    with raises(f"{path}:1: id must be a string, got {uid!r}"):
        gold_examples(tiny_data_dir)


def test_missing_annotation_file(tiny_data_dir):
    path = ann(tiny_data_dir, "claim_type")
    path.unlink()
    with raises(f"{path}: annotation file for task 'claim_type' not found"):
        gold_examples(tiny_data_dir)


# --- any file (hypothesis) -------------------------------------------------------------


@FAST
@given(data=files)
def test_label_reader_raises_only_data_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("labels") / "stance.jsonl"
    path.write_bytes(data)
    try:
        labels = read_label_file(path, TASKS["stance"])
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    for label in labels.values():
        assert label.label in TASKS["stance"].labels
