"""crypto_news_bench.bench.leaderboard: the leaderboard read back from temporary tracking stores:
ranking, latest run per config, seeds aggregated (latest run per seed), the three output formats,
the bar chart and ``cnbench compare``; the paired comparison of two configs and
``cnbench compare --vs``, on the runs of a bench."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import statistics
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import cell_key, copy_data, parent_runs, write_grid

from crypto_news_bench import cli
from crypto_news_bench.bench import harness, leaderboard
from crypto_news_bench.bench.leaderboard import Row
from crypto_news_bench.config import load_config
from crypto_news_bench.errors import ConfigError
from crypto_news_bench.tracking import runs
from crypto_news_bench.tracking import store as tstore
from crypto_news_bench.train import train

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "data"
CONFIGS = REPO / "configs"
FAST = {"bootstrap_resamples": 200}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
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


# The paired comparisons read the runs of a bench (conftest's ``bench``); the other tests here
# read ``trained``.
ON_THE_BENCH = {
    "test_paired_comparison_of_two_configs",
    "test_paired_comparison_of_a_config_with_itself",
    "test_paired_comparison_unknown_config",
    "test_cli_compare_vs",
    "test_cli_compare_vs_json_finds_the_tasks_with_both",
    "test_cli_compare_vs_unknown_config",
}


@pytest.fixture
def store(request):
    """The store a test reads: the bench's (``bench_store``) for the paired comparisons, else
    ``trained``."""
    name = "bench_store" if request.node.originalname in ON_THE_BENCH else "trained"
    return request.getfixturevalue(name)


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
    assert lines[2] == ("| rank | model | trained on | macro-F1 [95% CI] | ± sd (seeds) | ECE | "
                        "f1_pro_crit | fit time (s) | units/s | run id |")
    rows = boards["stance"]
    for i, r in enumerate(rows, 1):
        ece = "—" if math.isnan(r.ece) else f"{r.ece:.3f}"
        assert lines[3 + i].startswith(
            f"| {i} | {r.config} | {r.train_on} | "
            f"{r.macro_f1:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | "
            f"± 0.000 (1) | {ece} | {r.secondary:.3f} | ")
        assert lines[3 + i].endswith(f"| `{r.run_id}` |")
    assert len(lines) == 4 + len(rows)
    assert text.endswith("\n")


def test_render_markdown_empty_board():
    assert "| | (no finished runs) | | | | | | | | |" in leaderboard.render({"stance": []}, "md")


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


# -- seeds on the leaderboard ---------------------------------------------------------------


def test_leaderboard_aggregates_seeds_latest_run_per_seed(mlflow_store):
    from mlflow.tracking import MlflowClient

    tstore.setup(mlflow_store)
    exp = tstore.experiment_id("stance")
    client = MlflowClient(tracking_uri=mlflow_store)

    def log(seed: int, f1: float, start: int, status: str = "FINISHED") -> str:
        run = client.create_run(exp, start_time=start, tags={
            runs.KIND_TAG: "parent", "cnbench.config": "X", "cnbench.model": "majority",
            "cnbench.seed": str(seed)})
        for name, value in {"macro_f1": f1, "macro_f1_ci_low": f1 - 0.1,
                            "macro_f1_ci_high": f1 + 0.1}.items():
            client.log_metric(run.info.run_id, name, value)
        client.set_terminated(run.info.run_id, status)
        return run.info.run_id

    log(0, 0.4, 1_000)
    seed1 = log(1, 0.6, 2_000)
    log(2, 1.0, 2_500, status="FAILED")  # not finished: not on the board
    (row,) = leaderboard.collect("stance")["stance"]
    assert row.config == "X"
    assert row.n_seeds == 2
    assert row.macro_f1 == pytest.approx(0.5)
    assert row.macro_f1_sd == pytest.approx(statistics.stdev([0.4, 0.6]))
    assert row.macro_f1_sd == pytest.approx(0.141421, abs=1e-6)
    assert (row.ci_low, row.ci_high) == pytest.approx((0.4, 0.6))
    assert row.run_id == seed1
    assert "| 1 | X | real | 0.500 [0.400, 0.600] | ± 0.141 (2) |" in leaderboard.render(
        {"stance": [row]}, "md")

    # Seed 1 again: its newer run replaces the older one in the mean.
    seed1_again = log(1, 0.8, 3_000)
    (row,) = leaderboard.collect("stance")["stance"]
    assert row.n_seeds == 2
    assert row.macro_f1 == pytest.approx(0.6)
    assert row.macro_f1_sd == pytest.approx(statistics.stdev([0.4, 0.8]))
    assert row.run_id == seed1_again
    # --all lists the three finished runs on their own.
    rows = leaderboard.collect("stance", all_runs=True)["stance"]
    assert sorted(r.macro_f1 for r in rows) == pytest.approx([0.4, 0.6, 0.8])
    assert all(r.n_seeds == 1 and r.macro_f1_sd == 0 for r in rows)


class HandMade:
    """Finished parent runs of config X on stance, written straight into a store."""

    def __init__(self, uri: str):
        from mlflow.tracking import MlflowClient

        tstore.setup(uri)
        self.exp = tstore.experiment_id("stance")
        self.client = MlflowClient(tracking_uri=uri)
        self.clock = 1_000

    def run(self, seed: int, metrics: dict[str, float], model: bool = False) -> str:
        self.clock += 1_000
        tags = {runs.KIND_TAG: "parent", "cnbench.config": "X", "cnbench.model": "majority",
                "cnbench.seed": str(seed), "cnbench.task": "stance"}
        if model:
            tags["cnbench.model_uri"] = "models:/m-0123"
        run = self.client.create_run(self.exp, start_time=self.clock, tags=tags)
        for name, value in {"macro_f1": 0.5, **metrics}.items():
            self.client.log_metric(run.info.run_id, name, value)
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id


def test_row_names_the_run_that_holds_the_model(mlflow_store):
    """The bench logs a config's model with its first seed only; the row's run id is that
    run's, however many later seeds ran, so that `cnbench publish <run id>` works."""
    made = HandMade(mlflow_store)
    first = made.run(0, {}, model=True)
    made.run(1, {})
    made.run(2, {})
    (row,) = leaderboard.collect("stance")["stance"]
    assert (row.n_seeds, row.run_id) == (3, first)
    assert row.start_time == made.clock  # still the newest run's
    # A newer run of the first seed with a model takes over.
    again = made.run(0, {}, model=True)
    assert leaderboard.collect("stance")["stance"][0].run_id == again


def test_row_without_a_model_names_its_newest_run(mlflow_store):
    made = HandMade(mlflow_store)
    made.run(0, {})
    newest = made.run(1, {})
    assert leaderboard.collect("stance")["stance"][0].run_id == newest


def test_ece_is_the_mean_over_seeds(mlflow_store):
    made = HandMade(mlflow_store)
    made.run(0, {"ece": 0.1, "brier": 0.5})
    made.run(1, {"ece": 0.3, "brier": 0.7})
    (row,) = leaderboard.collect("stance")["stance"]
    assert row.ece == pytest.approx(0.2)
    md = leaderboard.render({"stance": [row]}, "md")
    assert "| ± 0.000 (2) | 0.200 | " in md
    (got,) = csv.DictReader(io.StringIO(leaderboard.render({"stance": [row]}, "csv")))
    assert float(got["ece"]) == pytest.approx(0.2)
    assert json.loads(leaderboard.render({"stance": [row]}, "json"))["stance"][0]["ece"] == \
        pytest.approx(0.2)


def test_ece_of_runs_without_it_is_a_dash(mlflow_store):
    """Runs from before the calibrated protocol have no ECE: a dash in markdown, null in
    JSON, and the other numbers as before."""
    made = HandMade(mlflow_store)
    made.run(0, {})
    (row,) = leaderboard.collect("stance")["stance"]
    assert math.isnan(row.ece)
    line = leaderboard.render({"stance": [row]}, "md").splitlines()[4]
    assert line.startswith("| 1 | X | real | 0.500 [nan, nan] | ± 0.000 (1) | — | ")
    data = json.loads(leaderboard.render({"stance": [row]}, "json"))
    assert data["stance"][0]["ece"] is None
    assert data["stance"][0]["macro_f1"] == 0.5


# -- compare --vs ---------------------------------------------------------------------------


def latest_finished(uri: str, config: str):
    return max((r for r in parent_runs(uri) if r.info.status == "FINISHED"
                and cell_key(r) == f"stance/{config}/seed0"), key=lambda r: r.info.start_time)


def test_paired_comparison_of_two_configs(store):
    from mlflow.tracking import MlflowClient

    out = leaderboard.paired_comparison("stance", "tfidf_word_lr", "majority",
                                        n_resamples=100)
    client = MlflowClient(tracking_uri=store.uri)
    run_a, run_b = client.get_run(out["run_a"]), client.get_run(out["run_b"])
    assert out["run_a"] == latest_finished(store.uri, "tfidf_word_lr").info.run_id
    assert out["run_b"] == latest_finished(store.uri, "majority").info.run_id
    assert (out["task"], out["a"], out["b"]) == ("stance", "tfidf_word_lr", "majority")
    assert out["diff"] == pytest.approx(run_a.data.metrics["macro_f1"]
                                        - run_b.data.metrics["macro_f1"])
    assert out["diff"] != 0
    assert out["low"] <= out["diff"] <= out["high"]
    assert 0 <= out["p_value"] <= 1
    assert out["n_resamples"] == 100
    # Swapping A and B flips the sign of the difference.
    swapped = leaderboard.paired_comparison("stance", "majority", "tfidf_word_lr",
                                            n_resamples=100)
    assert swapped["diff"] == pytest.approx(-out["diff"])


def test_paired_comparison_of_a_config_with_itself(store):
    out = leaderboard.paired_comparison("stance", "majority", "majority", n_resamples=50)
    assert out["run_a"] == out["run_b"]
    assert out["diff"] == 0
    assert (out["low"], out["high"]) == (0.0, 0.0)


def test_paired_comparison_unknown_config(store):
    with pytest.raises(ConfigError) as exc:
        leaderboard.paired_comparison("stance", "tfidf_word_lr", "no_such_config")
    assert str(exc.value) == "no finished stance run of config 'no_such_config' in the store"


def test_paired_comparison_refuses_runs_on_different_gold(tmp_path, monkeypatch):
    """Two runs in one store, the second on data where one stance label was changed: their
    out-of-fold predictions cannot be paired, and the error names the unit."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    original = copy_data(tmp_path / "original")
    relabelled = copy_data(tmp_path / "relabelled")
    path = relabelled / "annotations" / "stance.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    changed = records[0]
    changed["label"] = "neutral" if changed["label"] != "neutral" else "critical"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    for name, data_dir in (("majority", original), ("tfidf_word_lr", relabelled)):
        grid = write_grid(tmp_path / f"configs-{name}", {"configs": [name], "tasks": ["stance"]})
        harness.run_bench(grid, data_dir, results_dir=None, progress=False, tracking_uri=uri)
    with pytest.raises(ConfigError) as exc:
        leaderboard.paired_comparison("stance", "tfidf_word_lr", "majority", n_resamples=10)
    run_a = latest_finished(uri, "tfidf_word_lr").info.run_id
    run_b = latest_finished(uri, "majority").info.run_id
    assert str(exc.value) == (
        f"runs {run_a} and {run_b} were not scored on the same gold units: 1 of "
        f"{len(records)} differ, e.g. {changed['id']} (different dataset versions?)")


@pytest.fixture
def fewer_resamples(monkeypatch):
    """``compare --vs`` with 100 resamples instead of 1000 (each costs two macro-F1s)."""
    monkeypatch.setattr(leaderboard, "paired_comparison",
                        functools.partial(leaderboard.paired_comparison, n_resamples=100))


def test_cli_compare_vs(store, fewer_resamples, capsys):
    expected = leaderboard.paired_comparison("stance", "tfidf_word_lr", "majority")
    assert cli.main(["compare", "--vs", "tfidf_word_lr", "majority", "--task", "stance"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"stance       tfidf_word_lr - majority: macro-F1 difference {expected['diff']:+.3f} "
        f"[95% CI {expected['low']:+.3f}, {expected['high']:+.3f}], "
        f"p(A <= B) = {expected['p_value']:.3f} (")
    assert lines[0].endswith("; paired bootstrap, 100 resamples)")


def test_cli_compare_vs_json_finds_the_tasks_with_both(store, fewer_resamples, capsys):
    # No --task: stance is the only task with runs of both configs.
    assert cli.main(["compare", "--vs", "tfidf_word_lr", "majority", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["task"] for r in data] == ["stance"]
    expected = leaderboard.paired_comparison("stance", "tfidf_word_lr", "majority")
    assert data[0] == expected


def test_cli_compare_vs_unknown_config(store, capsys):
    assert cli.main(["compare", "--vs", "tfidf_word_lr", "nope"]) == 2
    assert capsys.readouterr().err == (
        "error: no task has finished runs of both 'tfidf_word_lr' and 'nope'\n")
