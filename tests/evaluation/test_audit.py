"""crypto_news_bench.evaluation.audit: out-of-fold label audit with cleanlab. A planted wrong
label ranks first on hand-made separable sentences, no document is scored by a model that saw
it, the CSV round-trips, and ``cnbench data audit`` refuses a bad task or an existing file."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import CONFIGS, add_tiny_synthetic, build_tiny_data

from crypto_news_bench import cli
from crypto_news_bench.config import load_config
from crypto_news_bench.data import dataset
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks
from crypto_news_bench.errors import DataError
from crypto_news_bench.evaluation import audit
from crypto_news_bench.evaluation.protocol import Units

PRO, CRIT, NEU = (TASKS["stance"].label_id(lab) for lab in ("promotional", "critical",
                                                               "neutral"))
SUBJECTS = ["The exchange", "Binance", "The platform", "The company", "Its team", "The firm"]
PHRASES = {
    PRO: ["proudly delivers great rewards to loyal users",
          "wins praise for its fast, secure and innovative service",
          "celebrates record growth and happy customers",
          "offers excellent low fees that traders love"],
    CRIT: ["faces a lawsuit from regulators over alleged fraud",
           "was fined by prosecutors for money laundering violations",
           "is accused by critics of misleading investors and hiding risks",
           "drew penalties after regulators found illegal conduct"],
    NEU: ["published its quarterly report on Monday",
          "opened an office in Paris this week",
          "held a press conference in March",
          "updated the schedule for the annual meeting"],
}
PLANTED = "d2:crit0"


def stance_units(n_docs: int = 6) -> Units:
    """Two sentences per stance label in each document; PLANTED is critical text labelled
    promotional."""
    texts, labels, docs, ids = [], [], [], []
    for d in range(n_docs):
        for label, phrases in PHRASES.items():
            for k in range(2):
                uid = f"d{d}:{TASKS['stance'].labels[label][:4]}{k}"
                texts.append(f"{SUBJECTS[(d + k) % 6]} {phrases[(2 * d + k) % 4]}.")
                labels.append(PRO if uid == PLANTED else label)
                docs.append(f"d{d}")
                ids.append(uid)
    return Units.of(texts, labels, docs, ids)


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIGS / "tfidf_word_lr.yaml")


def test_the_planted_wrong_label_ranks_among_the_first(config):
    result = audit.audit_units(config, "stance", stance_units())
    assert [r["rank"] for r in result.rows] == list(range(1, len(result.rows) + 1))
    assert PLANTED in [r["id"] for r in result.rows[:3]], [r["id"] for r in result.rows[:5]]
    top = next(r for r in result.rows if r["id"] == PLANTED)
    assert (top["given_label"], top["suggested_label"]) == ("promotional", "critical")
    assert top["flagged"] and top["label_quality"] < 0.5 < top["confidence"]
    assert top["confidence"] == max(top[f"p_{lab}"] for lab in TASKS["stance"].labels)
    # Flagged units come first, each group by ascending label quality.
    flags = [r["flagged"] for r in result.rows]
    assert flags == sorted(flags, reverse=True)
    assert result.n_flagged == sum(flags) >= 1
    for group in (True, False):
        quality = [r["label_quality"] for r in result.rows if r["flagged"] is group]
        assert quality == sorted(quality)
    table = audit.render_table(result, top=3)
    assert PLANTED in table
    assert len(table.strip().splitlines()) == 2 + 2 + 3  # summary, blank, header, rule, rows


def test_no_document_is_scored_by_a_model_that_saw_it(config, monkeypatch):
    units = stance_units()
    extra = Units.of(["Regulators praise nothing."], [NEU], ["s1"], ["s1:1"])
    fitted = []
    real_fit = audit.fit_model

    def spy(cfg, task, texts, y, groups):
        fitted.append(set(groups))
        return real_fit(cfg, task, texts, y, groups)

    monkeypatch.setattr(audit, "fit_model", spy)
    probs = audit.out_of_fold_probabilities(config, "stance", units, extra=extra)
    folds = audit.group_folds(units.doc_ids)
    assert len(folds) == 5 and len(fitted) == 5
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(units)))
    for test, groups in zip(folds, fitted, strict=True):
        held_out = {units.doc_ids[i] for i in test}
        assert not held_out & groups
        assert groups == {f"d{d}" for d in range(6)} - held_out | {"s1"}
    assert probs.shape == (len(units), 3)
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_fewer_documents_than_folds_and_too_few_documents():
    assert len(audit.group_folds(["a", "a", "b", "c"])) == 3
    with pytest.raises(DataError, match="at least 2 documents"):
        audit.group_folds(["a", "a"])


def test_csv_round_trips(config, tmp_path):
    result = audit.audit_units(config, "stance", stance_units(3))
    path = audit.write_csv(result, tmp_path / "out" / "audit.csv")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == [*audit.COLUMNS, "p_promotional", "p_critical", "p_neutral"]
    assert [r["id"] for r in rows] == [r["id"] for r in result.rows]
    assert sorted(r["id"] for r in rows) == sorted(stance_units(3).ids)
    assert [r["text"] for r in rows] == [r["text"] for r in result.rows]
    assert {r["flagged"] for r in rows} <= {"True", "False"}
    with pytest.raises(DataError, match="already exists; pass --overwrite"):
        audit.write_csv(result, path)
    assert audit.write_csv(result, path, overwrite=True) == path
    assert not list(path.parent.glob(".*.tmp"))


# Boilerplate lines and article lines; the last article line of b02 is site clutter labelled
# content: the planted error.
CLUTTER = ["Subscribe to our newsletter", "Share this article on social media",
           "Menu | Markets | News | Login", "Sign up for price alerts", "Cookie settings"]
ARTICLE = ["The exchange reported trading volume of 5 billion dollars in May.",
           "Regulators in France opened an inquiry into the listing.",
           "Its chief executive said user funds were held in reserve.",
           "Analysts expect the market to recover later this year.",
           "The company hired a new compliance officer last week."]


def clutter_docs() -> tuple[dict[str, str], set[str], str]:
    docs, boilerplate = {}, set()
    for d, doc_id in enumerate(["a01", "b02", "c03", "d04"]):
        lines = []
        for k in range(4):
            lines += [CLUTTER[(d + k) % 5], ARTICLE[(d + 2 * k) % 5]]
        docs[doc_id] = "\n".join(lines) + "\n"
    for doc_id, text in docs.items():
        boilerplate |= {b.id for b in blocks(doc_id, text) if b.text in CLUTTER}
    planted = "b02:L3"
    boilerplate.discard(planted)
    return docs, boilerplate, planted


@pytest.fixture(scope="module")
def clutter_data(tmp_path_factory):
    docs, boilerplate, planted = clutter_docs()
    data_dir = build_tiny_data(tmp_path_factory.mktemp("audit") / "data", docs, boilerplate)
    dataset.build(data_dir)
    return data_dir, planted


def run_audit(data_dir, out, *extra):
    return cli.main(["data", "audit", "--task", "boilerplate", "--data-dir", str(data_dir),
                     "--config", "tfidf_word_lr", "--out", str(out), *extra])


def test_cli_audit_ranks_the_planted_label_and_writes_the_csv(clutter_data, tmp_path, capsys,
                                                               monkeypatch):
    data_dir, planted = clutter_data
    monkeypatch.chdir(CONFIGS.parent)  # --config NAME is configs/NAME.yaml
    out = tmp_path / "audit.csv"
    assert run_audit(data_dir, out, "--top", "4") == 0
    stdout = capsys.readouterr().out
    assert planted in stdout and str(out) in stdout
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    real = dataset.load("boilerplate", data_dir, "real")
    assert sorted(r["id"] for r in rows) == sorted(real["id"])
    assert planted in [r["id"] for r in rows[:3]]
    top = next(r for r in rows if r["id"] == planted)
    assert (top["given_label"], top["suggested_label"]) == ("content", "boilerplate")

    before = out.read_bytes()
    assert run_audit(data_dir, out) == 2
    err = capsys.readouterr().err
    assert err == f"error: {out}: already exists; pass --overwrite to replace it\n"
    assert out.read_bytes() == before
    assert run_audit(data_dir, out, "--overwrite") == 0


def test_audit_of_both_splits(tiny_synthetic_data_dir, config):
    dataset.build(tiny_synthetic_data_dir)
    result = audit.audit_dataset(config, "boilerplate", tiny_synthetic_data_dir, split="all")
    by_split = {s: sorted(r["id"] for r in result.rows if r["split"] == s)
                for s in dataset.SPLITS}
    for s in dataset.SPLITS:
        assert by_split[s] == sorted(dataset.load("boilerplate", tiny_synthetic_data_dir, s)["id"])
    only = audit.audit_dataset(config, "boilerplate", tiny_synthetic_data_dir, "synthetic")
    assert {r["split"] for r in only.rows} == {"synthetic"}


@pytest.mark.parametrize("argv, message", [
    (["--task", "sentiment"], "error: unknown task 'sentiment'; valid tasks: "),
    ([], "error: data audit needs --task: one of "),
    (["--task", "stance", "--split", "test"], "error: unknown split 'test'; valid splits: "),
])
def test_cli_bad_arguments_give_one_line_errors(argv, message, tmp_path, capsys):
    code = cli.main(["data", "audit", "--data-dir", str(tmp_path), "--out",
                     str(tmp_path / "a.csv"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "a.csv").exists()


def test_cli_refuses_an_existing_csv_before_training(tmp_path, capsys):
    data_dir = add_tiny_synthetic(build_tiny_data(tmp_path / "data"))
    (tmp_path / "a.csv").write_text("keep\n")
    # The dataset is not even built: the output is checked first.
    code = cli.main(["data", "audit", "--task", "stance", "--data-dir", str(data_dir),
                     "--out", str(tmp_path / "a.csv")])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert (tmp_path / "a.csv").read_text() == "keep\n"
