"""The synthetic corpus's annotation record: double annotation, adjudication and agreement.

Every synthetic page was labelled by someone other than its writer. A subset was labelled a
second time, independently; ``data/synthetic/agreement/<task>.jsonl`` keeps both labels of each
unit of that subset and the adjudicated one:

    {"id": ..., "text_sha256": ..., "first": LABEL, "second": LABEL, "final": LABEL, "note": ...}

``first`` or ``second`` is null for a sentence that only one annotator labelled (the other
took its block for boilerplate). Every disagreement carries a note saying how it was settled,
and so does a gold label that a later review set against both annotators; ``final`` must be
the label in the gold file. Cohen's kappa per task is computed here from
the units both annotators labelled, so the dataset card's figure always matches the files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .corpus import read_jsonl
from .labels import Label
from .schema import TASKS

AGREEMENT_KEYS = {"id", "text_sha256", "first", "second", "final", "note"}


@dataclass(frozen=True)
class Agreement:
    task: str
    documents: tuple[str, ...]  # the double-annotated documents
    n: int  # units both annotators labelled
    kappa: float
    observed: float  # share of those units with the same label
    disagreements: int  # units adjudicated (both labelled, labels differ)
    single: int  # units only one annotator labelled


def doc_of(unit_id: str) -> str:
    return unit_id.split(":", 1)[0]


def read_agreement(path: Path, task_name: str, gold: dict[str, Label]) -> list[dict]:
    """The records of one task's agreement file, each checked against the schema and the gold.

    ``gold`` is the task's checked gold labels ({unit id: Label}); an agreement record for a
    unit without gold, or whose final label is not the gold one, is an error.
    """
    task = TASKS[task_name]
    records, seen = [], {}
    for where, rec in read_jsonl(path):
        missing = {"id", "text_sha256", "first", "second", "final"} - rec.keys()
        if missing:
            raise DataError(f"{where}: missing key(s) {', '.join(sorted(missing))}")
        extra = rec.keys() - AGREEMENT_KEYS
        if extra:
            raise DataError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; allowed: "
                            f"{', '.join(sorted(AGREEMENT_KEYS))}")
        uid = rec["id"]
        if uid in seen:
            raise DataError(f"{where}: duplicate id {uid} (first at {seen[uid]})")
        seen[uid] = where
        for key in ("first", "second", "final"):
            value = rec[key]
            if value is None and key != "final":
                continue
            if value not in task.labels:
                raise DataError(f"{where}: unknown {key} label {value!r} for unit {uid} in task "
                                f"{task_name!r}; valid labels: {', '.join(task.labels)}")
        if rec["first"] is None and rec["second"] is None:
            raise DataError(f"{where}: unit {uid} has neither a first nor a second label")
        label = gold.get(uid)
        if label is None:
            raise DataError(f"{where}: unit {uid} is in the agreement file but has no gold "
                            f"{task_name!r} label")
        if rec["text_sha256"] != label.text_sha256:
            raise DataError(f"{where}: text hash {rec['text_sha256']} of {uid} differs from its "
                            f"gold label's ({label.text_sha256} at {label.source})")
        if rec["final"] != label.label:
            raise DataError(f"{where}: adjudicated label {rec['final']!r} of {uid} is not its "
                            f"gold label {label.label!r} ({label.source})")
        given = [rec[k] for k in ("first", "second") if rec[k] is not None]
        if not str(rec.get("note") or "").strip():
            if len(set(given)) > 1:
                raise DataError(f"{where}: the annotators disagree on {uid} ({rec['first']} vs "
                                f"{rec['second']}); the adjudication needs a note")
            if rec["final"] not in given:
                who = "both annotators" if len(given) == 2 else "its annotator"
                raise DataError(f"{where}: the gold label {rec['final']} of {uid} overrules "
                                f"{who} ({given[0]}); the review needs a note")
        records.append(rec)
    return records


def cohen_kappa(first: list[str], second: list[str], task_name: str) -> float:
    """Cohen's kappa of two annotators' labels for the same units, in the same order.

    The one place the project computes it: the synthetic corpus's double annotation and
    ``cnbench annotate import`` of two annotators' exports both come here.
    """
    from sklearn.metrics import cohen_kappa_score

    if len(first) != len(second):
        raise ValueError(f"{len(first)} labels against {len(second)}: kappa needs pairs")
    # Kappa is undefined when both annotators used one label throughout: report 1.0 then.
    if len(set(first) | set(second)) <= 1:
        return 1.0
    return float(cohen_kappa_score(first, second, labels=list(TASKS[task_name].labels)))


def agreement(path: Path, task_name: str, gold: dict[str, Label]) -> Agreement:
    """Cohen's kappa of the two independent annotations of one task, from its agreement file.

    Every gold unit of a double-annotated document must be in the file, so no unit of the
    subset can be left out of the figure.
    """
    if not path.exists():
        raise DataError(f"{path}: agreement file for task {task_name!r} not found")
    records = read_agreement(path, task_name, gold)
    docs = sorted({doc_of(r["id"]) for r in records})
    listed = {r["id"] for r in records}
    left_out = sorted(uid for uid in gold if doc_of(uid) in set(docs) and uid not in listed)
    if left_out:
        raise DataError(f"{path}: {len(left_out)} gold unit(s) of double-annotated documents "
                        f"are missing, e.g. {left_out[0]}")
    both = [r for r in records if r["first"] is not None and r["second"] is not None]
    first = [r["first"] for r in both]
    second = [r["second"] for r in both]
    same = sum(a == b for a, b in zip(first, second, strict=True))
    kappa = cohen_kappa(first, second, task_name)
    return Agreement(
        task=task_name, documents=tuple(docs), n=len(both), kappa=kappa,
        observed=same / len(both) if both else float("nan"),
        disagreements=len(both) - same, single=len(records) - len(both),
    )


def stance_profile(counts: Counter) -> str:
    """A document's stance profile from its labelled sentences.

    ``passing`` when under a quarter of its sentences take a side (the exchange appears in
    passing, or not as the subject), else ``critical`` or ``promotional`` when that side has
    at least twice the sentences of the other, else ``balanced``.
    """
    pro, crit = counts.get("promotional", 0), counts.get("critical", 0)
    total = sum(counts.values())
    if total == 0 or (pro + crit) / total < 0.25:
        return "passing"
    if crit >= 2 * pro:
        return "critical"
    if pro >= 2 * crit:
        return "promotional"
    return "balanced"
