"""crypto_news_bench.annotation.importer: ``cnbench annotate import`` of Label Studio exports.

The whole loop on a copy of the real data: a page added with ``data add``, its tasks exported
with predictions from a cheap champion, hand-made Label Studio exports imported, the dataset
rebuilt with the new units in the ``real`` split. Every bad export is an error naming the Label
Studio task and leaves every file as it was; two annotators give Cohen's kappa (checked against a
hand computation) and the units they disagree on stay unlabelled for adjudication.
"""

from __future__ import annotations

import json
import re

import pytest
from annotating import (
    PAGE_BOILERPLATE,
    PAGE_SENTENCES,
    add_page,
    cheap_store,
    ls_export,
    snapshot,
    use_store,
    write_json,
)

from crypto_news_bench.annotation import exporter, pool
from crypto_news_bench.annotation.importer import import_exports
from crypto_news_bench.cli import main
from crypto_news_bench.data import dataset
from crypto_news_bench.data.labels import text_hash
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.errors import DataError

SEED_BLOCK = "000_bf4eb29d4c97d078:L1"  # gold: boilerplate (a byline)
STANCE = dict(zip(PAGE_SENTENCES, ["neutral", "neutral", "critical", "promotional", "neutral",
                                   "critical"], strict=True))
CLAIM = dict(zip(PAGE_SENTENCES, ["self_assertion", "self_assertion", "opinion", "quantity",
                                  "opinion", "legal_regulatory"], strict=True))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return cheap_store(tmp_path_factory)


@pytest.fixture
def page(tmp_path):
    return add_page(tmp_path)


def export_tasks(page, task: str, **kwargs) -> list[dict]:
    report = exporter.export_tasks(task, page.data_dir, page.tmp / f"{task}-tasks.json", **kwargs)
    return json.loads(report.out.read_text(encoding="utf-8")) if report.out else []


def boilerplate_answers(page) -> dict[str, str]:
    return {f"{page.id}:L{n}": "boilerplate" if f"L{n}" in PAGE_BOILERPLATE else "content"
            for n in range(1, 7)}


def sentence_answers(page, labels: dict[str, str]) -> dict[str, str]:
    return {f"{page.id}:{s}": label for s, label in labels.items()}


def import_boilerplate(page) -> None:
    tasks = export_tasks(page, "boilerplate")
    path = write_json(page.tmp / "bp-export.json", ls_export(tasks, boilerplate_answers(page)))
    import_exports([path], page.data_dir, ["alice"])


def test_add_export_label_import_and_build(page, store, monkeypatch, capsys):
    use_store(store, monkeypatch)
    tasks = export_tasks(page, "boilerplate", model="champion")
    assert len(tasks) == 6 and all(t["predictions"] for t in tasks)
    bp = write_json(page.tmp / "bp-export.json", ls_export(
        tasks, boilerplate_answers(page), notes={f"{page.id}:L1": "site menu"}))
    assert main(["annotate", "import", str(bp), "--annotator", "alice",
                 "--data-dir", str(page.data_dir)]) == 0
    assert "boilerplate: 6 new, 0 replaced" in capsys.readouterr().out

    stance_tasks = export_tasks(page, "stance", model="champion")
    claim_tasks = export_tasks(page, "claim_type", model="champion")  # no champion: no predictions
    assert len(stance_tasks) == len(claim_tasks) == 6
    assert all(t["predictions"] for t in stance_tasks)
    assert not any("predictions" in t for t in claim_tasks)
    st = write_json(page.tmp / "st.json", ls_export(stance_tasks, sentence_answers(page, STANCE)))
    cl = write_json(page.tmp / "cl.json", ls_export(claim_tasks, sentence_answers(page, CLAIM)))
    assert main(["annotate", "import", str(st), str(cl), "--annotator", "bob", "--annotator",
                 "bob", "--data-dir", str(page.data_dir)]) == 0
    out = capsys.readouterr().out
    assert "stance: 6 new" in out and "claim_type: 6 new" in out and "kappa" not in out

    # The records: the existing format, the note and who labelled.
    last = pool.annotation_path(page.data_dir, "boilerplate").read_text().splitlines()[-6]
    assert json.loads(last) == {"id": f"{page.id}:L1", "text_sha256": text_hash(
        "Menu | Markets | Policy"), "label": "boilerplate", "note": "site menu",
        "annotator": "alice"}
    for name in TASKS:
        assert pool.pending(pool.load_real(page.data_dir), name).units == []

    dataset.build(page.data_dir)
    expected = {"boilerplate": boilerplate_answers(page),
                "stance": sentence_answers(page, STANCE),
                "claim_type": sentence_answers(page, CLAIM)}
    for name, labels in expected.items():
        real = dataset.load(name, page.data_dir, split="real")
        names = real.features["label"].names
        got = {uid: names[lab] for uid, lab, doc in zip(real["id"], real["label"],
                                                        real["doc_id"], strict=True)
               if doc == page.id}
        assert got == labels
        assert len({d for d in real["doc_id"]}) == 4


def test_the_seed_labels_stay_byte_for_byte(page):
    before = {name: pool.annotation_path(page.data_dir, name).read_bytes() for name in TASKS}
    import_boilerplate(page)
    after = pool.annotation_path(page.data_dir, "boilerplate").read_bytes()
    assert after.startswith(before["boilerplate"])
    assert after.count(b"\n") == before["boilerplate"].count(b"\n") + 6


def _refused(page, export, message, capsys, *extra):
    path = write_json(page.tmp / "bad.json", export)
    before = snapshot(page.data_dir)
    assert main(["annotate", "import", str(path), *extra, "--data-dir", str(page.data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{path}: Label Studio task " in err and message in err, err
    assert snapshot(page.data_dir) == before


def _with(tasks: list[dict], uid: str, **data) -> list[dict]:
    return [{**t, "data": {**t["data"], **data}} if t["data"]["unit_id"] == uid else t
            for t in tasks]


def test_unknown_label(page, capsys):
    tasks = export_tasks(page, "boilerplate")
    answers = {**boilerplate_answers(page), f"{page.id}:L3": "article"}
    _refused(page, ls_export(tasks, answers), f"Label Studio task 3: unknown label 'article' for "
             f"unit {page.id}:L3 in task 'boilerplate'; valid labels: content, boilerplate",
             capsys)


def test_unknown_unit(page, capsys):
    tasks = _with(export_tasks(page, "boilerplate"), f"{page.id}:L6", unit_id=f"{page.id}:L9")
    answers = {**boilerplate_answers(page), f"{page.id}:L9": "content"}
    _refused(page, ls_export(tasks, answers), f"Label Studio task 6: unknown unit id "
             f"'{page.id}:L9': no block of the real pages", capsys)


def test_text_that_no_longer_matches(page, capsys):
    tasks = _with(export_tasks(page, "boilerplate"), f"{page.id}:L2",
                  text_sha256=text_hash("Exchange adds a weekly reserve audit"))
    _refused(page, ls_export(tasks, boilerplate_answers(page)),
             f"Label Studio task 2: the text of unit {page.id}:L2 no longer matches", capsys)


def test_a_sentence_under_a_boilerplate_block(page, capsys):
    import_boilerplate(page)
    tasks = export_tasks(page, "stance")
    corpus = pool.load_real(page.data_dir)
    menu = corpus.sentences[f"{page.id}:L1:S1"]
    extra = {"data": {**tasks[0]["data"], "unit_id": menu.id, "text": menu.text,
                      "text_sha256": text_hash(menu.text)}}
    answers = {**sentence_answers(page, STANCE), menu.id: "neutral"}
    _refused(page, ls_export([*tasks, extra], answers),
             f"Label Studio task 7: sentence {menu.id} is labelled for stance, but its block "
             f"{page.id}:L1 is labelled boilerplate", capsys)


def test_a_sentence_before_its_block_is_labelled(page, capsys):
    corpus = pool.load_real(page.data_dir)
    s = corpus.sentences[f"{page.id}:L2:S1"]
    task = {"data": {"unit_id": s.id, "doc_id": page.id, "task": "stance",
                     "text_sha256": text_hash(s.text), "text": s.text, "context": ""}}
    _refused(page, ls_export([task], {s.id: "neutral"}),
             f"Label Studio task 1: sentence {s.id} is labelled for stance, but its block "
             f"{page.id}:L2 has no boilerplate label yet", capsys)


def test_the_same_unit_twice(page, capsys):
    tasks = export_tasks(page, "boilerplate")
    _refused(page, ls_export([*tasks, tasks[1]], boilerplate_answers(page)),
             f"Label Studio task 7: duplicate: unit {page.id}:L2 is annotated for boilerplate a "
             "second time by user 1 (first in", capsys)


def test_already_labelled_differently_needs_replace(page, capsys):
    tasks = export_tasks(page, "boilerplate")
    corpus = pool.load_real(page.data_dir)
    seed = corpus.blocks[SEED_BLOCK]
    extra = {"data": {**tasks[0]["data"], "unit_id": seed.id, "doc_id": seed.doc_id,
                      "text": seed.text, "text_sha256": text_hash(seed.text)}}
    answers = {**boilerplate_answers(page), seed.id: "content"}
    _refused(page, ls_export([*tasks, extra], answers),
             f"Label Studio task 7: unit {SEED_BLOCK} is already labelled 'boilerplate' for "
             "boilerplate", capsys)

    # With --replace the line changes in place; every other line stays as it was.
    path = pool.annotation_path(page.data_dir, "boilerplate")
    before = path.read_text(encoding="utf-8").splitlines()
    export = write_json(page.tmp / "ok.json", ls_export([*tasks, extra], answers))
    report = import_exports([export], page.data_dir, ["carol"], replace=True)
    assert report.replaced["boilerplate"] == 1 and report.new["boilerplate"] == 6
    after = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(after[0]) == {"id": SEED_BLOCK, "text_sha256": text_hash(seed.text),
                                    "label": "content", "annotator": "carol"}
    assert after[1:len(before)] == before[1:]


def test_the_same_label_again_changes_nothing(page):
    import_boilerplate(page)
    before = snapshot(page.data_dir)
    tasks = [{"data": t["data"]} for t in json.loads(
        (page.tmp / "boilerplate-tasks.json").read_text(encoding="utf-8"))]
    again = write_json(page.tmp / "again.json", ls_export(tasks, boilerplate_answers(page)))
    report = import_exports([again], page.data_dir)
    assert report.unchanged["boilerplate"] == 6 and report.written == []
    assert snapshot(page.data_dir) == before


def test_a_block_turned_boilerplate_takes_its_sentence_labels_with_it(page):
    import_boilerplate(page)
    for name, labels in (("stance", STANCE), ("claim_type", CLAIM)):
        tasks = export_tasks(page, name)
        path = write_json(page.tmp / f"{name}.json", ls_export(tasks, sentence_answers(page,
                                                                                     labels)))
        import_exports([path], page.data_dir)
    tasks = export_tasks(page, "boilerplate")  # nothing left to label: build the task by hand
    assert tasks == []
    block = pool.load_real(page.data_dir).blocks[f"{page.id}:L5"]
    task = {"data": {"unit_id": block.id, "doc_id": page.id, "task": "boilerplate",
                     "text_sha256": text_hash(block.text), "text": block.text, "context": ""}}
    flip = write_json(page.tmp / "flip.json", ls_export([task], {block.id: "boilerplate"}))
    report = import_exports([flip], page.data_dir, replace=True)
    removed = [f"{page.id}:L5:S1", f"{page.id}:L5:S2"]
    assert report.removed == {"stance": removed, "claim_type": removed}
    dataset.gold_examples(page.data_dir)  # still consistent: nothing left under boilerplate


def test_one_annotator_name_per_export(page, capsys):
    tasks = export_tasks(page, "boilerplate")
    path = write_json(page.tmp / "a.json", ls_export(tasks, boilerplate_answers(page)))
    assert main(["annotate", "import", str(path), str(path), "--annotator", "a",
                 "--data-dir", str(page.data_dir)]) == 2
    assert "--annotator: give one name per export (2 export(s), 1 name(s))" in \
        capsys.readouterr().err


# Two annotators on the six sentences of the page (u1..u6 = PAGE_SENTENCES):
#   A: promotional promotional critical critical neutral neutral
#   B: promotional critical    critical critical neutral promotional
# They agree on u1, u3, u4, u5: observed p_o = 4/6. Marginals: A 2/2/2, B pro 2, crit 3, neu 1,
# so chance p_e = (2*2 + 2*3 + 2*1) / 36 = 1/3, and kappa = (2/3 - 1/3) / (1 - 1/3) = 0.5.
A = ["promotional", "promotional", "critical", "critical", "neutral", "neutral"]
B = ["promotional", "critical", "critical", "critical", "neutral", "promotional"]


def test_two_annotators_give_kappa_and_their_disagreements(page, capsys):
    import_boilerplate(page)
    tasks = export_tasks(page, "stance")
    ids = [f"{page.id}:{s}" for s in PAGE_SENTENCES]
    a = write_json(page.tmp / "a.json", ls_export(tasks, dict(zip(ids, A, strict=True))))
    b = write_json(page.tmp / "b.json", ls_export(tasks, dict(zip(ids, B, strict=True)),
                                                  user=2))
    assert main(["annotate", "import", str(a), str(b), "--annotator", "ann", "--annotator",
                 "ben", "--data-dir", str(page.data_dir)]) == 0
    out = capsys.readouterr().out
    assert ("stance       ann vs ben: kappa 0.500 on 6 units (observed agreement 0.667)"
            in out), out
    assert "2 disagreement(s) to adjudicate" in out
    assert re.search(rf"stance {re.escape(ids[1])}: ann=promotional, ben=critical .*"
                     rf"{re.escape(str(a))}: Label Studio task 2; {re.escape(str(b))}", out)
    assert f"stance {ids[5]}: ann=neutral, ben=promotional" in out
    # The agreed four are written, the disagreements are offered again for adjudication.
    labels = pool.current_labels(page.data_dir, "stance")
    assert {u: labels[u].label for u in ids if u in labels} == {
        ids[0]: "promotional", ids[2]: "critical", ids[3]: "critical", ids[4]: "neutral"}
    assert labels[ids[0]].source and "ann, ben" in pool.annotation_path(
        page.data_dir, "stance").read_text()
    assert [t["data"]["unit_id"] for t in export_tasks(page, "stance")] == [ids[1], ids[5]]


def test_two_annotations_of_one_task_in_one_export(page):
    import_boilerplate(page)
    tasks = export_tasks(page, "stance")
    ids = [f"{page.id}:{s}" for s in PAGE_SENTENCES]
    export = ls_export(tasks, dict(zip(ids, A, strict=True)))
    second = ls_export(tasks, dict(zip(ids, B, strict=True)), user=2)
    for task, other in zip(export, second, strict=True):
        task["annotations"] += other["annotations"]
    report = import_exports([write_json(page.tmp / "both.json", export)], page.data_dir)
    (pair,) = report.agreement
    assert (pair.first, pair.second, pair.n, pair.kappa) == ("user 1", "user 2", 6,
                                                             pytest.approx(0.5))
    assert len(report.disagreements) == 2 and report.new["stance"] == 4


def test_kappa_is_the_synthetic_corpus_one():
    from crypto_news_bench.data.synthetic import cohen_kappa

    assert cohen_kappa(A, B, "stance") == pytest.approx(0.5)
    assert cohen_kappa(["neutral"] * 3, ["neutral"] * 3, "stance") == 1.0
    with pytest.raises(ValueError):
        cohen_kappa(A, B[:2], "stance")


def test_a_bad_task_name_is_an_error(page, capsys):
    tasks = _with(export_tasks(page, "boilerplate"), f"{page.id}:L1", task="sentiment")
    _refused(page, ls_export(tasks, boilerplate_answers(page)),
             "Label Studio task 1: unknown task 'sentiment'", capsys)


def test_import_errors_name_what_is_wrong_without_a_cli(page):
    tasks = export_tasks(page, "boilerplate")
    path = write_json(page.tmp / "x.json", ls_export(tasks, {f"{page.id}:L1": "menu"}))
    with pytest.raises(DataError, match="unknown label 'menu'"):
        import_exports([path], page.data_dir)
