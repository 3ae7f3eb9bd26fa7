"""The benchmark grid: the (config, task) cells ``cnbench bench`` runs, from bench.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import CONFIG_DIR, ExperimentConfig, load_config
from .errors import ConfigError
from .schema import TASKS

GRID_FILE = "bench.yaml"
GRID_KEYS = {"configs", "tasks"}


@dataclass(frozen=True)
class Cell:
    config: ExperimentConfig
    task: str

    @property
    def key(self) -> str:
        return f"{self.config.name}/{self.task}/seed{self.config.seed}"


def load_grid(path: Path | str = CONFIG_DIR / GRID_FILE) -> list[Cell]:
    """Every (config, task) of the grid, skipping tasks a model does not support."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: grid file not found") from None
    unknown = sorted(set(data) - GRID_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; valid keys: "
                          f"{', '.join(sorted(GRID_KEYS))}")
    tasks = data.get("tasks", list(TASKS))
    for task in tasks:
        if task not in TASKS:
            raise ConfigError(f"{path}: unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    cells = []
    for name in data.get("configs", []):
        config = load_config(path.parent / f"{name}.yaml")
        cells += [Cell(config, t) for t in tasks if t in config.tasks]
    return cells
