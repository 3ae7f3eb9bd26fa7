"""Label Studio's side of the round trip: the labelling interface, the tasks we export and the
JSON export we read back. Only the JSON formats: no Label Studio code is needed to use them.

A task's ``data`` carries the unit id, its document, the task name and the hash of the text the
annotator saw, so an import can check that the unit still exists with the same text. The
interface has one single-choice ``Choices`` control (``label``) over the unit's ``Text``
(``text``), the document context as a second ``Text`` and an optional ``TextArea`` (``note``) for
the reason behind a non-obvious label (GUIDELINES.md: notes are for those only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ..data.schema import get_task
from ..data.units import Unit
from ..errors import DataError

LABEL, TEXT, CONTEXT, NOTE = "label", "text", "context", "note"
# The keys of a task's data that an import relies on.
DATA_KEYS = ("unit_id", "doc_id", "task", "text_sha256")


def interface_xml(task_name: str) -> str:
    """The labelling interface of a task: the unit with its context, one choice among the
    task's labels (required), and an optional note."""
    task = get_task(task_name)
    unit = "block (one line of the page)" if task.unit == "block" else "sentence"
    choices = "\n".join(f"    <Choice value={quoteattr(label)}/>" for label in task.labels)
    return f"""<View>
  <Header value="$title" size="4"/>
  <Text name="{CONTEXT}" value="${CONTEXT}"/>
  <Header value={quoteattr(f"{task.name}: label this {unit}")} size="5"/>
  <Text name="{TEXT}" value="${TEXT}"/>
  <Header value={quoteattr(task.description)} size="6"/>
  <Choices name="{LABEL}" toName="{TEXT}" choice="single-radio" required="true">
{choices}
  </Choices>
  <TextArea name="{NOTE}" toName="{TEXT}" rows="1" maxSubmissions="1"
            placeholder="note: the reason, for a non-obvious case only"/>
</View>
"""


def task_record(task_name: str, unit: Unit, title: str, context: str, text_sha256: str,
                prediction: tuple[str, float, str] | None = None) -> dict:
    """One Label Studio task for ``unit``; ``prediction`` is (label, score, model version)."""
    record: dict = {"data": {
        "unit_id": unit.id, "doc_id": unit.doc_id, "task": task_name,
        "text_sha256": text_sha256, "line": unit.line, "title": title,
        TEXT: unit.text, CONTEXT: context,
    }}
    if prediction is not None:
        label, score, version = prediction
        record["predictions"] = [{
            "model_version": version,
            "score": round(float(score), 4),
            "result": [{"from_name": LABEL, "to_name": TEXT, "type": "choices",
                        "value": {"choices": [label]}}],
        }]
    return record


@dataclass(frozen=True)
class Annotated:
    """One annotator's label for one unit, as read from an export (not yet checked against the
    schema or the corpus)."""

    where: str  # "<file>: Label Studio task <id>", for messages
    file: str
    ls_task: object
    task: str
    unit_id: str
    text_sha256: str
    annotator: str
    label: str
    note: str | None


def annotator_of(annotation: dict) -> str:
    """Who made an annotation: Label Studio's ``completed_by`` is a user id, or in some exports
    the user's record; the e-mail address is the readable name when there is one."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or f"user {who.get('id')}")
    return f"user {who}"


def _result(where: str, result: object) -> tuple[str | None, str | None]:
    """(label, note) of one result item; anything but our two controls is an error."""
    if not isinstance(result, dict):
        raise DataError(f"{where}: a result item is not an object: {result!r}")
    name, kind, value = result.get("from_name"), result.get("type"), result.get("value")
    if not isinstance(value, dict):
        raise DataError(f"{where}: result of {name!r} has no value object")
    if name == LABEL and kind == "choices":
        choices = value.get("choices")
        if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], str):
            raise DataError(f"{where}: expected exactly one choice, got {choices!r}")
        return choices[0], None
    if name == NOTE and kind == "textarea":
        text = value.get("text")
        lines = text if isinstance(text, list) else [text]
        note = " ".join(str(t).strip() for t in lines if t is not None and str(t).strip())
        return None, note or None
    raise DataError(f"{where}: unexpected result {name!r} of type {kind!r}; the interface of "
                    f"`cnbench annotate config` has {LABEL!r} (choices) and {NOTE!r} (textarea)")


def _annotations(path: Path, task: dict, annotator: str | None) -> list[Annotated]:
    where = f"{path}: Label Studio task {task.get('id', '?')}"
    data, annotations = task.get("data"), task.get("annotations")
    if not isinstance(data, dict) or not isinstance(annotations, list):
        raise DataError(f"{where}: a task needs a data object and an annotations list (export "
                        "the project as JSON, not JSON-MIN or CSV)")
    missing = [k for k in DATA_KEYS if not isinstance(data.get(k), str)]
    if missing:
        raise DataError(f"{where}: data has no {', '.join(missing)}; import only tasks written "
                        "by `cnbench annotate export`")
    out = []
    for annotation in annotations:
        if not isinstance(annotation, dict):
            raise DataError(f"{where}: an annotation is not an object")
        if annotation.get("was_cancelled"):  # skipped by the annotator: no label given
            continue
        results = annotation.get("result")
        if not isinstance(results, list):
            raise DataError(f"{where}: annotation {annotation.get('id')} has no result list")
        labels, notes = [], []
        for item in results:
            label, note = _result(where, item)
            labels += [label] if label is not None else []
            notes += [note] if note is not None else []
        who = annotator or annotator_of(annotation)
        if len(labels) != 1:
            raise DataError(f"{where}: annotation {annotation.get('id')} by {who} has "
                            f"{len(labels)} labels; expected one")
        out.append(Annotated(where, str(path), task.get("id"), data["task"], data["unit_id"],
                             data["text_sha256"], who, labels[0], " ".join(notes) or None))
    return out


def read_export(path: Path | str, annotator: str | None = None) -> list[Annotated]:
    """Every submitted (not skipped) annotation of a Label Studio JSON export, in file order.

    ``annotator`` names the annotator of every annotation in the file instead of the export's
    ``completed_by``.
    """
    path = Path(path)
    try:
        tasks = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    if not isinstance(tasks, list):
        raise DataError(f"{path}: expected a JSON list of tasks (Label Studio's JSON export), got "
                        f"{type(tasks).__name__}")
    out = []
    for task in tasks:
        if not isinstance(task, dict):
            raise DataError(f"{path}: a task is not a JSON object: {str(task)[:60]!r}")
        out += _annotations(path, task, annotator)
    return out
