"""The dataset: gold-labelled units per task and split, written to ``data/processed/`` as
Parquet with a card.

Each task's config has two splits: ``real`` (the scraped pages, the only evaluation data) and
``synthetic`` (the project's own articles, training data only), with a ``source`` column.
``load_dataset("data/processed", task, split="real")`` reads one back with plain ``datasets``;
the card's YAML (``configs`` and ``dataset_info``) is what makes that work offline with a
``ClassLabel``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .corpus import Document, load_corpus
from .labels import align, load_labels
from .schema import TASKS, get_task
from .synthetic import Agreement, agreement
from .units import Unit, blocks, sentences

DATA_DIR = Path("data")
# The real scraped pages (evaluation, and training on the other pages of a fold) and the
# project's synthetic articles (training only): the same layout under two roots.
SPLITS = ("real", "synthetic")
COLUMNS = ("id", "doc_id", "source", "text", "label", "block_id", "line", "position", "start",
           "end")


@dataclass(frozen=True)
class Example:
    unit: Unit
    label: str
    source: str = "real"


def split_root(data_dir: Path | str, split: str) -> Path:
    """``data/`` for the real pages, ``data/synthetic/`` for the synthetic ones; each holds
    ``raw/`` (pages + documents.jsonl) and ``annotations/`` (one JSONL per task)."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    return Path(data_dir) if split == "real" else Path(data_dir) / "synthetic"


def load_documents(data_dir: Path | str, split: str) -> list[Document]:
    """The verified documents of one split. A data folder without ``synthetic/`` has an empty
    synthetic split (a user's own real pages need no synthetic corpus)."""
    raw = split_root(data_dir, split) / "raw"
    if split == "synthetic" and not split_root(data_dir, split).exists():
        return []
    return load_corpus(raw, synthetic=split == "synthetic")


def gold_examples(data_dir: Path | str = DATA_DIR, docs: list[Document] | None = None,
                  split: str = "real") -> dict[str, list[Example]]:
    """Segment one split's documents and attach every task's gold labels, refusing any gap or
    mismatch.

    ``docs`` saves reading the raw folder again when the caller has loaded it.
    """
    docs = docs if docs is not None else load_documents(data_dir, split)
    if not docs:
        return {name: [] for name in TASKS}
    annotations = split_root(data_dir, split) / "annotations"
    all_blocks = [b for d in docs for b in blocks(d.id, d.text)]
    bp = align(TASKS["boilerplate"], all_blocks, load_labels(annotations, "boilerplate"))
    out = {"boilerplate": [Example(u, lab.label, split) for u, lab in bp]}
    content = [u for u, lab in bp if lab.label == "content"]
    content_ids = {u.id for u in content}
    sents = [s for d in docs for s in sentences([b for b in content if b.doc_id == d.id])]
    block_ids = {b.id for b in all_blocks}
    for name in ("stance", "claim_type"):
        pairs = align(TASKS[name], sents, load_labels(annotations, name), content_ids,
                      block_ids)
        out[name] = [Example(u, lab.label, split) for u, lab in pairs]
    return out


def all_documents(data_dir: Path | str = DATA_DIR) -> dict[str, list[Document]]:
    """{split: documents}, refusing a document id used in both splits (their units would
    share ids, and a synthetic page could pass for a real one)."""
    docs = {split: load_documents(data_dir, split) for split in SPLITS}
    shared = sorted({d.id for d in docs["real"]} & {d.id for d in docs["synthetic"]})
    if shared:
        raise DataError(f"document id {shared[0]} is used by a real and a synthetic page; ids "
                        "must be unique across data/raw and data/synthetic/raw")
    return docs


def gold_splits(data_dir: Path | str = DATA_DIR,
                docs: dict[str, list[Document]] | None = None
                ) -> dict[str, dict[str, list[Example]]]:
    """{split: {task: examples}} for both splits."""
    docs = docs if docs is not None else all_documents(data_dir)
    return {split: gold_examples(data_dir, docs[split], split) for split in SPLITS}


def _features(task_name: str):
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "id": Value("string"),
            "doc_id": Value("string"),
            "source": Value("string"),
            "text": Value("string"),
            "label": ClassLabel(names=list(TASKS[task_name].labels)),
            "block_id": Value("string"),
            "line": Value("int32"),
            "position": Value("int32"),
            "start": Value("int32"),
            "end": Value("int32"),
        }
    )


def to_columns(task_name: str, examples: list[Example]) -> dict[str, list]:
    task = TASKS[task_name]
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    for ex in examples:
        u = ex.unit
        row = (u.id, u.doc_id, ex.source, u.text, task.label_id(ex.label), u.block_id, u.line,
               u.position, u.start, u.end)
        for col, value in zip(COLUMNS, row, strict=True):
            cols[col].append(value)
    return cols


def label_counts(task_name: str, examples: list[Example]) -> dict[str, dict[str, int]]:
    """{doc_id: {label: count}} with every label of the task present, plus an ``all`` row."""
    labels = TASKS[task_name].labels
    per_doc: dict[str, Counter] = {}
    for ex in examples:
        per_doc.setdefault(ex.unit.doc_id, Counter())[ex.label] += 1
    table = {doc: {lab: c[lab] for lab in labels} for doc, c in sorted(per_doc.items())}
    table["all"] = {lab: sum(row[lab] for row in table.values()) for lab in labels}
    return table


def stats_markdown(examples: dict[str, list[Example]], per_document: bool = True) -> str:
    """Label counts per task: a row per document and an ``all`` row (only ``all`` when
    ``per_document`` is false)."""
    parts = []
    for name, exs in examples.items():
        labels = TASKS[name].labels
        table = label_counts(name, exs)
        if not per_document:
            table = {"all": table["all"]}
        lines = [f"### {name} ({TASKS[name].unit}s)", "",
                 "| document | " + " | ".join(labels) + " | total |",
                 "|---" * (len(labels) + 2) + "|"]
        for doc, row in table.items():
            doc_cell = f"**{doc}**" if doc == "all" else doc
            lines.append(f"| {doc_cell} | " + " | ".join(str(row[lab]) for lab in labels)
                         + f" | {sum(row.values())} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def splits_markdown(splits: dict[str, dict[str, list[Example]]],
                    synthetic_per_document: bool = False) -> str:
    """``stats_markdown`` of each split under a heading: the real pages document by document,
    the synthetic corpus in totals unless asked (it has a row per article)."""
    parts = []
    for split, examples in splits.items():
        n_docs = len({e.unit.doc_id for exs in examples.values() for e in exs})
        per_doc = split == "real" or synthetic_per_document
        parts.append(f"## {split} ({n_docs} documents)\n\n"
                     + stats_markdown(examples, per_document=per_doc))
    return "\n".join(parts)


def synthetic_agreement(data_dir: Path | str = DATA_DIR) -> dict[str, Agreement]:
    """{task: Agreement} of the synthetic corpus's double annotation; empty without one."""
    folder = split_root(data_dir, "synthetic") / "agreement"
    if not folder.exists():
        return {}
    annotations = split_root(data_dir, "synthetic") / "annotations"
    return {name: agreement(folder / f"{name}.jsonl", name, load_labels(annotations, name))
            for name in TASKS}


def build(data_dir: Path | str = DATA_DIR, out_dir: Path | str | None = None) -> Path:
    """Write ``processed/<task>/{real,synthetic}.parquet`` and the card; byte-identical on
    rebuild. Everything is checked before anything is written."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    from .card import dataset_card

    disable_progress_bar()
    data_dir = Path(data_dir)
    out = Path(out_dir) if out_dir is not None else data_dir / "processed"
    docs = all_documents(data_dir)
    splits = gold_splits(data_dir, docs)
    agreements = synthetic_agreement(data_dir)
    tables = {(name, split): Dataset.from_dict(to_columns(name, splits[split][name]),
                                               features=_features(name))
              for name in TASKS for split in SPLITS}
    nbytes = {name: {split: tables[name, split].data.nbytes for split in SPLITS}
              for name in TASKS}
    card = dataset_card(splits, docs, agreements, nbytes)
    for (name, split), table in tables.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(out / name / f"{split}.parquet"))
    for name in TASKS:
        # A file of an older layout (or a removed split) would be read by load_dataset.
        for stale in (out / name).glob("*.parquet"):
            if stale.stem not in SPLITS:
                stale.unlink()
    (out / "README.md").write_text(card, encoding="utf-8")
    return out


def processed_dir(data_dir: Path | str = DATA_DIR) -> Path:
    return Path(data_dir) / "processed"


def _parquet(task_name: str, split: str, data_dir: Path | str) -> Path:
    get_task(task_name)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    path = processed_dir(data_dir) / task_name / f"{split}.parquet"
    if not path.exists():
        raise DataError(f"{processed_dir(data_dir)}: dataset not built; run `cnbench data "
                        "build` first")
    return path


def load(task_name: str, data_dir: Path | str = DATA_DIR, split: str = "real"):
    """One split of the built dataset of one task as a ``datasets.Dataset``, read from its
    Parquet file.

    Read directly, not through ``load_dataset``: its cache is keyed on the folder's layout, so
    after labels change and the dataset is rebuilt it kept returning the old labels.
    """
    import pyarrow.parquet as pq
    from datasets import Dataset

    # The label names (ClassLabel) come back from the features stored in the file.
    return Dataset(pq.read_table(_parquet(task_name, split, data_dir)))


def dataset_hash(task_name: str, data_dir: Path | str = DATA_DIR) -> str:
    """sha256 (first 16 hex) of the task's Parquet files, both splits: names the exact data a
    run saw (its training and its evaluation data)."""
    digest = hashlib.sha256()
    for split in SPLITS:
        data = _parquet(task_name, split, data_dir).read_bytes()
        digest.update(f"{split}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def split_hash(task_name: str, split: str, data_dir: Path | str = DATA_DIR) -> str:
    """sha256 (first 16 hex) of one split's Parquet file (an MLflow dataset input's digest)."""
    return hashlib.sha256(_parquet(task_name, split, data_dir).read_bytes()).hexdigest()[:16]
