"""The dataset card of ``data/processed/``: YAML metadata that ``datasets`` and the Hub read,
prose that people read, built with ``huggingface_hub.DatasetCard`` from a Jinja2 template.

Every figure on the card (counts, agreement, diversity) is computed here from the files, so the
card cannot drift from the data; a test rebuilds it and compares.
"""

from __future__ import annotations

from collections import Counter
from importlib.resources import files

from .corpus import OUTLET_TYPES, Document
from .schema import TASKS
from .synthetic import Agreement, stance_profile

TEMPLATE = "templates/dataset_card.md"
PROFILES = ("critical", "promotional", "balanced", "passing")


def _features(task: str) -> list[dict]:
    strings = ("id", "doc_id", "source", "text", "block_id")
    from .dataset import COLUMNS

    return [
        {"name": c, "dtype": "string"} if c in strings
        else {"name": c, "dtype": {"class_label": {"names": {
            str(i): lab for i, lab in enumerate(TASKS[task].labels)}}}} if c == "label"
        else {"name": c, "dtype": "int32"}
        for c in COLUMNS
    ]


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "n>100K"


def card_data(splits: dict, nbytes: dict[str, dict[str, int]]):
    """The YAML header: ``configs`` with the two splits of each task, and ``dataset_info`` with
    the ``ClassLabel`` names, which is what lets ``load_dataset`` work offline."""
    from huggingface_hub import DatasetCardData

    total = max(sum(len(splits[s][t]) for s in splits) for t in TASKS)
    return DatasetCardData(
        language=["en"],
        license="other",
        license_name="mixed",
        license_details="Scraped pages: their publishers' copyright, included for research "
                        "(see Licensing). Synthetic articles, labels and code: MIT.",
        pretty_name="crypto-news-bench",
        annotations_creators=["machine-generated"],
        language_creators=["found", "machine-generated"],
        multilinguality=["monolingual"],
        task_categories=["text-classification"],
        task_ids=["sentiment-classification", "multi-class-classification"],
        size_categories=[_size_category(total)],
        source_datasets=["original"],
        configs=[
            {"config_name": name,
             "data_files": [{"split": split, "path": f"{name}/{split}.parquet"}
                            for split in splits]}
            for name in TASKS
        ],
        dataset_info=[
            {"config_name": name, "features": _features(name),
             "splits": [{"name": split, "num_bytes": nbytes[name][split],
                         "num_examples": len(splits[split][name])} for split in splits]}
            for name in TASKS
        ],
    )


def _count_rows(splits: dict) -> list[dict]:
    """Label counts per task, label and split."""
    rows = []
    for name, task in TASKS.items():
        for label in task.labels:
            rows.append({"task": name, "label": label, **{
                split: sum(e.label == label for e in splits[split][name]) for split in splits}})
    return rows


def _document_rows(splits: dict, docs: dict[str, list[Document]]) -> list[dict]:
    """One row per document: its source, outlet, blocks, and its sentences' label counts."""
    rows = []
    for split, split_docs in docs.items():
        counts = {name: {} for name in TASKS}
        for name in TASKS:
            for e in splits[split][name]:
                counts[name].setdefault(e.unit.doc_id, Counter())[e.label] += 1
        for d in split_docs:
            stance = counts["stance"].get(d.id, Counter())
            rows.append({
                "id": d.id, "source": split, "outlet": d.outlet_type or "(scraped)",
                "content": counts["boilerplate"].get(d.id, Counter())["content"],
                "boilerplate": counts["boilerplate"].get(d.id, Counter())["boilerplate"],
                "stance": stance, "profile": stance_profile(stance),
                "claim": counts["claim_type"].get(d.id, Counter()),
            })
    return rows


def _diversity(rows: list[dict]) -> dict:
    synthetic = [r for r in rows if r["source"] == "synthetic"]
    by_outlet = {o: Counter(r["profile"] for r in synthetic if r["outlet"] == o)
                 for o in OUTLET_TYPES}
    claim_docs = {lab: sum(r["claim"][lab] > 0 for r in synthetic)
                  for lab in TASKS["claim_type"].labels}
    # Sentences of each claim type in the documents of each stance profile.
    claim_by_profile = {p: Counter() for p in PROFILES}
    for r in synthetic:
        claim_by_profile[r["profile"]].update(r["claim"])
    sizes = sorted(r["content"] + r["boilerplate"] for r in synthetic)
    return {"by_outlet": {o: c for o, c in by_outlet.items() if c},
            "profiles": Counter(r["profile"] for r in synthetic), "claim_docs": claim_docs,
            "claim_by_profile": claim_by_profile,
            "n": len(synthetic), "min_blocks": sizes[0] if sizes else 0,
            "max_blocks": sizes[-1] if sizes else 0,
            "median_blocks": sizes[len(sizes) // 2] if sizes else 0,
            "templates": len({r["id"] for r in synthetic})}


def dataset_card(splits: dict, docs: dict[str, list[Document]],
                 agreements: dict[str, Agreement], nbytes: dict[str, dict[str, int]]) -> str:
    """The README.md of ``data/processed/``."""
    from huggingface_hub import DatasetCard

    rows = _document_rows(splits, docs)
    templates = sorted({d.template for d in docs["synthetic"] if d.template})
    double = sorted({doc for a in agreements.values() for doc in a.documents})
    card = DatasetCard.from_template(
        card_data(splits, nbytes),
        template_str=files("crypto_news_bench").joinpath(TEMPLATE).read_text(encoding="utf-8"),
        tasks=list(TASKS.values()), split_names=list(splits), counts=_count_rows(splits),
        totals={split: {name: len(exs) for name, exs in splits[split].items()}
                for split in splits},
        real_docs=docs["real"], synthetic_docs=docs["synthetic"], rows=rows,
        diversity=_diversity(rows), n_templates=len(templates), agreements=agreements,
        double_annotated=double, profiles=PROFILES,
        claim_labels=TASKS["claim_type"].labels, stance_labels=TASKS["stance"].labels,
    )
    return str(card).rstrip("\n") + "\n"
