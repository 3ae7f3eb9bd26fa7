"""The benchmark grid: the (config, task, seed) cells ``cnbench bench`` runs, from bench.yaml.

A cell is finished when the tracking store holds a FINISHED parent run with the same config
(name and content hash), task, seed, dataset hash and package version: such cells are skipped
unless forced, so an interrupted bench resumes where it stopped. ``shard`` splits the cells
for many machines that log to one shared MLflow server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config import CONFIG_DIR, ExperimentConfig, load_config
from ..data.schema import TASKS, get_task
from ..errors import ConfigError
from ..models import MODELS

GRID_FILE = "bench.yaml"
GRID_KEYS = {"configs", "tasks", "seeds", "baseline_seeds"}


@dataclass(frozen=True)
class Cell:
    config: ExperimentConfig
    task: str
    # The first seed of a config fits, logs and registers the final model; further seeds
    # only measure the spread of the scores.
    final_model: bool = True

    @property
    def key(self) -> str:
        return f"{self.task}/{self.config.name}/seed{self.config.seed}"


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def _seeds(path: Path, data: dict, key: str, default: list[int]) -> list[int]:
    seeds = data.get(key, default)
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"{path}: {key} must be a non-empty list of integers, got {seeds!r}")
    _no_repeats(path, key, seeds)
    return seeds


def _no_repeats(path: Path, key: str, values: list) -> None:
    """A repeated config, task or seed would make two cells with one key (run twice)."""
    repeated = [v for i, v in enumerate(values) if v in values[:i]]
    if repeated:
        raise ConfigError(f"{path}: {key} lists {repeated[0]!r} more than once")


def load_grid(path: Path | str = CONFIG_DIR / GRID_FILE) -> list[Cell]:
    """Every cell of the grid, in a fixed order (task-major, then config, then seed).

    Models whose training depends on the seed (fine-tuning, SetFit) run ``seeds``; the
    deterministic ones (baselines, untrained tools, the frozen encoder's logistic head) run
    ``baseline_seeds`` (one seed: more would repeat the same numbers).
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: grid file not found") from None
    unknown = sorted(set(data) - GRID_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; valid keys: "
                          f"{', '.join(sorted(GRID_KEYS))}")
    # A single name is a list of one, as in the model configs.
    tasks = _as_list(data.get("tasks", list(TASKS)))
    names = _as_list(data.get("configs", []))
    for task in tasks:
        get_task(task, path, ConfigError)
    _no_repeats(path, "tasks", tasks)
    _no_repeats(path, "configs", names)
    seeds = _seeds(path, data, "seeds", [0, 1, 2])
    baseline_seeds = _seeds(path, data, "baseline_seeds", [0])
    configs = [load_config(path.parent / f"{name}.yaml") for name in names]
    cells = []
    for task in tasks:
        for config in configs:
            if task not in config.tasks:
                continue
            run_seeds = seeds if MODELS[config.model].seeded else baseline_seeds
            for seed in run_seeds:
                cells.append(Cell(config.for_task(task).replace(seed=seed), task,
                                  final_model=seed == run_seeds[0]))
    return cells


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` with 1 <= I <= N (a Slurm array ``--array=1-N`` passes its index as I)."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard takes I/N, e.g. 1/4; got {text!r}") from None
    if not 1 <= index <= count:
        raise ConfigError(f"--shard {text}: I must be between 1 and N")
    return index, count


def shard(cells: list[Cell], index: int, count: int) -> list[Cell]:
    """Every ``count``-th cell starting at the ``index``-th (1-based): shards are disjoint and
    together cover the grid exactly once."""
    return cells[index - 1::count]


def finished_keys(cells: list[Cell], dataset_hashes: dict[str, str]) -> set[str]:
    """Keys of cells with a FINISHED parent run for the same config, data and version."""
    from .. import __version__
    from ..tracking import runs

    done = set()
    for task in sorted({c.task for c in cells}):
        found = runs.finished_parent_runs(
            task, f"tags.`cnbench.version` = '{__version__}' and "
                  f"tags.`cnbench.dataset_hash` = '{dataset_hashes[task]}'")
        keys = {(r.data.tags.get("cnbench.config"), r.data.tags.get("cnbench.config_hash"),
                 r.data.tags.get("cnbench.seed")) for r in found}
        for cell in cells:
            if cell.task == task and (cell.config.name, cell.config.digest(),
                                      str(cell.config.seed)) in keys:
                done.add(cell.key)
    return done
