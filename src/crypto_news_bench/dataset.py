"""The dataset: gold-labelled units per task, written to ``data/processed/`` as Parquet with a card.

``load_dataset("data/processed", task)`` reads it back with plain ``datasets``; the card's YAML
(``configs`` and ``dataset_info``) is what makes that work offline with a ``ClassLabel``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from .corpus import Document, load_corpus
from .errors import DataError
from .labels import align, load_labels
from .schema import TASKS
from .units import Unit, blocks, sentences

DATA_DIR = Path("data")
COLUMNS = ("id", "doc_id", "text", "label", "block_id", "line", "position", "start", "end")


@dataclass(frozen=True)
class Example:
    unit: Unit
    label: str


def gold_examples(data_dir: Path | str = DATA_DIR,
                  docs: list[Document] | None = None) -> dict[str, list[Example]]:
    """Segment the corpus and attach every task's gold labels, refusing any gap or mismatch.

    ``docs`` saves reading the raw folder again when the caller has loaded it.
    """
    data_dir = Path(data_dir)
    docs = docs if docs is not None else load_corpus(data_dir / "raw")
    annotations = data_dir / "annotations"
    all_blocks = [b for d in docs for b in blocks(d.id, d.text)]
    bp = align(TASKS["boilerplate"], all_blocks, load_labels(annotations, "boilerplate"))
    out = {"boilerplate": [Example(u, lab.label) for u, lab in bp]}
    content = [u for u, lab in bp if lab.label == "content"]
    content_ids = {u.id for u in content}
    sents = [s for d in docs for s in sentences([b for b in content if b.doc_id == d.id])]
    for name in ("stance", "claim_type"):
        pairs = align(TASKS[name], sents, load_labels(annotations, name), content_ids)
        out[name] = [Example(u, lab.label) for u, lab in pairs]
    return out


def _features(task_name: str):
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "id": Value("string"),
            "doc_id": Value("string"),
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
        row = (u.id, u.doc_id, u.text, task.label_id(ex.label), u.block_id, u.line, u.position,
               u.start, u.end)
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


def stats_markdown(examples: dict[str, list[Example]]) -> str:
    parts = []
    for name, exs in examples.items():
        labels = TASKS[name].labels
        table = label_counts(name, exs)
        lines = [f"### {name} ({TASKS[name].unit}s)", "",
                 "| document | " + " | ".join(labels) + " | total |",
                 "|---" * (len(labels) + 2) + "|"]
        for doc, row in table.items():
            doc_cell = f"**{doc}**" if doc == "all" else doc
            lines.append(f"| {doc_cell} | " + " | ".join(str(row[lab]) for lab in labels)
                         + f" | {sum(row.values())} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _card(examples: dict[str, list[Example]], docs: list[Document],
          nbytes: dict[str, int]) -> str:
    meta = {
        "language": ["en"],
        "license": "other",
        "pretty_name": "crypto-news-bench",
        "task_categories": ["text-classification"],
        "size_categories": ["n<1K"],
        "configs": [
            {"config_name": name,
             "data_files": [{"split": "train", "path": f"{name}/train.parquet"}]}
            for name in examples
        ],
        "dataset_info": [
            {
                "config_name": name,
                "features": [
                    {"name": c, "dtype": "string"} if c in ("id", "doc_id", "text", "block_id")
                    else {"name": c, "dtype": "int32"} if c != "label"
                    else {"name": "label", "dtype": {"class_label": {"names": {
                        str(i): lab for i, lab in enumerate(TASKS[name].labels)}}}}
                    for c in COLUMNS
                ],
                "splits": [{"name": "train", "num_bytes": nbytes[name],
                            "num_examples": len(exs)}],
            }
            for name, exs in examples.items()
        ],
    }
    doc_rows = "\n".join(
        f"| {d.id} | {d.publisher} | {d.title} | {d.url or '(not shown)'} | "
        f"{d.published or '(not shown)'} | `{d.sha256[:16]}` |"
        for d in docs
    )
    return f"""---
{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)}---

# crypto-news-bench

Three scraped news pages about the crypto exchange Binance, segmented into blocks (lines) and
sentences and labelled by hand for three tasks. Built by `cnbench data build` from `data/raw/`
and `data/annotations/`; the guidelines are in `data/GUIDELINES.md`. Do not edit these files by
hand: a test rebuilds them and fails if they differ.

```python
from datasets import load_dataset
ds = load_dataset("data/processed", "stance")["train"]
ds.features["label"].names  # ['promotional', 'critical', 'neutral']
```

After labels change and the dataset is rebuilt, add `download_mode="force_redownload"`: the
`datasets` cache does not notice a rebuilt file and returns the old rows.

## Tasks

""" + "\n".join(f"- `{t.name}` ({t.unit}s): {t.description} Labels: "
                + ", ".join(f"`{lab}`" for lab in t.labels) for t in TASKS.values()) + f"""

Each config has one split, `train`, holding every gold unit. The evaluation protocol is
leave-one-document-out: `crypto_news_bench.folds.lodo_folds` yields one train/test split per
held-out document. Columns: `id` (`<doc>:L<line>` for a block, `<doc>:L<line>:S<n>` for a
sentence), `doc_id`, `text`, `label`, `block_id` (the enclosing block), `line` (1-based line in
the raw file), `position` (index among the document's units of that kind), `start`/`end`
(character offsets: `raw_text[start:end] == text`).

## Source documents

| id | publisher | title | URL | published | sha256 |
|---|---|---|---|---|---|
{doc_rows}

## Label counts

{stats_markdown(examples)}
## Known limits

- Three documents: leave-one-document-out folds have one document as test set, so per-fold
  scores are noisy and each page's own topic and stance profile dominates its fold.
- A photo caption in document 000 repeats a body paragraph word for word, and document 002
  repeats its headline under the byline: the same text carries both boilerplate labels.
"""


def build(data_dir: Path | str = DATA_DIR, out_dir: Path | str | None = None) -> Path:
    """Write ``processed/<task>/train.parquet`` and the card; byte-identical on rebuild."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    data_dir = Path(data_dir)
    out = Path(out_dir) if out_dir is not None else data_dir / "processed"
    docs = load_corpus(data_dir / "raw")
    examples = gold_examples(data_dir, docs)
    nbytes = {}
    for name, exs in examples.items():
        target = out / name / "train.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        table = Dataset.from_dict(to_columns(name, exs), features=_features(name))
        table.to_parquet(str(target))
        nbytes[name] = table.data.nbytes
    (out / "README.md").write_text(_card(examples, docs, nbytes), encoding="utf-8")
    return out


def processed_dir(data_dir: Path | str = DATA_DIR) -> Path:
    return Path(data_dir) / "processed"


def load(task_name: str, data_dir: Path | str = DATA_DIR):
    """The built dataset of one task as a ``datasets.Dataset``, read from its Parquet file.

    Read directly, not through ``load_dataset``: its cache is keyed on the folder's layout, so
    after labels change and the dataset is rebuilt it kept returning the old labels.
    """
    import pyarrow.parquet as pq
    from datasets import Dataset

    if task_name not in TASKS:
        raise DataError(f"unknown task {task_name!r}; valid tasks: {', '.join(TASKS)}")
    path = processed_dir(data_dir) / task_name / "train.parquet"
    if not path.exists():
        raise DataError(f"{processed_dir(data_dir)}: dataset not built; run `cnbench data "
                        "build` first")
    # The label names (ClassLabel) come back from the features stored in the file.
    return Dataset(pq.read_table(path))


def dataset_hash(task_name: str, data_dir: Path | str = DATA_DIR) -> str:
    """sha256 (first 16 hex) of the task's Parquet file: names the exact data a run saw."""
    path = processed_dir(data_dir) / task_name / "train.parquet"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
