"""crypto_news_bench.data.dataset: gold examples, the Parquet build of both splits, loading
back, and ``cnbench data stats`` / ``data build`` (the card: test_card.py)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from crypto_news_bench.cli import main
from crypto_news_bench.data import dataset
from crypto_news_bench.data.corpus import load_corpus
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks, sentences
from crypto_news_bench.errors import DataError

REPO_DATA = Path(__file__).parents[2] / "data"
TASK_NAMES = ["boilerplate", "stance", "claim_type"]


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def annotation_records(data_dir: Path, task: str) -> list[dict]:
    path = data_dir / "annotations" / f"{task}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


@pytest.fixture
def hf_offline(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE=1 and a private datasets cache: nothing reaches the network or ~/.cache."""
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # datasets reads these at import time, so set its module-level copies as well.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    return datasets


# --- the gold set -----------------------------------------------------------------------


def test_real_gold_covers_every_unit(real_gold):
    docs = load_corpus(REPO_DATA / "raw")
    all_blocks = [b for d in docs for b in blocks(d.id, d.text)]
    bp_labels = {r["id"]: r["label"] for r in annotation_records(REPO_DATA, "boilerplate")}
    assert [e.unit.id for e in real_gold["boilerplate"]] == [b.id for b in all_blocks]
    assert set(bp_labels) == {b.id for b in all_blocks}
    assert [e.label for e in real_gold["boilerplate"]] == [bp_labels[b.id] for b in all_blocks]

    content = [b for b in all_blocks if bp_labels[b.id] == "content"]
    assert content and len(content) < len(all_blocks)
    sent_ids = [s.id for d in docs for s in sentences([b for b in content if b.doc_id == d.id])]
    for task in ("stance", "claim_type"):
        records = annotation_records(REPO_DATA, task)
        assert [e.unit.id for e in real_gold[task]] == sent_ids
        assert len(records) == len(sent_ids) == len({r["id"] for r in records})
        by_id = {r["id"]: r["label"] for r in records}
        assert [e.label for e in real_gold[task]] == [by_id[i] for i in sent_ids]
        assert all(e.unit.block_id in {b.id for b in content} for e in real_gold[task])


def test_real_gold_uses_only_schema_labels_and_all_three_documents(real_gold):
    for task, exs in real_gold.items():
        assert {e.label for e in exs} <= set(TASKS[task].labels)
        assert len({e.unit.doc_id for e in exs}) == 3, task
    assert sorted(real_gold) == sorted(TASK_NAMES)


def test_to_columns_uses_label_ids(tiny_data_dir):
    gold = dataset.gold_examples(tiny_data_dir)
    cols = dataset.to_columns("boilerplate", gold["boilerplate"])
    assert tuple(cols) == dataset.COLUMNS
    assert cols["label"] == [1, 0, 0, 0, 1, 0, 1]
    assert cols["id"][3] == "a01:L5" and cols["line"][3] == 5
    assert cols["start"][3] == cols["end"][3] - len("Regulators opened an inquiry.")


def test_label_counts_has_every_label_and_an_all_row(tiny_data_dir):
    gold = dataset.gold_examples(tiny_data_dir)
    table = dataset.label_counts("claim_type", gold["claim_type"])
    assert list(table) == ["a01", "b02", "all"]
    assert table["a01"] == {"legal_regulatory": 1, "quantity": 1, "self_assertion": 1,
                            "reported_event": 1, "opinion": 0, "no_claim": 0}
    assert table["all"]["opinion"] == 1 and table["all"]["no_claim"] == 0


# --- the build --------------------------------------------------------------------------


BUILT_FILES = ["README.md"] + [f"{t}/{s}.parquet" for t in sorted(TASK_NAMES)
                               for s in ("real", "synthetic")]


def test_build_twice_is_byte_identical(real_build, tmp_path):
    first = files_under(real_build)
    assert sorted(first) == BUILT_FILES
    again = dataset.build(REPO_DATA, tmp_path / "again")
    assert files_under(again) == first
    dataset.build(REPO_DATA, real_build)  # over an existing build
    assert files_under(real_build) == first


def test_committed_processed_data_equals_a_fresh_build(real_build):
    committed = files_under(REPO_DATA / "processed")
    fresh = files_under(real_build)
    assert sorted(committed) == sorted(fresh)
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert not stale, f"data/processed/ differs from a fresh build in {stale}; " \
                      "run `cnbench data build` (never edit these files by hand)"


def test_build_defaults_to_processed_under_the_data_dir(tiny_data_dir):
    out = dataset.build(tiny_data_dir)
    assert out == tiny_data_dir / "processed"
    real = (out / "stance" / "real.parquet").read_bytes()
    synthetic = (out / "stance" / "synthetic.parquet").read_bytes()
    assert dataset.split_hash("stance", "real", tiny_data_dir) == \
        hashlib.sha256(real).hexdigest()[:16]
    # The run's data hash covers both splits: what it trains on and what it is scored on.
    both = hashlib.sha256(b"real:%d:" % len(real) + real
                          + b"synthetic:%d:" % len(synthetic) + synthetic).hexdigest()[:16]
    assert dataset.dataset_hash("stance", tiny_data_dir) == both


def test_build_removes_files_of_an_older_layout(tiny_data_dir):
    old = tiny_data_dir / "processed" / "stance" / "train.parquet"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"stale")
    dataset.build(tiny_data_dir)
    assert not old.exists()
    assert sorted(files_under(tiny_data_dir / "processed")) == BUILT_FILES


def test_build_refuses_bad_labels(tiny_data_dir, tmp_path):
    (tiny_data_dir / "annotations" / "stance.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="5 unit\\(s\\) with no 'stance' label"):
        dataset.build(tiny_data_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "stance").exists()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_load_dataset_reads_the_build_offline(real_build, real_gold, hf_offline, task):
    ds = hf_offline.load_dataset(str(real_build), task, split="real")
    label = ds.features["label"]
    assert isinstance(label, hf_offline.ClassLabel)
    assert label.names == list(TASKS[task].labels)
    assert ds.column_names == list(dataset.COLUMNS)
    assert set(ds["source"]) == {"real"}
    exs = real_gold[task]
    assert ds.num_rows == len(exs)
    assert ds["id"] == [e.unit.id for e in exs]
    assert ds["text"] == [e.unit.text for e in exs]
    assert ds["doc_id"] == [e.unit.doc_id for e in exs]
    assert [label.int2str(i) for i in ds["label"]] == [e.label for e in exs]
    assert ds["start"] == [e.unit.start for e in exs]
    assert ds["end"] == [e.unit.end for e in exs]
    assert ds["line"] == [e.unit.line for e in exs]
    assert ds["block_id"] == [e.unit.block_id for e in exs]


@pytest.mark.parametrize("task", TASK_NAMES)
def test_load_dataset_reads_the_synthetic_split_offline(real_build, hf_offline, task):
    gold = dataset.gold_examples(REPO_DATA, split="synthetic")[task]
    ds = hf_offline.load_dataset(str(real_build), task, split="synthetic")
    assert ds.features["label"].names == list(TASKS[task].labels)
    assert ds.num_rows == len(gold) > 0
    assert set(ds["source"]) == {"synthetic"}
    assert ds["id"] == [e.unit.id for e in gold]
    assert [ds.features["label"].int2str(i) for i in ds["label"]] == [e.label for e in gold]
    real_docs = {d.id for d in load_corpus(REPO_DATA / "raw")}
    assert not set(ds["doc_id"]) & real_docs


def test_tiny_synthetic_split_has_its_own_units(tiny_synthetic_data_dir):
    dataset.build(tiny_synthetic_data_dir)
    synthetic = dataset.load("boilerplate", tiny_synthetic_data_dir, "synthetic")
    real = dataset.load("boilerplate", tiny_synthetic_data_dir, "real")
    assert synthetic["id"] == ["s01:L1", "s01:L2", "s01:L3", "s01:L4", "s02:L1", "s02:L2",
                               "s02:L3", "s02:L4"]
    assert set(synthetic["source"]) == {"synthetic"} and set(real["source"]) == {"real"}
    assert real.num_rows == 7
    stance = dataset.load("stance", tiny_synthetic_data_dir, "synthetic")
    assert stance["id"] == ["s01:L2:S1", "s01:L3:S1", "s01:L3:S2", "s02:L2:S1", "s02:L3:S1"]


def test_a_document_id_in_both_splits_is_refused(tiny_data_dir):
    from conftest import TINY_DOCS, build_tiny_data

    build_tiny_data(tiny_data_dir / "synthetic", {"a01": TINY_DOCS["a01"]}, set(),
                    synthetic=True)
    with pytest.raises(DataError, match="document id a01 is used by a real and a synthetic "
                                        "page"):
        dataset.build(tiny_data_dir)


def test_dataset_load_unknown_split(tiny_data_dir):
    dataset.build(tiny_data_dir)
    with pytest.raises(DataError, match="unknown split 'train'; valid splits: real, synthetic"):
        dataset.load("stance", tiny_data_dir, "train")


def test_dataset_load_reads_a_built_data_dir(tiny_data_dir, hf_offline):
    dataset.build(tiny_data_dir)
    ds = dataset.load("boilerplate", tiny_data_dir)
    assert ds["id"] == ["a01:L1", "a01:L2", "a01:L3", "a01:L5", "b02:L1", "b02:L2", "b02:L3"]
    assert ds.features["label"].names == ["content", "boilerplate"]


def test_dataset_load_sees_labels_changed_and_rebuilt(tiny_data_dir, jsonl):
    """An edited label, rebuilt, is what the next load returns (load_dataset's cache kept
    the old one)."""
    dataset.build(tiny_data_dir)
    before = dataset.load("stance", tiny_data_dir)
    path = tiny_data_dir / "annotations" / "stance.jsonl"
    records = jsonl.read(path)
    names = TASKS["stance"].labels
    old = records[0]["label"]
    records[0]["label"] = names[(names.index(old) + 1) % len(names)]
    jsonl.write(path, records)
    dataset.build(tiny_data_dir)
    after = dataset.load("stance", tiny_data_dir)
    label = after.features["label"]
    assert before["id"][0] == after["id"][0] == records[0]["id"]
    assert label.int2str(before["label"][0]) == old
    assert label.int2str(after["label"][0]) == records[0]["label"]
    assert after["label"][1:] == before["label"][1:]


def test_dataset_load_unbuilt_folder(tiny_data_dir):
    with pytest.raises(DataError) as err:
        dataset.load("stance", tiny_data_dir)
    assert str(err.value) == (f"{tiny_data_dir / 'processed'}: dataset not built; "
                              "run `cnbench data build` first")


def test_dataset_load_unknown_task(tiny_data_dir):
    with pytest.raises(DataError, match="unknown task 'topic'; valid tasks: boilerplate, "
                                        "stance, claim_type"):
        dataset.load("topic", tiny_data_dir)


# --- cnbench data stats / build ---------------------------------------------------------


def test_cli_data_stats_tiny(tiny_data_dir, capsys):
    assert main(["data", "stats", "--data-dir", str(tiny_data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## real (2 documents)\n\n### boilerplate (blocks)\n")
    assert "## synthetic (0 documents)\n" in out
    assert ("| document | content | boilerplate | total |\n|---|---|---|---|\n"
            "| a01 | 3 | 1 | 4 |\n| b02 | 1 | 2 | 3 |\n| **all** | 4 | 3 | 7 |\n") in out
    assert ("| a01 | 2 | 1 | 1 | 4 |\n| b02 | 0 | 1 | 0 | 1 |\n"
            "| **all** | 2 | 2 | 1 | 5 |\n") in out  # stance
    assert "| b02 | 0 | 0 | 0 | 0 | 1 | 0 | 1 |\n" in out  # claim_type


def test_cli_data_stats_real_counts_per_document(real_gold, capsys):
    assert main(["data", "stats", "--data-dir", str(REPO_DATA)]) == 0
    out = capsys.readouterr().out
    for task, exs in real_gold.items():
        labels = TASKS[task].labels
        assert f"| document | {' | '.join(labels)} | total |" in out
        per_doc: dict[str, Counter] = {}
        for e in exs:
            per_doc.setdefault(e.unit.doc_id, Counter())[e.label] += 1
        for doc, counts in per_doc.items():
            row = " | ".join(str(counts[lab]) for lab in labels)
            assert f"| {doc} | {row} | {sum(counts.values())} |" in out, (task, doc)
        totals = " | ".join(str(sum(c[lab] for c in per_doc.values())) for lab in labels)
        assert f"| **all** | {totals} | {len(exs)} |" in out, task


def test_cli_data_stats_bad_labels(tiny_data_dir, capsys):
    path = tiny_data_dir / "annotations" / "boilerplate.jsonl"
    path.write_text(path.read_text(encoding="utf-8") + '{"id": "x"}\n', encoding="utf-8")
    assert main(["data", "stats", "--data-dir", str(tiny_data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {path}:8: missing key(s) label, text_sha256\n"


def test_cli_data_build(tiny_data_dir, capsys):
    assert main(["data", "build", "--data-dir", str(tiny_data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tiny_data_dir / 'processed'}\n")
    assert "| **all** | 4 | 3 | 7 |" in out
    assert sorted(files_under(tiny_data_dir / "processed")) == BUILT_FILES


def test_cli_data_stats_synthetic_totals_or_per_document(tiny_synthetic_data_dir, capsys):
    assert main(["data", "stats", "--data-dir", str(tiny_synthetic_data_dir)]) == 0
    out = capsys.readouterr().out
    synthetic = out[out.index("## synthetic (2 documents)"):]
    assert "| **all** | 4 | 4 | 8 |" in synthetic and "| s01 |" not in synthetic
    assert main(["data", "stats", "--per-document", "--data-dir",
                 str(tiny_synthetic_data_dir)]) == 0
    synthetic = capsys.readouterr().out.split("## synthetic (2 documents)")[1]
    assert "| s01 | 2 | 2 | 4 |" in synthetic and "| s02 | 2 | 2 | 4 |" in synthetic
