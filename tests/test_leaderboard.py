"""The leaderboard read back from a temporary tracking store: ranking, latest run per config,
the three output formats, the bar chart, and ``cnbench compare``."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import pytest

from crypto_news_bench import cli
from crypto_news_bench.bench import leaderboard
from crypto_news_bench.bench.leaderboard import Row
from crypto_news_bench.config import load_config
from crypto_news_bench.tracking import runs
from crypto_news_bench.tracking import store as tstore
from crypto_news_bench.train import train

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"
CONFIGS = REPO / "configs"
FAST = {"bootstrap_resamples": 200}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """tfidf_word_lr once and majority twice on stance, plus two parent runs that did not
    finish (a failed one with a perfect score, and one still running)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("leaderboard")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        tfidf = train(load_config(CONFIGS / "tfidf_word_lr.yaml", FAST), "stance",
                      data_dir=DATA_DIR, tracking_uri=uri)
        majority = [train(load_config(CONFIGS / "majority.yaml", FAST), "stance",
                          data_dir=DATA_DIR, tracking_uri=uri) for _ in range(2)]
        client = MlflowClient(tracking_uri=uri)
        exp_id = client.get_experiment_by_name(tstore.experiment_name("stance")).experiment_id
        unfinished = []
        for status in ("FAILED", None):
            run = client.create_run(exp_id, tags={runs.KIND_TAG: "parent",
                                                  "cnbench.config": f"ghost-{status}"})
            client.log_metric(run.info.run_id, "macro_f1", 0.99)
            if status:
                client.set_terminated(run.info.run_id, status)
            unfinished.append(run.info.run_id)
        mlflow.set_tracking_uri(uri)
        yield SimpleNamespace(uri=uri, tfidf=tfidf, majority=majority, client=client,
                              unfinished=unfinished)


@pytest.fixture
def boards(store, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    mlflow.set_tracking_uri(store.uri)
    return leaderboard.collect()


def test_collect_latest_run_per_config_best_first(store, boards):
    assert list(boards) == ["stance"]  # no other task has an experiment in this store
    rows = boards["stance"]
    assert sorted(r.config for r in rows) == ["majority", "tfidf_word_lr"]
    assert [r.macro_f1 for r in rows] == sorted((r.macro_f1 for r in rows), reverse=True)
    by_config = {r.config: r for r in rows}
    assert by_config["majority"].run_id == store.majority[1].run_id  # the latest of the two
    assert by_config["tfidf_word_lr"].run_id == store.tfidf.run_id
    assert not {r.run_id for r in rows} & set(store.unfinished)


def test_collect_row_values(store, boards):
    row = {r.config: r for r in boards["stance"]}["tfidf_word_lr"]
    ev = store.tfidf.evaluation
    assert row.task == "stance"
    assert row.model == "tfidf_word_lr"
    assert row.macro_f1 == pytest.approx(ev.metrics["macro_f1"])
    assert (row.ci_low, row.ci_high) == pytest.approx(ev.ci)
    assert row.secondary_metric == "f1_pro_crit"
    assert row.secondary == pytest.approx(ev.metrics["f1_pro_crit"])
    assert row.fit_seconds == pytest.approx(ev.fit_seconds)
    run = store.client.get_run(store.tfidf.run_id)
    assert row.start_time == run.info.start_time


def test_collect_all_runs(store, boards):
    rows = leaderboard.collect("stance", all_runs=True)["stance"]
    assert sorted(r.run_id for r in rows) == sorted(
        [store.tfidf.run_id] + [m.run_id for m in store.majority])
    assert [r.macro_f1 for r in rows] == sorted((r.macro_f1 for r in rows), reverse=True)
    # Ties (the same config twice) keep the newest first.
    majority = [r.run_id for r in rows if r.config == "majority"]
    assert majority == [store.majority[1].run_id, store.majority[0].run_id]


def test_collect_one_task_and_a_task_without_runs(boards):
    assert list(leaderboard.collect("stance")) == ["stance"]
    # A task named but never run shows as an empty board, not as nothing.
    assert leaderboard.collect("claim_type") == {"claim_type": []}


def test_render_markdown(boards):
    text = leaderboard.render(boards, "md")
    lines = text.splitlines()
    assert lines[0] == "### stance"
    assert lines[2] == ("| rank | model | trained on | macro-F1 [95% CI] | ± sd (seeds) | "
                        "f1_pro_crit | fit time (s) | units/s | run id |")
    rows = boards["stance"]
    for i, r in enumerate(rows, 1):
        assert lines[3 + i].startswith(
            f"| {i} | {r.config} | {r.train_on} | "
            f"{r.macro_f1:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | "
            f"± 0.000 (1) | {r.secondary:.3f} | ")
        assert lines[3 + i].endswith(f"| `{r.run_id}` |")
    assert len(lines) == 4 + len(rows)
    assert text.endswith("\n")


def test_render_markdown_empty_board():
    assert "| | (no finished runs) | | | | | | | |" in leaderboard.render({"stance": []}, "md")


def test_render_csv(boards):
    reader = csv.DictReader(io.StringIO(leaderboard.render(boards, "csv")))
    rows = list(reader)
    # Per-class F1 is a nested mapping: it is in the JSON, not in the flat CSV.
    assert reader.fieldnames == [f.name for f in fields(Row) if f.name != "per_class_f1"]
    expected = boards["stance"]
    assert [r["run_id"] for r in rows] == [r.run_id for r in expected]
    for got, want in zip(rows, expected, strict=True):
        assert got["config"] == want.config and got["task"] == "stance"
        assert float(got["macro_f1"]) == pytest.approx(want.macro_f1)
        assert float(got["ci_low"]) == pytest.approx(want.ci_low)
        assert int(got["start_time"]) == want.start_time


def test_render_json(boards):
    data = json.loads(leaderboard.render(boards, "json"))
    assert list(data) == ["stance"]
    expected = boards["stance"]
    assert [r["run_id"] for r in data["stance"]] == [r.run_id for r in expected]
    assert set(data["stance"][0]) == {f.name for f in fields(Row)}
    assert data["stance"][0]["macro_f1"] == pytest.approx(expected[0].macro_f1)


def test_render_unknown_format(boards):
    with pytest.raises(ValueError) as exc:
        leaderboard.render(boards, "xml")
    assert str(exc.value) == "unknown format 'xml'; valid formats: md, csv, json"


def test_bar_chart_writes_a_png(boards, tmp_path):
    path = leaderboard.bar_chart(boards, tmp_path / "sub" / "chart.png")
    assert path == tmp_path / "sub" / "chart.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bar_chart_with_no_rows(tmp_path):
    path = leaderboard.bar_chart({"stance": []}, tmp_path / "empty.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_cli_compare_json(store, boards, tmp_path, capsys):
    chart = tmp_path / "c.png"
    code = cli.main(["compare", "--format", "json", "--chart", str(chart)])
    assert code == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert [r["run_id"] for r in data["stance"]] == [r.run_id for r in boards["stance"]]
    assert all(math.isfinite(r["macro_f1"]) for r in data["stance"])
    assert err == f"chart: {chart}\n"
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_cli_compare_all_csv(store, boards, tmp_path, capsys):
    code = cli.main(["compare", "--task", "stance", "--all", "--format", "csv",
                     "--chart", str(tmp_path / "c.png")])
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 3
