"""crypto_news_bench.bench.harness (``cnbench bench``): a bench of the cheap configs on stance
(majority, tfidf_word_lr, vader; justext has no stance cell), against SQLite stores in tmp, runs
every cell once and skips finished cells; it reruns a cell when forced, when it did not finish,
and when its config, the data or the package version changed; shards share one store. With
``--jobs`` workers score what one process scores; the champion and challenger aliases move
once, at the end, and a failing cell still leaves them set from what finished; Ctrl-C kills the
running cells and starts no other (slow, real processes)."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import processes
import pytest
from conftest import CHEAP, STANCE_KEYS, cell_key, copy_data, parent_runs, write_grid
from processes import CNBENCH, env_for, wait_for

from crypto_news_bench import __version__, cli
from crypto_news_bench.bench import harness
from crypto_news_bench.models import MODELS, ModelSpec
from crypto_news_bench.tracking import registry, runs


def as_version(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Pretend to be another release: what finished_keys looks for and what runs are tagged."""
    import crypto_news_bench

    monkeypatch.setattr(crypto_news_bench, "__version__", version)
    monkeypatch.setattr(runs, "__version__", version)


@pytest.fixture
def store(bench_store):
    """The bench's store (conftest's ``bench``) as MLflow's default for one test."""
    return bench_store


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


def test_aliases_move_once_at_the_end_of_a_bench(bench, tmp_path, monkeypatch):
    """Cells leave the champion and challenger alone (a config's later seeds change its mean
    after its model is registered); the bench moves them once per task, at the end."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    calls = []
    real = registry.update_aliases

    def update(task):
        calls.append((task, len(parent_runs(uri))))
        return real(task)

    monkeypatch.setattr(registry, "update_aliases", update)
    harness.run_bench(bench.majority_only, copy_data(tmp_path / "data"), results_dir=None,
                      progress=False, tracking_uri=uri)
    assert calls == [("stance", 1)]
    assert registry.champion_uri("stance") == "models:/crypto-news-bench-stance@champion"


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
    best, second = sorted(runs.values(), key=lambda r: -r.data.metrics["macro_f1"])[:2]
    client = MlflowClient(uri)
    name = registry.registered_name("stance")
    assert client.get_model_version_by_alias(name, registry.CHAMPION).run_id == \
        best.info.run_id
    assert client.get_model_version_by_alias(name, registry.CHALLENGER).run_id == \
        second.info.run_id
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
    client = MlflowClient(uri)
    name = registry.registered_name("stance")
    assert client.get_model_version_by_alias(name, registry.CHAMPION).run_id == \
        runs["stance/vader/seed0"].info.run_id
    assert client.get_model_version_by_alias(name, registry.CHALLENGER).run_id == \
        runs["stance/majority/seed0"].info.run_id


def test_jobs_below_one_are_refused(bench, capsys):
    with pytest.raises(ValueError, match="jobs=0: expected 1 or more"):
        harness.run_bench(bench.grid, bench.data_dir, results_dir=None, jobs=0)
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--jobs", "0"])
    assert exc.value.code == 2
    assert "argument --jobs: expected a whole number of 1 or more, got '0'" in \
        capsys.readouterr().err


# -- Ctrl-C to a parallel bench -------------------------------------------------------------


@pytest.mark.slow
def test_sigint_to_a_parallel_bench_kills_the_running_cells_and_starts_no_other(tmp_path,
                                                                                 tiny_bert):
    data = processes.copy_data(tmp_path / "data")
    from crypto_news_bench.data import dataset

    dataset.build(data)
    grid = processes.write_grid(tmp_path / "configs", {
        "slow": f"model: finetune\ntrain_cap: 300\nparams:\n  model_name_or_path: {tiny_bert}\n"
                "  epochs: 40\n  batch_size: 8\n"}, ["stance"], seeds=[0, 1, 2, 3])
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    bench = subprocess.Popen(
        [str(CNBENCH), "bench", "--grid", str(grid), "--data-dir", str(data), "--jobs", "2",
         "--results", str(tmp_path / "results"), "--readme", "-"], cwd=tmp_path,
        env=env_for(uri), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len([r for r in parent_runs(uri) if r.info.status == "RUNNING"]) == 2,
                 180, "two RUNNING cells", bench)
        time.sleep(2)
        sent = time.monotonic()
        bench.send_signal(signal.SIGINT)  # to the bench alone, not to its workers
        _, err = bench.communicate(timeout=60)
        seconds = time.monotonic() - sent
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, err[-3000:]
    assert seconds < 15, f"took {seconds:.1f} s to stop"
    runs = parent_runs(uri)
    # The two running cells ended KILLED; no third cell was started.
    assert sorted(r.info.status for r in runs) == ["KILLED", "KILLED"]
