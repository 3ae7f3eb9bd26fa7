"""crypto_news_bench.bench.grid: the cells of a grid file (bench.yaml), in order, each config on
the tasks its model supports, with its seeds; a bad grid refused with one line; ``--shard I/N``
parsed, and the shards partitioning the grid. Configs are only loaded here, nothing runs (the
bench itself: test_harness.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import CHEAP, write_grid

from crypto_news_bench import cli
from crypto_news_bench.bench.grid import load_grid, parse_shard, shard
from crypto_news_bench.errors import ConfigError
from crypto_news_bench.models import MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
TRANSFORMERS = ("finetune", "setfit", "frozen_encoder")


def keys(cells) -> list[str]:
    return [c.key for c in cells]


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
    # A cell runs its task's config: per_task applied (fine-tuning caps only boilerplate).
    finetune = {(c.task, c.config.train_cap, c.config.params["epochs"]) for c in cells
                if c.config.name == "finetune"}
    assert finetune == {("boilerplate", 600, 3), ("stance", None, 2), ("claim_type", None, 2)}
    assert all(not c.config.per_task for c in cells)


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
