"""The bench grid and harness: cells from bench.yaml, shards, resume/skip against the tracking
store, the report files, seeds aggregated on the leaderboard, and ``compare --vs``.

Only cheap configs are ever run (majority, tfidf_word_lr, vader; justext has no stance cell),
on stance, against SQLite stores in tmp; the transformer configs are only loaded.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import statistics
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from crypto_news_bench import __version__, cli
from crypto_news_bench.bench import harness, leaderboard
from crypto_news_bench.bench.grid import load_grid, parse_shard, shard
from crypto_news_bench.errors import ConfigError
from crypto_news_bench.models import MODELS, ModelSpec
from crypto_news_bench.tracking import registry, runs
from crypto_news_bench.tracking import store as tstore

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
DATA_DIR = REPO / "data"
CHEAP = ("majority", "tfidf_word_lr", "vader", "justext")
TRANSFORMERS = ("finetune", "setfit", "frozen_encoder")
# The bench these tests run: the cheap configs on stance (justext does boilerplate only).
STANCE_KEYS = ["stance/majority/seed0", "stance/tfidf_word_lr/seed0", "stance/vader/seed0"]
PNG = b"\x89PNG\r\n\x1a\n"


def write_grid(folder: Path, grid: dict | None, names=CHEAP, overrides: dict | None = None,
               grid_name: str = "grid") -> Path:
    """Copies of the named configs and defaults.yaml (50 bootstrap resamples, for speed) in
    ``folder``, ``overrides`` merged into a config's YAML, and ``<grid_name>.yaml``."""
    folder.mkdir(parents=True, exist_ok=True)
    defaults = yaml.safe_load((CONFIGS / "defaults.yaml").read_text(encoding="utf-8"))
    defaults["bootstrap_resamples"] = 50
    (folder / "defaults.yaml").write_text(yaml.safe_dump(defaults), encoding="utf-8")
    for name in names:
        data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text(encoding="utf-8"))
        for key, value in (overrides or {}).get(name, {}).items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    path = folder / f"{grid_name}.yaml"
    if grid is not None:
        path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    return path


def copy_data(folder: Path) -> Path:
    """raw/ and annotations/ of the repository's data: the bench builds processed/ here."""
    for sub in ("raw", "annotations"):
        shutil.copytree(DATA_DIR / sub, folder / sub)
    return folder


def keys(cells) -> list[str]:
    return [c.key for c in cells]


def parent_runs(uri: str, version: str | None = None) -> list:
    """Every parent run (any status) in the store, optionally of one package version."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    where = f"tags.`{runs.KIND_TAG}` = 'parent'"
    if version is not None:
        where += f" and tags.`cnbench.version` = '{version}'"
    return client.search_runs(ids, filter_string=where, max_results=50000)


def cell_key(run) -> str:
    t = run.data.tags
    return f"{t['cnbench.task']}/{t['cnbench.config']}/seed{t['cnbench.seed']}"


def as_version(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Pretend to be another release: what finished_keys looks for and what runs are tagged."""
    import crypto_news_bench

    monkeypatch.setattr(crypto_news_bench, "__version__", version)
    monkeypatch.setattr(runs, "__version__", version)


# -- load_grid ------------------------------------------------------------------------------


@pytest.fixture
def grid_dir(tmp_path: Path) -> Path:
    """Every cheap and transformer config, with defaults.yaml, and no grid file yet."""
    write_grid(tmp_path, None, names=CHEAP + TRANSFORMERS)
    return tmp_path


def grid_file(folder: Path, data: dict, name: str = "grid") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_load_grid_cells_in_order_each_config_on_its_tasks(grid_dir):
    path = grid_file(grid_dir, {"configs": ["majority", "finetune", "vader", "justext",
                                            "setfit", "tfidf_word_lr", "frozen_encoder"]})
    cells = load_grid(path)
    transformer = [f"{m}/seed{s}" for m in ("finetune",) for s in (0, 1, 2)]
    expected = []
    for task in ("boilerplate", "stance", "claim_type"):
        expected += [f"{task}/majority/seed0"]
        expected += [f"{task}/{t}" for t in transformer]
        expected += {"boilerplate": [f"{task}/justext/seed0"],
                     "stance": [f"{task}/vader/seed0"], "claim_type": []}[task]
        expected += [f"{task}/setfit/seed{s}" for s in (0, 1, 2)]
        expected += [f"{task}/tfidf_word_lr/seed0"]
        # The frozen encoder's head is deterministic: one seed, like the baselines.
        expected += [f"{task}/frozen_encoder/seed0"]
    assert keys(cells) == expected
    assert len(cells) == 3 * 10 - 1  # vader only on stance, justext only on boilerplate
    for cell in cells:
        assert cell.config.name == cell.key.split("/")[1]
        assert f"seed{cell.config.seed}" == cell.key.split("/")[2]
        assert cell.task in cell.config.tasks
    assert {c.task for c in cells if c.config.name == "vader"} == {"stance"}
    assert {c.task for c in cells if c.config.name == "justext"} == {"boilerplate"}


def test_load_grid_only_the_first_seed_fits_the_final_model(grid_dir):
    path = grid_file(grid_dir, {"configs": ["setfit", "majority"], "tasks": ["stance"],
                                "seeds": [7, 3, 5], "baseline_seeds": [4, 2]})
    cells = load_grid(path)
    assert [(c.key, c.final_model) for c in cells] == [
        ("stance/setfit/seed7", True), ("stance/setfit/seed3", False),
        ("stance/setfit/seed5", False),
        ("stance/majority/seed4", True), ("stance/majority/seed2", False),
    ]


def test_load_grid_tasks_restrict_and_order_the_cells(grid_dir):
    path = grid_file(grid_dir, {"configs": ["vader", "justext", "majority"],
                                "tasks": ["claim_type", "stance"]})
    assert keys(load_grid(path)) == ["claim_type/majority/seed0", "stance/vader/seed0",
                                     "stance/majority/seed0"]


def test_load_grid_single_names_are_lists_of_one(grid_dir):
    path = grid_file(grid_dir, {"configs": "majority", "tasks": "stance"})
    assert keys(load_grid(path)) == ["stance/majority/seed0"]


def test_load_grid_of_no_configs_is_empty(grid_dir):
    assert load_grid(grid_file(grid_dir, {"tasks": ["stance"]})) == []


def test_load_grid_of_the_repository(grid_dir):
    cells = load_grid(CONFIGS / "bench.yaml")
    grid = yaml.safe_load((CONFIGS / "bench.yaml").read_text(encoding="utf-8"))
    assert {c.config.name for c in cells} == set(grid["configs"])
    assert len(set(keys(cells))) == len(cells)
    for cell in cells:
        assert cell.task in MODELS[cell.config.model].tasks
        # Seeded models run seeds; the first of them fits the final model.
        assert cell.final_model == (cell.config.seed == (grid["seeds"][0]
                                    if MODELS[cell.config.model].seeded else 0))
    # Every (config, task) pair has exactly one cell that publishes a model.
    finals = [(c.config.name, c.task) for c in cells if c.final_model]
    assert len(finals) == len(set(finals)) == len({(c.config.name, c.task) for c in cells})


@pytest.mark.parametrize("data, message", [
    ({"configs": ["majority"], "seed": [0]},
     "unknown key(s) seed; valid keys: baseline_seeds, configs, seeds, tasks"),
    ({"configs": ["majority"], "models": [], "task": "stance"},
     "unknown key(s) models, task; valid keys: baseline_seeds, configs, seeds, tasks"),
    ({"configs": ["majority"], "tasks": ["stance", "sentiment"]},
     "unknown task 'sentiment'; valid tasks: boilerplate, stance, claim_type"),
    ({"configs": ["majority"], "seeds": []},
     "seeds must be a non-empty list of integers, got []"),
    ({"configs": ["majority"], "seeds": 3},
     "seeds must be a non-empty list of integers, got 3"),
    ({"configs": ["majority"], "seeds": [0, "1"]},
     "seeds must be a non-empty list of integers, got [0, '1']"),
    ({"configs": ["majority"], "baseline_seeds": [0.5]},
     "baseline_seeds must be a non-empty list of integers, got [0.5]"),
    ({"configs": ["majority"], "seeds": [True]},
     "seeds must be a non-empty list of integers, got [True]"),
    # A repeat would make two cells with one key, run twice by one bench.
    ({"configs": ["majority"], "seeds": [0, 1, 0]}, "seeds lists 0 more than once"),
    ({"configs": ["majority"], "baseline_seeds": [2, 2]}, "baseline_seeds lists 2 more than once"),
    ({"configs": ["majority", "vader", "majority"]}, "configs lists 'majority' more than once"),
    ({"configs": ["majority"], "tasks": ["stance", "stance"]},
     "tasks lists 'stance' more than once"),
])
def test_load_grid_errors(grid_dir, data, message):
    path = grid_file(grid_dir, data)
    with pytest.raises(ConfigError) as exc:
        load_grid(path)
    assert str(exc.value) == f"{path}: {message}"


def test_load_grid_missing_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_grid(tmp_path / "nope.yaml")
    assert str(exc.value) == f"{tmp_path / 'nope.yaml'}: grid file not found"


def test_load_grid_unknown_config(grid_dir):
    path = grid_file(grid_dir, {"configs": ["majority", "no_such_model"]})
    with pytest.raises(ConfigError) as exc:
        load_grid(path)
    assert str(exc.value) == f"{grid_dir / 'no_such_model.yaml'}: config file not found"


# -- shards ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("2/4", (2, 4)), ("1/1", (1, 1)), ("3/3", (3, 3))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text, message", [
    ("2", "--shard takes I/N, e.g. 1/4; got '2'"),
    ("a/b", "--shard takes I/N, e.g. 1/4; got 'a/b'"),
    ("1/2/3", "--shard takes I/N, e.g. 1/4; got '1/2/3'"),
    ("", "--shard takes I/N, e.g. 1/4; got ''"),
    ("0/3", "--shard 0/3: I must be between 1 and N"),
    ("4/3", "--shard 4/3: I must be between 1 and N"),
    ("1/0", "--shard 1/0: I must be between 1 and N"),
])
def test_parse_shard_errors(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_shard(text)
    assert str(exc.value) == message


def test_cli_bench_rejects_a_bad_shard_before_doing_anything(capsys, tmp_path):
    code = cli.main(["bench", "--shard", "0/3", "--data-dir", str(tmp_path / "none"),
                     "--results", str(tmp_path / "results")])
    assert code == 2
    assert capsys.readouterr().err == "error: --shard 0/3: I must be between 1 and N\n"
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 20])
def test_shards_partition_the_grid(count):
    cells = load_grid(CONFIGS / "bench.yaml")
    assert len(cells) > 5
    all_keys = keys(cells)
    parts = [keys(shard(cells, i, count)) for i in range(1, count + 1)]
    union = [k for part in parts for k in part]
    assert Counter(union) == Counter(all_keys)  # every cell exactly once
    for i in range(count):
        for j in range(i + 1, count):
            assert not set(parts[i]) & set(parts[j])
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    # Each shard keeps the grid's order.
    for part in parts:
        assert part == [k for k in all_keys if k in part]


# -- the bench against a tmp store ----------------------------------------------------------


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """One bench of the cheap configs on stance into a fresh store, with its report."""
    import mlflow

    root = tmp_path_factory.mktemp("bench")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    grid = write_grid(root / "configs", {"configs": list(CHEAP), "tasks": ["stance"]})
    write_grid(root / "configs", {"configs": ["majority"], "tasks": ["stance"]},
               grid_name="majority_only")
    data_dir = copy_data(root / "data")
    before = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        summary = harness.run_bench(grid, data_dir, results_dir=root / "results",
                                    progress=False, tracking_uri=uri)
        first = {cell_key(r): r for r in parent_runs(uri)}
        yield SimpleNamespace(uri=uri, root=root, grid=grid,
                              majority_only=root / "configs" / "majority_only.yaml",
                              data_dir=data_dir, results=root / "results", summary=summary,
                              first=first)
    mlflow.set_tracking_uri(before)


@pytest.fixture
def store(bench, monkeypatch):
    """The bench's store as MLflow's default for one test."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", bench.uri)
    mlflow.set_tracking_uri(bench.uri)
    return bench


def rerun(bench, grid: Path | None = None, **kwargs) -> harness.BenchSummary:
    kwargs.setdefault("data_dir", bench.data_dir)
    return harness.run_bench(grid or bench.grid, results_dir=None, progress=False,
                             tracking_uri=bench.uri, **kwargs)


def test_first_bench_runs_every_cell_once(store):
    assert store.summary.ran == STANCE_KEYS
    assert store.summary.skipped == []
    assert store.summary.seconds > 0
    assert sorted(store.first) == STANCE_KEYS
    for key, run in store.first.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["cnbench.version"] == __version__
        assert "macro_f1" in run.data.metrics, key


def test_second_bench_skips_every_finished_cell(store, capsys):
    before = {r.info.run_id for r in parent_runs(store.uri)}
    summary = rerun(store)
    assert summary.ran == []
    assert summary.skipped == STANCE_KEYS
    assert {r.info.run_id for r in parent_runs(store.uri)} == before
    assert "skipping 3 finished cell(s)" in capsys.readouterr().out


def test_force_reruns_every_cell(store):
    before = {r.info.run_id for r in parent_runs(store.uri)}
    summary = rerun(store, force=True)
    assert summary.ran == STANCE_KEYS
    assert summary.skipped == []
    new = [r for r in parent_runs(store.uri) if r.info.run_id not in before]
    assert sorted(cell_key(r) for r in new) == STANCE_KEYS
    assert all(r.info.status == "FINISHED" for r in new)


class _Interrupting(ModelSpec):
    """A model whose training is interrupted with Ctrl-C."""

    def build(self, task, seed, params):
        raise KeyboardInterrupt


def test_only_unfinished_cells_run_again(store, monkeypatch):
    from mlflow.tracking import MlflowClient

    version = "0.0.0+interrupted"  # a fresh namespace in the shared store
    as_version(monkeypatch, version)
    spec = MODELS["tfidf_word_lr"]
    monkeypatch.setitem(MODELS, "tfidf_word_lr", _Interrupting(
        **{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}))
    with pytest.raises(KeyboardInterrupt):
        rerun(store)
    status = {cell_key(r): r.info.status for r in parent_runs(store.uri, version)}
    # majority finished, tfidf_word_lr was interrupted, vader never started.
    assert status == {STANCE_KEYS[0]: "FINISHED", STANCE_KEYS[1]: "KILLED"}

    monkeypatch.setitem(MODELS, "tfidf_word_lr", spec)
    summary = rerun(store)
    assert summary.ran == STANCE_KEYS[1:]
    assert summary.skipped == STANCE_KEYS[:1]
    runs = parent_runs(store.uri, version)
    assert Counter(cell_key(r) for r in runs if r.info.status == "FINISHED") == {
        k: 1 for k in STANCE_KEYS}

    # A run that ended FAILED, or was deleted, does not count as finished.
    client = MlflowClient(tracking_uri=store.uri)
    by_key = {cell_key(r): r for r in runs if r.info.status == "FINISHED"}
    client.set_terminated(by_key[STANCE_KEYS[2]].info.run_id, "FAILED")
    client.delete_run(by_key[STANCE_KEYS[0]].info.run_id)
    summary = rerun(store)
    assert summary.ran == [STANCE_KEYS[0], STANCE_KEYS[2]]
    assert summary.skipped == [STANCE_KEYS[1]]
    assert rerun(store).ran == []


def test_changed_params_rerun_that_config_only(store, tmp_path):
    changed = write_grid(tmp_path / "configs", {"configs": list(CHEAP), "tasks": ["stance"]},
                         overrides={"tfidf_word_lr": {"params": {"C": 0.5}}})
    summary = rerun(store, changed)
    assert summary.ran == ["stance/tfidf_word_lr/seed0"]
    assert summary.skipped == ["stance/majority/seed0", "stance/vader/seed0"]
    newest = max((r for r in parent_runs(store.uri)
                  if cell_key(r) == "stance/tfidf_word_lr/seed0"),
                 key=lambda r: r.info.start_time)
    original = store.first["stance/tfidf_word_lr/seed0"]
    assert newest.data.params["params.C"] == "0.5"
    assert newest.data.tags["cnbench.config_hash"] != original.data.tags["cnbench.config_hash"]
    assert rerun(store, changed).ran == []


def test_changed_data_reruns(store, tmp_path, jsonl):
    data_dir = copy_data(tmp_path / "data")
    records = jsonl.read(data_dir / "annotations" / "stance.jsonl")
    records[0]["label"] = "neutral" if records[0]["label"] != "neutral" else "critical"
    jsonl.write(data_dir / "annotations" / "stance.jsonl", records)
    summary = rerun(store, store.majority_only, data_dir=data_dir)
    assert summary.ran == ["stance/majority/seed0"]
    assert summary.skipped == []
    newest = max(parent_runs(store.uri), key=lambda r: r.info.start_time)
    original = store.first["stance/majority/seed0"]
    assert (newest.data.tags["cnbench.dataset_hash"]
            != original.data.tags["cnbench.dataset_hash"])
    assert rerun(store, store.majority_only, data_dir=data_dir).ran == []
    # The original data is still done.
    assert rerun(store, store.majority_only).skipped == ["stance/majority/seed0"]


def test_another_package_version_reruns(store, monkeypatch):
    as_version(monkeypatch, "99.0.0")
    summary = rerun(store, store.majority_only)
    assert summary.ran == ["stance/majority/seed0"]
    runs = parent_runs(store.uri, "99.0.0")
    assert [cell_key(r) for r in runs] == ["stance/majority/seed0"]
    assert rerun(store, store.majority_only).ran == []


def test_shards_against_one_store_run_every_cell_once(bench, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    kwargs = dict(data_dir=bench.data_dir, results_dir=None, progress=False, tracking_uri=uri)
    one = harness.run_bench(bench.grid, shard=(1, 2), **kwargs)
    two = harness.run_bench(bench.grid, shard=(2, 2), **kwargs)
    assert one.ran == STANCE_KEYS[0::2]
    assert two.ran == STANCE_KEYS[1::2]
    assert one.skipped == two.skipped == []
    assert Counter(cell_key(r) for r in parent_runs(uri)) == {k: 1 for k in STANCE_KEYS}
    assert harness.run_bench(bench.grid, **kwargs).skipped == STANCE_KEYS
    # More shards than cells: the extra ones have nothing to do.
    empty = harness.run_bench(bench.grid, shard=(4, 4), **kwargs)
    assert (empty.ran, empty.skipped) == ([], [])


# -- the report -----------------------------------------------------------------------------


def test_report_files(bench):
    results = bench.results
    assert (results / "stance.png").read_bytes().startswith(PNG)
    assert (results / "per_class_f1.png").read_bytes().startswith(PNG)
    # No cell of the other tasks ran: no chart for them.
    assert not (results / "boilerplate.png").exists()
    assert not (results / "claim_type.png").exists()
    text = (results / "leaderboard.md").read_text(encoding="utf-8")
    assert "### stance" in text
    assert "### boilerplate" not in text and "### claim_type" not in text
    assert "![stance](stance.png)" in text
    assert "![per-class F1](per_class_f1.png)" in text

    lines = text.splitlines()
    start = lines.index("### stance")
    table = [ln for ln in lines[start + 4:] if ln.startswith("| ")]
    assert len(table) == len(STANCE_KEYS)
    runs = sorted(bench.first.values(), key=lambda r: -r.data.metrics["macro_f1"])
    for rank, (line, run) in enumerate(zip(table, runs, strict=True), 1):
        m = run.data.metrics
        untrained = run.data.tags["cnbench.model"] in ("vader", "justext")
        assert line.startswith(
            f"| {rank} | {run.data.tags['cnbench.config']} | "
            f"{'untrained' if untrained else 'real+synthetic'} | {m['macro_f1']:.3f} "
            f"[{m['macro_f1_ci_low']:.3f}, {m['macro_f1_ci_high']:.3f}] | ± 0.000 (1) | ")
        assert line.endswith(f"| `{run.info.run_id}` |")


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


# -- --jobs: cells in parallel worker processes ----------------------------------------------


def test_parallel_bench_matches_the_sequential_one(bench, tmp_path, monkeypatch):
    """Two workers run each cell once, score what one process scored, and leave the champion
    alias where the sequential bench left it (moved once, at the end)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    summary = harness.run_bench(bench.grid, copy_data(tmp_path / "data"), results_dir=None,
                                progress=False, tracking_uri=uri, jobs=2)
    assert sorted(summary.ran) == STANCE_KEYS
    runs = {cell_key(r): r for r in parent_runs(uri)}
    assert sorted(runs) == STANCE_KEYS  # once each
    for key, run in runs.items():
        assert run.info.status == "FINISHED"
        assert run.data.metrics["macro_f1"] == bench.first[key].data.metrics["macro_f1"], key
    best = max(runs.values(), key=lambda r: r.data.metrics["macro_f1"])
    champion = MlflowClient(uri).get_model_version_by_alias(
        f"stance-{best.data.tags['cnbench.config']}", registry.CHAMPION)
    assert champion.run_id == best.info.run_id
    # And a second parallel bench finds every cell finished.
    again = harness.run_bench(bench.grid, tmp_path / "data", results_dir=None, progress=False,
                              tracking_uri=uri, jobs=2)
    assert (again.ran, sorted(again.skipped)) == ([], STANCE_KEYS)


def test_parallel_bench_that_fails_still_crowns_what_finished(tmp_path, monkeypatch):
    """A cell failing in a worker stops the bench with its error; the cells that finished
    are in the store and the champion alias is set from them (workers never set it)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # Submitted last (all three are equally cheap), so both others have started by then.
    grid = write_grid(tmp_path / "configs",
                      {"configs": ["majority", "vader", "tfidf_word_lr"], "tasks": ["stance"]},
                      overrides={"tfidf_word_lr": {"params": {"min_df": 100000}}})
    # A valid config (min_df is a positive integer) that fails at fit: no word is that common.
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df"):
        harness.run_bench(grid, copy_data(tmp_path / "data"), results_dir=None,
                          progress=False, tracking_uri=uri, jobs=2)
    runs = {cell_key(r): r for r in parent_runs(uri)}
    assert runs["stance/majority/seed0"].info.status == "FINISHED"
    assert runs["stance/vader/seed0"].info.status == "FINISHED"
    assert runs["stance/tfidf_word_lr/seed0"].info.status == "FAILED"
    champion = MlflowClient(uri).get_model_version_by_alias("stance-vader", registry.CHAMPION)
    assert champion.run_id == runs["stance/vader/seed0"].info.run_id


def test_jobs_below_one_are_refused(bench, capsys):
    with pytest.raises(ValueError, match="jobs=0: expected 1 or more"):
        harness.run_bench(bench.grid, bench.data_dir, results_dir=None, jobs=0)
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--jobs", "0"])
    assert exc.value.code == 2
    assert "argument --jobs: expected a whole number of 1 or more, got '0'" in \
        capsys.readouterr().err


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
