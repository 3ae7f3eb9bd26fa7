"""crypto_news_bench.data.checks (``cnbench data check``): copies of real text, near-copies under
an encoder, and near-duplicate documents are refused with the units or documents named."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from crypto_news_bench.cli import main
from crypto_news_bench.data import checks
from crypto_news_bench.errors import DataError
from crypto_news_bench.models import encoder as encoder_mod

REPO_DATA = Path(__file__).parents[2] / "data"


def bag_of_words(texts):
    """A deterministic stand-in encoder: hashed word counts (cosine = word overlap)."""
    out = np.zeros((len(texts), 256))
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 256] += 1
    return out


def add_synthetic_page(data_dir: Path, doc_id: str, text: str, jsonl) -> None:
    """A synthetic page with its metadata (labels are not needed by the leakage guards)."""
    raw = data_dir / "synthetic" / "raw"
    (raw / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    meta = jsonl.read(raw / "documents.jsonl")
    meta.append({"id": doc_id, "file": f"{doc_id}.txt", "publisher": "Planted",
                 "title": "Planted", "url": None, "published": None,
                 "sha256": hashlib.sha256(text.encode()).hexdigest(), "synthetic": True,
                 "outlet_type": "crypto_news", "template": "planted/article"})
    jsonl.write(raw / "documents.jsonl", meta)


@pytest.fixture
def seeds_and_tiny_synthetic(tmp_path):
    """The repository's real pages and labels with the tiny synthetic corpus."""
    from conftest import add_tiny_synthetic

    data = tmp_path / "data"
    data.mkdir()
    for name in ("raw", "annotations"):
        shutil.copytree(REPO_DATA / name, data / name)
    return add_tiny_synthetic(data)


def test_normalise_folds_case_space_and_quotes():
    assert checks.normalise("  The “Exchange”\u00a0SAID\t‘no’ ") == 'the "exchange" said \'no\''


def test_a_clean_corpus_passes_and_reports_the_closest_pairs(seeds_and_tiny_synthetic):
    report = checks.check_data(seeds_and_tiny_synthetic, encoder=bag_of_words)
    assert report.documents == {"real": 3, "synthetic": 2}
    assert len(report.closest) == 5
    cosines = [c for c, *_ in report.closest]
    assert cosines == sorted(cosines, reverse=True) and cosines[0] < checks.COSINE_LIMIT
    assert report.most_similar[0][0] < checks.JACCARD_LIMIT
    assert report.summary().endswith("data check passed")


def test_a_copied_seed_sentence_is_refused(seeds_and_tiny_synthetic, jsonl):
    # A real headline (002:L3), its case and quotes changed, inside a synthetic paragraph.
    add_synthetic_page(seeds_and_tiny_synthetic, "s03",
                       "Chain Daily\nA new page\nBINANCE.US faces SEC scrutiny over customer "
                       "assets\n", jsonl)
    with pytest.raises(DataError) as err:
        checks.check_data(seeds_and_tiny_synthetic, encoder=bag_of_words)
    message = str(err.value)
    assert message.startswith("1 synthetic unit(s) copy a real one (after normalising case, "
                              "white space and quotes): ")
    assert "s03:L3 'BINANCE.US faces SEC scrutiny over customer assets' = " \
           "002_b37de1a9f39d0454:L3" in message
    assert "\n" not in message


def test_a_near_copy_under_the_encoder_is_refused(seeds_and_tiny_synthetic, jsonl):
    # One word of a real sentence changed: no exact copy, but the same words nearly.
    add_synthetic_page(seeds_and_tiny_synthetic, "s03",
                       "Chain Daily\nThe SEC questions Binance.US's claimed autonomy over "
                       "customer funds, particularly regarding potential access by Binance "
                       "Holdings staff.\n", jsonl)
    with pytest.raises(DataError, match=r"^1 synthetic sentence\(s\) have cosine similarity "
                                        r">= 0\.95 to a real sentence: s03:L2:S1 \"The SEC "
                                        r"questions Binance\.US's claimed autonomy ov\" ~ "
                                        r"002_b37de1a9f39d0454:L13:S1 \(0\.9\d\d\)$"):
        checks.check_data(seeds_and_tiny_synthetic, encoder=bag_of_words)


def test_a_near_duplicate_document_is_refused(seeds_and_tiny_synthetic, jsonl):
    from conftest import TINY_SYNTHETIC

    # s01 again with its last line changed: most of its word 5-grams are shared.
    copy = TINY_SYNTHETIC["s01"].replace("Sign up for our morning briefing",
                                         "Get the evening digest")
    add_synthetic_page(seeds_and_tiny_synthetic, "s03", copy, jsonl)
    with pytest.raises(DataError, match=r"^1 near-duplicate document pair\(s\) \(word 5-gram "
                                        r"Jaccard >= 0\.5\): s01 and s03 \(0\.\d\d\)$"):
        checks.check_data(seeds_and_tiny_synthetic, encoder=bag_of_words)


def test_near_duplicates_are_measured_against_real_pages_too(seeds_and_tiny_synthetic, jsonl):
    real = (REPO_DATA / "raw" / "000_bf4eb29d4c97d078.txt").read_text(encoding="utf-8")
    add_synthetic_page(seeds_and_tiny_synthetic, "s03", real.upper(), jsonl)
    with pytest.raises(DataError, match="copy a real one"):
        checks.check_data(seeds_and_tiny_synthetic, encoder=bag_of_words)
    pairs = checks.near_duplicates(
        [d for d in checks.dataset.load_documents(seeds_and_tiny_synthetic, "synthetic")
         if d.id == "s03"], checks.dataset.load_documents(seeds_and_tiny_synthetic, "real"))
    assert pairs[0][1:] == ("s03", "000_bf4eb29d4c97d078") and pairs[0][0] == 1.0


def test_jaccard_of_word_5_grams():
    a = checks.shingles("one two three four five six")
    b = checks.shingles("one two three four five seven")
    assert a == {("one", "two", "three", "four", "five"), ("two", "three", "four", "five", "six")}
    assert checks.jaccard(a, b) == pytest.approx(1 / 3)


def test_labels_are_checked_after_the_guards(seeds_and_tiny_synthetic, jsonl):
    path = seeds_and_tiny_synthetic / "synthetic" / "annotations" / "stance.jsonl"
    jsonl.write(path, jsonl.read(path)[1:])
    with pytest.raises(DataError, match="1 unit\\(s\\) with no 'stance' label: s01:L2:S1"):
        checks.check_data(seeds_and_tiny_synthetic, encoder=bag_of_words)


def test_cli_data_check_prints_the_report(seeds_and_tiny_synthetic, monkeypatch, capsys):
    monkeypatch.setattr(encoder_mod, "sentence_encoder", lambda: bag_of_words)
    assert main(["data", "check", "--data-dir", str(seeds_and_tiny_synthetic)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("documents: 3 real, 2 synthetic; units: ")
    assert "closest synthetic sentences to real ones (cosine; the limit is 0.95):" in out
    assert out.endswith("data check passed\n")


def test_cli_data_check_refuses_with_one_line_and_exit_2(seeds_and_tiny_synthetic, jsonl,
                                                          monkeypatch, capsys):
    monkeypatch.setattr(encoder_mod, "sentence_encoder", lambda: bag_of_words)
    add_synthetic_page(seeds_and_tiny_synthetic, "s03", "Headline\nAdvertisement\n", jsonl)
    assert main(["data", "check", "--data-dir", str(seeds_and_tiny_synthetic)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: 1 synthetic unit(s) copy a real one") and "s03:L2" in err


@pytest.mark.slow
def test_the_repository_corpus_passes_under_the_bundled_encoder():
    from crypto_news_bench.models.encoder import sentence_encoder

    report = checks.check_data(REPO_DATA, sentence_encoder())
    assert report.documents["synthetic"] >= 150
    assert report.closest and report.closest[0][0] < checks.COSINE_LIMIT
