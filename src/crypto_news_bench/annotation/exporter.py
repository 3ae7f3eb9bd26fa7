"""``cnbench annotate export``: the units a task still needs, as Label Studio tasks.

With a model, each task carries its prediction and the tasks come least confident first, so an
annotator who stops early has labelled what the model knew least (uncertainty sampling, the
simplest form of active learning); ties keep document order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..data.corpus import write_atomically
from ..data.labels import text_hash
from ..data.schema import get_task
from ..errors import DataError
from . import label_studio, pool, prelabel


@dataclass(frozen=True)
class ExportReport:
    task: str
    out: Path | None  # None when there was nothing to export
    n_tasks: int
    model_version: str | None
    no_predictions: str | None  # why there are none, when there are none
    waiting: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = []
        if self.out is None:
            lines.append(f"no {self.task} unit lacks a label in the selected documents; nothing "
                         "written")
        else:
            lines.append(f"wrote {self.n_tasks} {self.task} tasks to {self.out}")
            if self.model_version:
                lines.append(f"pre-annotated by {self.model_version}, least confident first")
            else:
                lines.append(f"without predictions ({self.no_predictions}); tasks in document "
                             "order")
        for doc, n in sorted(self.waiting.items()):
            lines.append(f"{doc}: {n} block(s) have no boilerplate label yet; their sentences "
                         f"are exported for {self.task} once the blocks are labelled content")
        return "\n".join(lines)


def export_tasks(task_name: str, data_dir: Path | str, out: Path | str,
                 doc_ids: list[str] | None = None, model: str | None = None) -> ExportReport:
    """Write Label Studio tasks for the units of ``task_name`` that lack a label.

    ``model`` is a model reference (``champion``, a folder, an MLflow URI); an alias with no
    model in the store exports without predictions and the report says why.
    """
    task = get_task(task_name)
    out = Path(out)
    if out.is_dir():  # before a model is loaded: a wrong argument should fail in a second
        raise DataError(f"--out {out}: is a folder; give the JSON file to write")
    corpus = pool.load_real(data_dir)
    todo = pool.pending(corpus, task.name, doc_ids)
    if not todo.units:
        return ExportReport(task.name, None, 0, None, None, todo.waiting)
    labeller, why = prelabel.try_load(model, task.name)
    predictions = labeller.predict([u.text for u in todo.units]) if labeller else None
    records = []
    for i, unit in enumerate(todo.units):
        guess = None
        if predictions is not None:
            label, score = predictions[i]
            guess = (label, score, labeller.version)
        records.append(label_studio.task_record(
            task.name, unit, corpus.docs[unit.doc_id].title, pool.context(corpus, unit),
            text_hash(unit.text), guess))
    if predictions is not None:
        # Stable: equal scores keep document order.
        order = sorted(range(len(records)), key=lambda i: predictions[i][1])
        records = [records[i] for i in order]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically({out: (json.dumps(records, ensure_ascii=False, indent=1) + "\n")
                      .encode("utf-8")})
    return ExportReport(task.name, out, len(records),
                        labeller.version if labeller else None, why, todo.waiting)
