"""The units of the real pages, the labels they already have, and what each task still needs.

A block needs a ``boilerplate`` label; a sentence needs ``stance`` and ``claim_type`` labels only
when its block is labelled ``content`` (GUIDELINES.md: boilerplate blocks get no sentence
labels), so the sentences of a block without a boilerplate label wait until it has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.corpus import Document
from ..data.dataset import load_documents, split_root
from ..data.labels import Label, read_label_file
from ..data.schema import TASKS, Task, get_task
from ..data.units import Unit, blocks, sentences
from ..errors import DataError


@dataclass(frozen=True)
class Corpus:
    """Every unit of the real pages: blocks, and the sentences of every block whatever its
    label (an import may label a block content and its sentences at once)."""

    data_dir: Path
    docs: dict[str, Document]
    blocks: dict[str, Unit]
    sentences: dict[str, Unit]

    def units(self, task: Task) -> dict[str, Unit]:
        return self.blocks if task.unit == "block" else self.sentences


@dataclass(frozen=True)
class Pending:
    """The units of one task that lack a label, in document order, and per document the blocks
    whose missing boilerplate label keeps their sentences back (sentence tasks only)."""

    units: list[Unit]
    waiting: dict[str, int] = field(default_factory=dict)


def load_real(data_dir: Path | str) -> Corpus:
    """The real pages of ``data_dir``, verified (metadata, sha256) and segmented."""
    docs = {d.id: d for d in load_documents(data_dir, "real")}
    bl = {b.id: b for d in docs.values() for b in blocks(d.id, d.text)}
    se = {s.id: s for d in docs.values() for s in sentences(blocks(d.id, d.text))}
    return Corpus(Path(data_dir), docs, bl, se)


def annotation_path(data_dir: Path | str, task_name: str) -> Path:
    return split_root(data_dir, "real") / "annotations" / f"{task_name}.jsonl"


def current_labels(data_dir: Path | str, task_name: str) -> dict[str, Label]:
    """The task's labels as its file holds them; none yet when there is no file."""
    path = annotation_path(data_dir, task_name)
    return read_label_file(path, TASKS[task_name]) if path.exists() else {}


def content_blocks(boilerplate: dict[str, str]) -> set[str]:
    """The block ids labelled ``content``, from {block id: label}."""
    return {uid for uid, label in boilerplate.items() if label == "content"}


def select_docs(corpus: Corpus, doc_ids: list[str] | None) -> list[str]:
    """The requested document ids (all real pages when none), refusing an unknown one."""
    if not doc_ids:
        return sorted(corpus.docs)
    unknown = [d for d in doc_ids if d not in corpus.docs]
    if unknown:
        raise DataError(f"--docs: unknown document {unknown[0]!r}; real documents: "
                        f"{', '.join(sorted(corpus.docs))}")
    return list(dict.fromkeys(doc_ids))


def pending(corpus: Corpus, task_name: str, doc_ids: list[str] | None = None) -> Pending:
    """The units of ``task_name`` in the given documents that have no label yet."""
    task = get_task(task_name)
    wanted = set(select_docs(corpus, doc_ids))
    labelled = current_labels(corpus.data_dir, task.name)
    if task.unit == "block":
        return Pending([b for b in corpus.blocks.values()
                        if b.doc_id in wanted and b.id not in labelled])
    boilerplate = {uid: lab.label for uid, lab in current_labels(corpus.data_dir,
                                                                  "boilerplate").items()}
    content = content_blocks(boilerplate)
    waiting: dict[str, int] = {}
    for b in corpus.blocks.values():
        if b.doc_id in wanted and b.id not in boilerplate:
            waiting[b.doc_id] = waiting.get(b.doc_id, 0) + 1
    units = [s for s in corpus.sentences.values()
             if s.doc_id in wanted and s.block_id in content and s.id not in labelled]
    return Pending(units, waiting)


def context(corpus: Corpus, unit: Unit) -> str:
    """What an annotator reads around the unit (GUIDELINES.md: many decisions depend on it).

    A block: its neighbours on the page, the block itself marked. A sentence: the block before
    its own, then its own block, whose other sentences decide fragments and contrasts.
    """
    page = [b for b in corpus.blocks.values() if b.doc_id == unit.doc_id]
    at = next(i for i, b in enumerate(page) if b.id == unit.block_id)
    if unit.kind == "block":
        shown = page[max(at - 1, 0):at + 2]
        return "\n".join(f"{'>> ' if b.id == unit.id else ''}L{b.line}: {b.text}" for b in shown)
    shown = page[max(at - 1, 0):at + 1]
    return "\n".join(f"L{b.line}: {b.text}" for b in shown)
