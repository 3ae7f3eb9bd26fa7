"""crypto_news_bench.data.card: the dataset card of a fresh build of the repository's data: the
YAML front matter ``datasets`` and the Hub read, the documents and label counts, the sections
people expect, and the agreement computed from the files."""

from __future__ import annotations

from pathlib import Path

import yaml

from crypto_news_bench.data import dataset
from crypto_news_bench.data.corpus import load_corpus
from crypto_news_bench.data.schema import TASKS

REPO_DATA = Path(__file__).parents[2] / "data"
TASK_NAMES = ["boilerplate", "stance", "claim_type"]


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    head, sep, _ = card[4:].partition("\n---\n")
    assert sep, "no closing --- for the YAML front matter"
    return yaml.safe_load(head)


def test_card_front_matter(real_build, real_gold):
    meta = front_matter((real_build / "README.md").read_text(encoding="utf-8"))
    assert [c["config_name"] for c in meta["configs"]] == TASK_NAMES
    for c in meta["configs"]:
        assert c["data_files"] == [
            {"split": split, "path": f"{c['config_name']}/{split}.parquet"}
            for split in ("real", "synthetic")]
    assert [i["config_name"] for i in meta["dataset_info"]] == TASK_NAMES
    for info in meta["dataset_info"]:
        task = info["config_name"]
        features = {f["name"]: f["dtype"] for f in info["features"]}
        assert list(features) == list(dataset.COLUMNS)
        assert features["text"] == "string" and features["start"] == "int32"
        assert features["label"] == {"class_label": {"names": {
            str(i): lab for i, lab in enumerate(TASKS[task].labels)}}}
        real, synthetic = info["splits"]
        assert real["name"] == "real" and synthetic["name"] == "synthetic"
        assert real["num_examples"] == len(real_gold[task])
        assert synthetic["num_examples"] == len(
            dataset.gold_examples(REPO_DATA, split="synthetic")[task])


def test_card_lists_the_documents_and_counts(real_build):
    card = (real_build / "README.md").read_text(encoding="utf-8")
    for doc in load_corpus(REPO_DATA / "raw"):
        assert f"| {doc.id} | {doc.publisher} | {doc.title} |" in card
        assert f"`{doc.sha256[:16]}`" in card
    splits = dataset.gold_splits(REPO_DATA)
    for name, task in TASKS.items():
        for lab in task.labels:
            real, synthetic = (sum(e.label == lab for e in splits[s][name])
                               for s in ("real", "synthetic"))
            assert f"| {name} | `{lab}` | {real} | {synthetic} |" in card
    assert not [line for line in card.splitlines() if line != line.rstrip()]


def test_card_has_the_sections_people_expect(real_build):
    card = (real_build / "README.md").read_text(encoding="utf-8")
    headings = [line for line in card.splitlines() if line.startswith("#")]
    for heading in ("## Dataset summary", "## Languages", "## Dataset structure",
                    "## Label counts", "## Dataset creation", "### Curation rationale",
                    "### Source data: the real pages", "### The synthetic corpus",
                    "## Annotations", "### Annotation process", "### Agreement",
                    "## Diversity of the synthetic corpus",
                    "## Personal and sensitive information", "## Bias and limitations",
                    "## Licensing", "## Citation"):
        assert heading in headings
    assert "They are fiction" in card
    assert "No invented quotation of a real, named person" in card


def test_card_reports_the_agreement_computed_from_the_files(real_build):
    card = (real_build / "README.md").read_text(encoding="utf-8")
    agreements = dataset.synthetic_agreement(REPO_DATA)
    assert sorted(agreements) == sorted(TASK_NAMES)
    for name, a in agreements.items():
        assert f"| {name} | {a.n} | {a.kappa:.3f} | {a.observed:.3f} |" in card
        assert a.kappa >= 0.8, (name, a.kappa)
    docs = {d.id for d in dataset.load_documents(REPO_DATA, "synthetic")}
    double = set(agreements["boilerplate"].documents)
    assert double <= docs and len(double) >= 0.3 * len(docs)
