"""Gold labels: ``data/annotations/<task>.jsonl`` keyed by unit id and a hash of the unit text.

Every check here exists so that nothing is lost or misaligned silently: a label must name a
unit that exists, whose text still hashes the same, with a label the schema knows, once; and
every unit the task covers must have one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .corpus import read_jsonl
from .schema import TASKS, Task
from .units import Unit

# ``annotator``: who gave the label, recorded by ``cnbench annotate import`` (the seed labels
# predate it and have none).
ALLOWED_KEYS = {"id", "text_sha256", "label", "note", "annotator"}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Label:
    unit_id: str
    label: str
    text_sha256: str
    note: str | None
    source: str  # "file:line", for messages


def read_label_file(path: Path, task: Task) -> dict[str, Label]:
    """Parse one task's JSONL file; each record is checked in isolation here."""
    if not path.exists():
        raise DataError(f"{path}: annotation file for task {task.name!r} not found")
    labels: dict[str, Label] = {}
    for where, rec in read_jsonl(path):
        missing = {"id", "text_sha256", "label"} - rec.keys()
        if missing:
            raise DataError(f"{where}: missing key(s) {', '.join(sorted(missing))}")
        extra = rec.keys() - ALLOWED_KEYS
        if extra:
            raise DataError(
                f"{where}: unknown key(s) {', '.join(sorted(extra))}; "
                f"allowed: {', '.join(sorted(ALLOWED_KEYS))}"
            )
        uid = rec["id"]
        if not isinstance(uid, str):
            raise DataError(f"{where}: id must be a string, got {uid!r}")
        if rec["label"] not in task.labels:
            raise DataError(
                f"{where}: unknown label {rec['label']!r} for unit {uid} in task {task.name!r}; "
                f"valid labels: {', '.join(task.labels)}"
            )
        if uid in labels:
            raise DataError(
                f"{where}: duplicate id {uid} (first labelled at {labels[uid].source})"
            )
        # The hash is checked against the unit in align(), which knows the units.
        labels[uid] = Label(uid, rec["label"], rec["text_sha256"], rec.get("note"), where)
    return labels


def align(task: Task, units: list[Unit], labels: dict[str, Label],
          content_blocks: set[str] | None = None,
          all_blocks: set[str] | None = None) -> list[tuple[Unit, Label]]:
    """Pair every unit of the task with its label, refusing any mismatch.

    ``units`` must be the units the task covers (blocks, or the sentences of content blocks);
    ``content_blocks`` and ``all_blocks`` (for sentence tasks) let a label under a boilerplate
    block, or under a block that does not exist, be named as such rather than as an unknown
    unit.
    """
    by_id = {u.id: u for u in units}
    for uid, lab in labels.items():
        unit = by_id.get(uid)
        if unit is None:
            block_id = uid.rsplit(":S", 1)[0]
            if ":S" in uid and all_blocks is not None and block_id not in all_blocks:
                raise DataError(
                    f"{lab.source}: sentence {uid} is labelled for {task.name!r}, but its block "
                    f"{block_id} does not exist (no such document or non-empty line)")
            if content_blocks is not None and ":S" in uid and block_id not in content_blocks:
                raise DataError(
                    f"{lab.source}: sentence {uid} is labelled for {task.name!r}, but its block "
                    f"{block_id} is not labelled content (boilerplate blocks get no sentence "
                    "labels)"
                )
            raise DataError(f"{lab.source}: label for unit {uid}, which does not exist")
        expected = text_hash(unit.text)
        if lab.text_sha256 != expected:
            raise DataError(
                f"{lab.source}: text hash mismatch for {uid}: the label was made for text with "
                f"hash {lab.text_sha256}, the unit's text now hashes to {expected} "
                f"({unit.text[:60]!r}); segmentation or raw text changed, re-check the label"
            )
    unlabelled = [u.id for u in units if u.id not in labels]
    if unlabelled:
        shown = ", ".join(unlabelled[:5]) + (" ..." if len(unlabelled) > 5 else "")
        raise DataError(
            f"{len(unlabelled)} unit(s) with no {task.name!r} label: {shown}"
        )
    return [(u, labels[u.id]) for u in units]


def load_labels(annotations_dir: Path | str, task_name: str) -> dict[str, Label]:
    task = TASKS[task_name]
    return read_label_file(Path(annotations_dir) / f"{task_name}.jsonl", task)
