"""crypto_news_bench.serving.publish with the run ids the leaderboard prints: every one publishes
(the bench's cheap configs), the row of a seeded config names the seed that holds the model, and
publishing a seed without one is refused with the id of the run that has it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto_news_bench.serving import publish as publish_mod


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}



def test_every_run_id_the_leaderboard_prints_publishes(bench_store, tmp_path):
    import re

    from crypto_news_bench.bench import leaderboard

    printed = re.findall(r"`([0-9a-f]{32})`",
                         leaderboard.render(leaderboard.collect(), "md"))
    assert len(printed) == len(bench_store.first)
    for run_id in printed:
        out = publish_mod.publish(run_id, tmp_path / run_id, tracking_uri=bench_store.uri)
        assert {"model.skops", "labels.json", "README.md"} <= files_in(out)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """majority on stance as the bench runs a seeded config: seed 0 with the final model,
    seeds 1 and 2 without."""
    import mlflow

    from crypto_news_bench.config import load_config
    from crypto_news_bench.train import train

    repo = Path(__file__).resolve().parents[2]
    uri = f"sqlite:///{tmp_path_factory.mktemp('seeds') / 'mlflow.db'}"
    before = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        config = load_config(repo / "configs" / "majority.yaml", {"bootstrap_resamples": 20})
        ids = [train(config.replace(seed=seed), "stance", repo / "data", tracking_uri=uri,
                     final_model=seed == 0).run_id for seed in (0, 1, 2)]
    mlflow.set_tracking_uri(before)
    return uri, ids


def test_the_leaderboard_names_the_seed_with_the_model(seeds, tmp_path, monkeypatch):
    import mlflow

    from crypto_news_bench.bench import leaderboard

    uri, (first, _, _) = seeds
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    (row,) = leaderboard.collect("stance")["stance"]
    assert (row.config, row.n_seeds, row.run_id) == ("majority", 3, first)
    assert "model.skops" in files_in(publish_mod.publish(row.run_id, tmp_path / "out",
                                                         tracking_uri=uri))


def test_a_seed_without_a_model_names_the_run_that_has_it(seeds, tmp_path, monkeypatch,
                                                           capsys):
    from crypto_news_bench import cli

    uri, (first, second, _) = seeds
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out = tmp_path / "out"
    assert cli.main(["publish", second, "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: run {second} (seed 1) holds no model; the model of majority on stance is in "
        f"run {first}: cnbench publish {first} --out {out}\n")
    assert not out.exists()
