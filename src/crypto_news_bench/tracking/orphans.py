"""Runs whose process is gone: told from live ones by host, process id and heartbeat, and
marked FAILED with a tag saying why, so that none stays RUNNING for ever."""

from __future__ import annotations

import calendar
import os
import socket
import time

from .runs import (
    ENDED_TAG,
    HEARTBEAT_TAG,
    HOST_TAG,
    KIND_TAG,
    ORPHAN_AFTER_S,
    PID_TAG,
    utc_timestamp,
)
from .store import experiment_name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphan_reason(tags: dict[str, str], now: float | None = None,
                  host: str | None = None) -> str | None:
    """Why a RUNNING run is orphaned, or None while it may still be alive.

    On this host, a run whose process is gone is orphaned at once; elsewhere (we cannot see
    the process), one whose heartbeat is older than ``ORPHAN_AFTER_S``.
    """
    now = time.time() if now is None else now
    host = socket.gethostname() if host is None else host
    beat = tags.get(HEARTBEAT_TAG)
    try:
        beat_s = calendar.timegm(time.strptime(beat, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        beat_s = None
    pid = tags.get(PID_TAG, "")
    if tags.get(HOST_TAG) == host and pid.isdigit() and not _alive(int(pid)):
        return f"its process {pid} on {host} is gone (last heartbeat {beat or 'never'})"
    if beat_s is None or now - beat_s > ORPHAN_AFTER_S:
        return (f"no heartbeat for over {ORPHAN_AFTER_S // 3600} h (last {beat or 'never'}, "
                f"process {pid or '?'} on {tags.get(HOST_TAG, '?')})")
    return None


def mark_orphans(tasks) -> list[str]:
    """Mark RUNNING parent runs (and their folds) whose process is gone FAILED, with a tag
    saying why; returns their ids. ``cnbench train`` and ``bench`` call it first, so a run
    left behind by a crash or a lost server never stays RUNNING."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    marked = []
    for task in tasks:
        exp = client.get_experiment_by_name(experiment_name(task))
        if exp is None:
            continue
        running = client.search_runs([exp.experiment_id],
                                     filter_string="attributes.status = 'RUNNING'",
                                     max_results=50000)
        for run in running:
            if run.data.tags.get(KIND_TAG) != "parent":
                continue
            reason = orphan_reason(run.data.tags)
            if reason is None:
                continue
            note = f"marked FAILED by cnbench at {utc_timestamp()}: {reason}"
            for child in running:
                if child.data.tags.get("mlflow.parentRunId") == run.info.run_id:
                    client.set_tag(child.info.run_id, ENDED_TAG, note)
                    client.set_terminated(child.info.run_id, "FAILED")
            client.set_tag(run.info.run_id, ENDED_TAG, note)
            client.set_terminated(run.info.run_id, "FAILED")
            marked.append(run.info.run_id)
    return marked
