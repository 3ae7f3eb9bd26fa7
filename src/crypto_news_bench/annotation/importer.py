"""``cnbench annotate import``: Label Studio exports into ``data/annotations/``, all or nothing.

Every annotation is checked before anything is written: its task and label exist, its unit
exists with the text the annotator saw (the hash in the task's data), a sentence sits under a
block labelled content (counting the boilerplate labels of the same import), no annotator
labels a unit twice, and no existing label changes without ``replace``. One failure is an error
naming the export and the Label Studio task, and no file changes.

Several annotators (several exports, or several annotations per task in one export): units on
which they agree get the label, units on which they differ get none and are listed for
adjudication (``cnbench annotate export`` offers them again), and Cohen's kappa is reported per
task and pair of annotators over the units both labelled.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from ..data.corpus import write_atomically
from ..data.labels import Label, text_hash
from ..data.schema import TASKS, get_task
from ..data.synthetic import cohen_kappa
from ..errors import DataError
from . import pool
from .label_studio import Annotated, read_export

SENTENCE_TASKS = tuple(name for name, task in TASKS.items() if task.unit == "sentence")


@dataclass(frozen=True)
class PairAgreement:
    task: str
    first: str
    second: str
    n: int  # units both labelled
    kappa: float
    observed: float


@dataclass(frozen=True)
class Disagreement:
    task: str
    unit_id: str
    text: str
    labels: dict[str, str]  # annotator -> label
    where: tuple[str, ...]


@dataclass
class ImportReport:
    new: Counter = field(default_factory=Counter)
    replaced: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    removed: dict[str, list[str]] = field(default_factory=dict)  # under blocks now boilerplate
    agreement: list[PairAgreement] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        lines = []
        for name in TASKS:
            if self.new[name] or self.replaced[name] or self.unchanged[name]:
                lines.append(f"{name}: {self.new[name]} new, {self.replaced[name]} replaced, "
                             f"{self.unchanged[name]} already so labelled")
        for name, ids in self.removed.items():
            lines.append(f"{name}: removed {len(ids)} label(s) of sentences whose block is now "
                         f"boilerplate: {', '.join(ids)}")
        lines += [f"wrote {p}" for p in self.written] or ["nothing written"]
        if self.agreement:
            lines.append("agreement (Cohen's kappa over the units both annotators labelled):")
            lines += [f"  {a.task:<12} {a.first} vs {a.second}: kappa {a.kappa:.3f} on {a.n} "
                      f"units (observed agreement {a.observed:.3f})" for a in self.agreement]
        if self.disagreements:
            lines.append(f"{len(self.disagreements)} disagreement(s) to adjudicate (left "
                         "unlabelled; `cnbench annotate export` offers them again):")
            for d in self.disagreements:
                said = ", ".join(f"{who}={label}" for who, label in sorted(d.labels.items()))
                lines.append(f"  {d.task} {d.unit_id}: {said}  {d.text[:70]!r}  "
                             f"({'; '.join(d.where)})")
        return "\n".join(lines)


def _read(paths: list[Path], annotators: list[str] | None) -> list[Annotated]:
    if annotators and len(annotators) != len(paths):
        raise DataError(f"--annotator: give one name per export ({len(paths)} export(s), "
                        f"{len(annotators)} name(s))")
    return [it for i, p in enumerate(paths)
            for it in read_export(p, annotators[i] if annotators else None)]


def _check(it: Annotated, corpus: pool.Corpus) -> None:
    """One annotation against the schema and the corpus as it is now."""
    task = get_task(it.task, where=it.where)
    if it.label not in task.labels:
        raise DataError(f"{it.where}: unknown label {it.label!r} for unit {it.unit_id} in task "
                        f"{task.name!r}; valid labels: {', '.join(task.labels)}")
    unit = corpus.units(task).get(it.unit_id)
    if unit is None:
        raise DataError(f"{it.where}: unknown unit id {it.unit_id!r}: no {task.unit} of the real "
                        f"pages in {corpus.data_dir} has it")
    now = text_hash(unit.text)
    if it.text_sha256 != now:
        raise DataError(f"{it.where}: the text of unit {it.unit_id} no longer matches: the task "
                        f"was made for text with hash {it.text_sha256}, the unit now hashes to "
                        f"{now} ({unit.text[:60]!r}); export it again")


def _grouped(items: list[Annotated]) -> dict[tuple[str, str], dict[str, Annotated]]:
    """{(task, unit id): {annotator: annotation}}, refusing an annotator's second label."""
    out: dict[tuple[str, str], dict[str, Annotated]] = {}
    for it in items:
        by = out.setdefault((it.task, it.unit_id), {})
        if it.annotator in by:
            hint = ("" if it.file == by[it.annotator].file else "; if two people made these "
                    "exports, name them: --annotator A --annotator B")
            raise DataError(f"{it.where}: duplicate: unit {it.unit_id} is annotated for "
                            f"{it.task} a second time by {it.annotator} (first in "
                            f"{by[it.annotator].where}){hint}")
        by[it.annotator] = it
    return out


def _check_blocks(groups: dict, boilerplate: dict[str, str], corpus: pool.Corpus) -> None:
    """Every annotated sentence sits under a block labelled content."""
    for (name, uid), by in groups.items():
        if TASKS[name].unit != "sentence":
            continue
        where = next(iter(by.values())).where
        block = corpus.sentences[uid].block_id
        if block not in boilerplate:
            raise DataError(f"{where}: sentence {uid} is labelled for {name}, but its block "
                            f"{block} has no boilerplate label yet; import the block's label "
                            "first (or in the same import)")
        if boilerplate[block] != "content":
            raise DataError(f"{where}: sentence {uid} is labelled for {name}, but its block "
                            f"{block} is labelled boilerplate (boilerplate blocks get no "
                            "sentence labels)")


def _agreement(groups: dict, task_name: str) -> list[PairAgreement]:
    annotators = sorted({who for (name, _), by in groups.items() if name == task_name
                         for who in by})
    out = []
    for a, b in combinations(annotators, 2):
        both = [by for (name, _), by in groups.items() if name == task_name
                and a in by and b in by]
        if not both:
            continue
        first, second = [by[a].label for by in both], [by[b].label for by in both]
        same = sum(x == y for x, y in zip(first, second, strict=True))
        out.append(PairAgreement(task_name, a, b, len(both), cohen_kappa(first, second,
                                                                         task_name),
                                 same / len(both)))
    return out


def _record(uid: str, digest: str, label: str, by: dict[str, Annotated]) -> dict:
    record = {"id": uid, "text_sha256": digest, "label": label}
    notes = list(dict.fromkeys(it.note for it in by.values() if it.note))
    if notes:
        record["note"] = "; ".join(notes)
    record["annotator"] = ", ".join(sorted(by))
    return record


def _line_of(label: Label) -> int:
    return int(label.source.rsplit(":", 1)[1]) - 1


def _new_file(path: Path, existing: dict[str, Label], changed: dict[str, dict],
              dropped: set[str], added: list[dict]) -> bytes:
    """The file with ``changed`` records put in place of the old ones, ``dropped`` ones left
    out and ``added`` ones appended; every other line stays byte for byte."""
    lines = path.read_bytes().decode("utf-8").split("\n") if path.exists() else []
    for uid, record in changed.items():
        lines[_line_of(existing[uid])] = json.dumps(record, ensure_ascii=False)
    for uid in dropped:
        lines[_line_of(existing[uid])] = None
    kept = [line for line in lines if line is not None]
    while kept and not kept[-1].strip():
        kept.pop()
    text = "".join(line + "\n" for line in kept)
    text += "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in added)
    return text.encode("utf-8")


def import_exports(paths: list[Path | str], data_dir: Path | str,
                   annotators: list[str] | None = None, replace: bool = False) -> ImportReport:
    """Validate Label Studio JSON exports against the real pages and write their labels."""
    paths = [Path(p) for p in paths]
    items = _read(paths, annotators)
    corpus = pool.load_real(data_dir)
    existing = {name: pool.current_labels(data_dir, name) for name in TASKS}
    for it in items:
        _check(it, corpus)
    groups = _grouped(items)
    report = ImportReport()
    final: dict[str, dict[str, tuple[str, dict]]] = {name: {} for name in TASKS}
    for (name, uid), by in groups.items():
        labels = {who: it.label for who, it in by.items()}
        if len(set(labels.values())) > 1:
            text = corpus.units(TASKS[name])[uid].text
            report.disagreements.append(Disagreement(
                name, uid, text, labels, tuple(dict.fromkeys(it.where for it in by.values()))))
            continue
        final[name][uid] = (next(iter(labels.values())), by)
    changed: dict[str, dict[str, dict]] = {name: {} for name in TASKS}
    added: dict[str, list[dict]] = {name: [] for name in TASKS}
    for name in TASKS:
        units = corpus.units(TASKS[name])
        for uid, (label, by) in final[name].items():
            old = existing[name].get(uid)
            if old is not None and old.label == label:
                report.unchanged[name] += 1
                continue
            if old is not None and not replace:
                raise DataError(f"{next(iter(by.values())).where}: unit {uid} is already "
                                f"labelled {old.label!r} for {name} ({old.source}); the export "
                                f"says {label!r}; pass --replace to overwrite it")
            record = _record(uid, text_hash(units[uid].text), label, by)
            if old is None:
                report.new[name] += 1
                added[name].append(record)
            else:
                report.replaced[name] += 1
                changed[name][uid] = record
    boilerplate = {uid: lab.label for uid, lab in existing["boilerplate"].items()}
    boilerplate.update({uid: label for uid, (label, _) in final["boilerplate"].items()})
    _check_blocks(groups, boilerplate, corpus)
    now_boilerplate = {uid for uid in changed["boilerplate"] if boilerplate[uid] == "boilerplate"}
    dropped = {name: {sid for sid in existing[name] if sid.rsplit(":S", 1)[0] in now_boilerplate}
               for name in SENTENCE_TASKS}
    report.removed = {name: sorted(ids) for name, ids in dropped.items() if ids}
    for name in TASKS:
        report.agreement += _agreement(groups, name)
    files = {}
    for name in TASKS:
        if not (changed[name] or added[name] or dropped.get(name)):
            continue
        order = {uid: i for i, uid in enumerate(corpus.units(TASKS[name]))}
        added[name].sort(key=lambda r: order[r["id"]])
        path = pool.annotation_path(data_dir, name)
        files[path] = _new_file(path, existing[name], changed[name], dropped.get(name, set()),
                                added[name])
    if files:
        next(iter(files)).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(files)
    report.written = list(files)
    return report
