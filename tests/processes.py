"""Helpers for tests that run ``cnbench`` in real processes (tests/tracking/test_store.py,
tests/bench/test_harness.py): a copy of the repository's data, a grid folder, the environment
of a process, and waiting for a store to reach a state (the parent runs of a store:
``conftest.parent_runs``)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CNBENCH = Path(sys.executable).parent / "cnbench"


def copy_data(dst: Path) -> Path:
    """The repository's data folder (pages, labels, synthetic corpus), built there."""
    for name in ("raw", "annotations", "synthetic"):
        shutil.copytree(REPO / "data" / name, dst / name)
    return dst


def write_grid(folder: Path, configs: dict[str, str], tasks: list[str],
               seeds: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "configs" / "defaults.yaml", folder / "defaults.yaml")
    for name, text in configs.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    seeds = seeds or [0]
    (folder / "bench.yaml").write_text(
        f"configs: {list(configs)}\ntasks: {tasks}\nseeds: {seeds}\nbaseline_seeds: [0]\n",
        encoding="utf-8")
    return folder / "bench.yaml"


def env_for(uri: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def wait_for(predicate, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process ended ({proc.returncode}) before {what}: "
                        f"{proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")
