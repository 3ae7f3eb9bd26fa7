"""The benchmark harness behind ``cnbench bench`` / ``make bench``: build the dataset, run every
unfinished cell of the grid with tracking, and write the report under ``bench/results/``."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..data import dataset
from ..errors import TrackingError
from ..models import MODELS
from ..tracking import orphans, registry, store
from ..train import train
from . import grid, report

RESULTS_DIR = Path("bench/results")


@dataclass
class BenchSummary:
    ran: list[str]
    skipped: list[str]
    seconds: float
    # The leaderboard the report was written from (empty when no report was asked for).
    boards: dict = field(default_factory=dict)


def run_bench(grid_path: Path | str = grid.CONFIG_DIR / grid.GRID_FILE,
              data_dir: Path | str = dataset.DATA_DIR, force: bool = False,
              shard: tuple[int, int] | None = None,
              results_dir: Path | str | None = RESULTS_DIR, progress: bool = True,
              tracking_uri: str | None = None,
              readme: Path | str | None = None, jobs: int = 1) -> BenchSummary:
    """Run every unfinished cell of the grid, ``jobs`` at a time, and write the report.

    With ``jobs > 1`` each cell runs in a worker process with ``cores // jobs`` torch threads.
    On two cores two one-thread workers finish the grid sooner than one two-thread process
    (small matrices keep a second thread half idle; bench/results/perf.md). Thread counts
    change float rounding, so scores may differ from ``jobs=1`` in the last digits.
    """
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: expected 1 or more")
    from tqdm.auto import tqdm

    start = time.perf_counter()
    cells = grid.load_grid(grid_path)
    if shard is not None:
        cells = grid.shard(cells, *shard)
    dataset.build(data_dir)
    store.setup(tracking_uri)
    orphans.mark_orphans(sorted({c.task for c in cells}))
    hashes = {t: dataset.dataset_hash(t, data_dir) for t in {c.task for c in cells}}
    done = set() if force else grid.finished_keys(cells, hashes)
    todo = [c for c in cells if c.key not in done]
    skipped = [c.key for c in cells if c.key in done]
    if skipped:
        print(f"skipping {len(skipped)} finished cell(s) (same config, data and version); "
              "--force reruns them", flush=True)
    bar = tqdm(total=len(todo), desc="grid", unit="cell", disable=not progress, position=0)
    try:
        for cell, (f1, (low, high), cell_seconds) in _run_cells(todo, data_dir, tracking_uri,
                                                                jobs, bar):
            # Seconds include the final fit and model logging: where the grid's time goes.
            bar.write(f"{cell.key:<40} macro-F1 {f1:.3f} [{low:.3f}, {high:.3f}]  "
                      f"{cell_seconds:5.1f} s")
            bar.update(1)
    except BaseException as exc:
        bar.close()
        # After an error or Ctrl-C the models that did finish still get their aliases; a
        # lost store cannot take them, and the error in hand is the one to report.
        if not isinstance(exc, TrackingError):
            with contextlib.suppress(Exception):
                _update_aliases(todo)
        raise
    bar.close()
    _update_aliases(todo)
    seconds = time.perf_counter() - start
    boards = {}
    if results_dir is not None:
        boards = report.write_report(results_dir)
        if readme is not None and Path(readme).exists():
            report.update_readme(readme, results_dir)
    return BenchSummary([c.key for c in todo], skipped, seconds, boards)


def _update_aliases(cells: list) -> None:
    """Move the champion and challenger aliases of the tasks of ``cells``, once per task.

    Cells leave them alone: parallel workers would race on them, and a config's later seeds
    change its mean over seeds after its model (logged with the first seed) is registered.
    """
    for task in dict.fromkeys(c.task for c in cells):
        registry.update_aliases(task)


def _run_cells(cells: list, data_dir, tracking_uri: str | None, jobs: int, bar):
    """(cell, (macro-F1, interval, seconds)) for each cell as it finishes: in this process, or
    in ``jobs`` worker processes taking the next cell as they free up."""
    if jobs == 1:
        for cell in cells:
            bar.set_postfix_str(cell.key)
            yield cell, _run_cell(cell, data_dir, tracking_uri)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # Experiments are created here, once: two workers creating one would collide.
    for task in dict.fromkeys(c.task for c in cells):
        store.experiment_id(task)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(threads,))
    # Costliest first (fine-tuning, then encoder + head, first seeds with their final fit
    # before the others): the cheap cells fill the gaps at the end instead of one long cell
    # running alone on one thread while the other core idles.
    queue = sorted(cells, key=lambda c: (-MODELS[c.config.model].cost,
                                         not c.final_model))
    pending: dict = {}
    try:
        # Never more cells submitted than workers: the executor hands queued work to a worker
        # as soon as one frees, so after Ctrl-C one more cell would start and be waited for.
        while queue or pending:
            while queue and len(pending) < jobs:
                cell = queue.pop(0)
                pending[pool.submit(_run_cell, cell, data_dir, tracking_uri)] = cell
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()
    except KeyboardInterrupt:
        _interrupt_workers(pool, pending)
        raise
    finally:
        # On an error or Ctrl-C: no new cells; finished ones are in the store for a resume.
        pool.shutdown(wait=True, cancel_futures=True)


def _interrupt_workers(pool, pending: dict, grace: float = 2.0, limit: float = 20.0) -> None:
    """Ctrl-C: end the running cells' runs KILLED within seconds.

    In a terminal the whole process group gets SIGINT and the workers end their runs
    themselves; a SIGINT sent to this process alone reaches them from here, after a short
    grace so that no worker is interrupted twice. A worker still busy after ``limit``
    seconds is terminated (its run is then marked FAILED by the next bench).
    """
    import signal
    from concurrent.futures import wait

    if not pending:
        return
    _, running = wait(pending, timeout=grace)
    if running:
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGINT)
        _, running = wait(running, timeout=limit)
    if running:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    # Training-step bars from several workers would interleave; the grid bar is the parent's.
    os.environ["TQDM_DISABLE"] = "1"


def _run_cell(cell, data_dir, tracking_uri: str | None
              ) -> tuple[float, tuple[float, float], float]:
    """(macro-F1, its interval, seconds): all a worker sends back; the rest is in MLflow."""
    start = time.perf_counter()
    ev = train(cell.config, cell.task, data_dir, tracking_uri=tracking_uri,
               final_model=cell.final_model, aliases=False).evaluation
    ci = (float(ev.ci[0]), float(ev.ci[1]))
    return float(ev.metrics["macro_f1"]), ci, time.perf_counter() - start
