"""crypto_news_bench.annotation.label_studio: the labelling interface, the tasks written for
Label Studio and the JSON export read back (format only; the corpus checks are the importer's)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from annotating import ls_export, write_json

from crypto_news_bench.annotation.label_studio import (
    interface_xml,
    read_export,
    task_record,
)
from crypto_news_bench.cli import main
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks, sentences
from crypto_news_bench.errors import DataError

UNIT = sentences(blocks("d1", "Title\nThe exchange grew. Critics doubt it.\n"))[-1]


def _task(uid: str = "d1:L2:S2", task: str = "stance", digest: str = "0" * 16) -> dict:
    return {"data": {"unit_id": uid, "doc_id": "d1", "task": task, "text_sha256": digest,
                     "text": "Critics doubt it.", "context": "L2: ..."}}


@pytest.mark.parametrize("name", list(TASKS))
def test_interface_has_one_required_single_choice_of_the_task_labels(name):
    root = ET.fromstring(interface_xml(name))
    assert root.tag == "View"
    (choices,) = root.findall("Choices")
    assert choices.attrib == {"name": "label", "toName": "text", "choice": "single-radio",
                              "required": "true"}
    assert [c.get("value") for c in choices.findall("Choice")] == list(TASKS[name].labels)
    texts = {t.get("name"): t.get("value") for t in root.findall("Text")}
    assert texts == {"text": "$text", "context": "$context"}
    (note,) = root.findall("TextArea")
    assert note.get("name") == "note" and note.get("toName") == "text"


def test_every_variable_of_the_interface_is_in_a_task(tmp_path):
    record = task_record("stance", UNIT, "A title", "the block", "abc", ("critical", 0.4, "m"))
    for name in TASKS:
        used = set(re.findall(r'"\$(\w+)"', interface_xml(name)))
        assert used and used <= set(record["data"]), used - set(record["data"])


def test_task_record_carries_the_unit_and_a_prediction_in_label_studio_form():
    record = task_record("stance", UNIT, "A title", "ctx", "abc", ("critical", 0.41237, "m v2"))
    assert record["data"] == {"unit_id": "d1:L2:S2", "doc_id": "d1", "task": "stance",
                              "text_sha256": "abc", "line": 2, "title": "A title",
                              "text": "Critics doubt it.", "context": "ctx"}
    assert record["predictions"] == [{
        "model_version": "m v2", "score": 0.4124,
        "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                    "value": {"choices": ["critical"]}}]}]
    assert "predictions" not in task_record("stance", UNIT, "t", "c", "abc")


def test_cli_prints_the_interface(capsys):
    assert main(["annotate", "config", "--task", "claim_type"]) == 0
    assert capsys.readouterr().out == interface_xml("claim_type")


def test_read_export_gives_each_submitted_annotation(tmp_path):
    tasks = [_task("d1:L2:S1"), _task("d1:L2:S2"), _task("d1:L3:S1")]
    export = ls_export(tasks, {"d1:L2:S1": "critical", "d1:L2:S2": "neutral"},
                       notes={"d1:L2:S2": " hedged "})
    export[1]["annotations"].append({**export[1]["annotations"][0], "id": 7,
                                     "was_cancelled": True, "result": []})  # a skip
    path = write_json(tmp_path / "export.json", export)

    items = read_export(path)
    assert [(i.unit_id, i.label, i.annotator, i.note, i.ls_task) for i in items] == [
        ("d1:L2:S1", "critical", "user 1", None, 1),
        ("d1:L2:S2", "neutral", "user 1", "hedged", 2)]
    assert items[0].where == f"{path}: Label Studio task 1"
    assert {i.annotator for i in read_export(path, annotator="alice")} == {"alice"}


def test_completed_by_as_a_user_record_names_the_email(tmp_path):
    export = ls_export([_task()], {"d1:L2:S2": "neutral"},
                       user={"id": 4, "email": "ann@example.com", "first_name": "Ann"})
    (item,) = read_export(write_json(tmp_path / "e.json", export))
    assert item.annotator == "ann@example.com"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda e: {"tasks": e}, "expected a JSON list of tasks (Label Studio's JSON export), got "
                             "dict"),
    (lambda e: [{"id": 1, "data": e[0]["data"]}],
     "Label Studio task 1: a task needs a data object and an annotations list"),
    (lambda e: [{**e[0], "data": {"text": "x"}}],
     "Label Studio task 1: data has no unit_id, doc_id, task, text_sha256"),
    (lambda e: _with_result(e, {"from_name": "label", "to_name": "text", "type": "choices",
                                "value": {"choices": ["critical", "neutral"]}}),
     "Label Studio task 1: expected exactly one choice, got ['critical', 'neutral']"),
    (lambda e: _with_result(e, {"from_name": "sentiment", "to_name": "text", "type": "choices",
                                "value": {"choices": ["critical"]}}),
     "Label Studio task 1: unexpected result 'sentiment' of type 'choices'"),
    (lambda e: _with_result(e, None, extra=True),
     "Label Studio task 1: annotation 101 by user 1 has 2 labels; expected one"),
])
def test_malformed_exports_are_one_line_errors_naming_the_task(tmp_path, mutate, message):
    export = ls_export([_task()], {"d1:L2:S2": "neutral"})
    path = write_json(tmp_path / "e.json", mutate(export))
    with pytest.raises(DataError, match=re.escape(message)):
        read_export(path)


def _with_result(export, result, extra=False):
    results = export[0]["annotations"][0]["result"]
    if extra:
        results.append(dict(results[0]))
    else:
        results[0] = result
    return export


def test_not_json_names_the_line(tmp_path):
    path = tmp_path / "e.json"
    path.write_text('[\n{"id": 1,\n', encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{path}:3: malformed JSON")):
        read_export(path)
