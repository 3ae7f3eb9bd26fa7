"""crypto_news_bench.data.synthetic: the double annotation's agreement record and kappa, checked
against the gold labels; the stance profile of a document."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from crypto_news_bench.data import dataset
from crypto_news_bench.data.labels import load_labels
from crypto_news_bench.data.synthetic import agreement, stance_profile
from crypto_news_bench.errors import DataError


def gold(data_dir, task):
    return load_labels(data_dir / "synthetic" / "annotations", task)


def write_agreement(data_dir, jsonl, task, second: dict[str, str | None], notes=None):
    """Agreement records for document s01: first = gold, second as given (default: gold)."""
    labels = gold(data_dir, task)
    records = []
    for uid, lab in labels.items():
        if not uid.startswith("s01:"):
            continue
        other = second.get(uid, lab.label)
        rec = {"id": uid, "text_sha256": lab.text_sha256, "first": lab.label,
               "second": other, "final": lab.label}
        if other != lab.label:
            rec["note"] = (notes or {}).get(uid, "guidelines: edge case 7")
        records.append(rec)
    folder = data_dir / "synthetic" / "agreement"
    folder.mkdir(exist_ok=True)
    jsonl.write(folder / f"{task}.jsonl", records)
    return folder / f"{task}.jsonl"


def test_kappa_computed_by_hand(tiny_synthetic_data_dir, jsonl):
    # Gold (= first) of s01's blocks: boilerplate, content, content, boilerplate.
    # The second annotator took L2 for boilerplate: agreement 3/4; chance agreement
    # 0.5 * 0.75 + 0.5 * 0.25 = 0.5; kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5.
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate",
                           {"s01:L2": "boilerplate"})
    a = agreement(path, "boilerplate", gold(tiny_synthetic_data_dir, "boilerplate"))
    assert (a.n, a.disagreements, a.single) == (4, 1, 0)
    assert a.observed == pytest.approx(0.75)
    assert a.kappa == pytest.approx(0.5)
    assert a.documents == ("s01",)


def test_sentences_only_one_annotator_labelled_are_left_out_of_kappa(tiny_synthetic_data_dir,
                                                                      jsonl):
    # Sentences of s01: L2:S1 (the second annotator took its block for boilerplate), L3:S1,
    # L3:S2; stance gold cycles promotional, critical, neutral.
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "stance",
                           {"s01:L2:S1": None, "s01:L3:S1": "neutral"})
    a = agreement(path, "stance", gold(tiny_synthetic_data_dir, "stance"))
    assert (a.n, a.single, a.disagreements) == (2, 1, 1)
    # first (critical, neutral) vs second (neutral, neutral): po 0.5, pe 0.5 * 1 = 0.5.
    assert a.kappa == pytest.approx(0.0)


def test_identical_annotations_give_kappa_one(tiny_synthetic_data_dir, jsonl):
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "claim_type", {})
    a = agreement(path, "claim_type", gold(tiny_synthetic_data_dir, "claim_type"))
    assert (a.kappa, a.observed, a.disagreements) == (1.0, 1.0, 0)


def test_a_disagreement_needs_a_note(tiny_synthetic_data_dir, jsonl):
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate",
                           {"s01:L2": "boilerplate"}, notes={"s01:L2": " "})
    with pytest.raises(DataError, match=re.escape(
            f"{path}:2: the annotators disagree on s01:L2 (content vs boilerplate); the "
            "adjudication needs a note")):
        agreement(path, "boilerplate", gold(tiny_synthetic_data_dir, "boilerplate"))


def test_a_gold_label_against_both_annotators_needs_a_note(tiny_synthetic_data_dir, jsonl):
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate", {})
    records = jsonl.read(path)
    records[1]["first"] = records[1]["second"] = "boilerplate"  # both; the review: content
    jsonl.write(path, records)
    with pytest.raises(DataError, match=re.escape(
            f"{path}:2: the gold label content of s01:L2 overrules both annotators "
            "(boilerplate); the review needs a note")):
        agreement(path, "boilerplate", gold(tiny_synthetic_data_dir, "boilerplate"))
    records[1]["note"] = "edge case 6: the article's own heading"
    jsonl.write(path, records)
    a = agreement(path, "boilerplate", gold(tiny_synthetic_data_dir, "boilerplate"))
    assert (a.kappa, a.disagreements) == (1.0, 0)


def test_the_adjudicated_label_must_be_the_gold_one(tiny_synthetic_data_dir, jsonl):
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate", {})
    records = jsonl.read(path)
    records[1]["final"] = "boilerplate"
    jsonl.write(path, records)
    with pytest.raises(DataError, match=re.escape(
            f"{path}:2: adjudicated label 'boilerplate' of s01:L2 is not its gold label "
            "'content'")):
        agreement(path, "boilerplate", gold(tiny_synthetic_data_dir, "boilerplate"))


def test_every_unit_of_a_double_annotated_document_is_listed(tiny_synthetic_data_dir, jsonl):
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate", {})
    jsonl.write(path, jsonl.read(path)[:-1])
    with pytest.raises(DataError, match="1 gold unit\\(s\\) of double-annotated documents are "
                                        "missing, e.g. s01:L4"):
        agreement(path, "boilerplate", gold(tiny_synthetic_data_dir, "boilerplate"))


@pytest.mark.parametrize("change, message", [
    ({"second": "maybe"}, "unknown second label 'maybe' for unit s01:L1 in task 'boilerplate'"),
    ({"first": None, "second": None}, "unit s01:L1 has neither a first nor a second label"),
    ({"text_sha256": "0" * 16}, "text hash 0000000000000000 of s01:L1 differs from its gold "
                                "label's"),
    ({"id": "s09:L1"}, "unit s09:L1 is in the agreement file but has no gold 'boilerplate' "
                       "label"),
    ({"who": "me"}, "unknown key(s) who; allowed: final, first, id, note, second, "
                    "text_sha256"),
])
def test_bad_agreement_records(tiny_synthetic_data_dir, jsonl, change, message):
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate", {})
    records = jsonl.read(path)
    records[0].update(change)
    jsonl.write(path, records)
    with pytest.raises(DataError, match=re.escape(f"{path}:1: {message}")):
        agreement(path, "boilerplate", gold(tiny_synthetic_data_dir, "boilerplate"))


def test_build_puts_the_kappa_on_the_card(tiny_synthetic_data_dir, jsonl):
    write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate", {"s01:L2": "boilerplate"})
    write_agreement(tiny_synthetic_data_dir, jsonl, "stance", {})
    write_agreement(tiny_synthetic_data_dir, jsonl, "claim_type", {})
    out = dataset.build(tiny_synthetic_data_dir)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| boilerplate | 4 | 0.500 | 0.750 | 1 | 0 |" in card
    assert "| stance | 3 | 1.000 | 1.000 | 0 | 0 |" in card
    assert "1 of the\n2 synthetic documents (50%)" in card


def test_a_missing_agreement_file_is_an_error_once_the_folder_exists(tiny_synthetic_data_dir,
                                                                      jsonl):
    path = write_agreement(tiny_synthetic_data_dir, jsonl, "boilerplate", {})
    with pytest.raises(DataError, match="stance.jsonl: agreement file for task 'stance' not "
                                        "found"):
        dataset.build(tiny_synthetic_data_dir)
    assert path.exists()


@pytest.mark.parametrize("counts, profile", [
    ({"critical": 6, "promotional": 3, "neutral": 1}, "critical"),
    ({"critical": 5, "promotional": 3, "neutral": 1}, "balanced"),
    ({"critical": 1, "promotional": 2, "neutral": 2}, "promotional"),
    ({"critical": 1, "promotional": 1, "neutral": 7}, "passing"),
    ({"critical": 1, "promotional": 1, "neutral": 6}, "balanced"),
    ({}, "passing"),
])
def test_stance_profile(counts, profile):
    assert stance_profile(Counter(counts)) == profile
