"""The Label Studio round trip against a real server (Label Studio 1.23, in ``.venv-annotate``).

A page is added with ``data add``; its tasks, pre-annotated by a cheap champion, go into a real
Label Studio started on 127.0.0.1 (a free port, a temporary data folder, its own process group,
stopped after) through the SDK; an annotator's labels are submitted through its API; the
project's JSON export comes back through ``cnbench annotate import``; the rebuilt dataset has
the labels. Boilerplate first, then stance and claim type on the content sentences, as a user
would. ``make test`` builds ``.venv-annotate`` first; run alone, the test builds it, and skips
only where the package index cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from annotating import (
    PAGE_BOILERPLATE,
    PAGE_SENTENCES,
    REPO,
    add_page,
    cheap_store,
    use_store,
)
from servers import free_port, stop, wait_healthy

from crypto_news_bench.annotation import exporter, label_studio, pool
from crypto_news_bench.cli import main
from crypto_news_bench.data import dataset

pytestmark = pytest.mark.slow

ENV_DIR = REPO / ".venv-annotate"
CLIENT = Path(__file__).resolve().parents[1] / "label_studio_client.py"
USER, PASSWORD, TOKEN = "annotator@example.com", "cnbench-test-pass", "cnbench0test0token0123"
STANCE = ["neutral", "neutral", "critical", "promotional", "neutral", "critical"]
CLAIM = ["self_assertion", "self_assertion", "opinion", "quantity", "opinion",
         "legal_regulatory"]


def _index_reachable() -> bool:
    probe = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "label-studio"],
                           capture_output=True, timeout=120)
    return probe.returncode == 0


def server_env() -> Path:
    """``.venv-annotate``, built by ``make annotate-server-env`` when missing."""
    if (ENV_DIR / ".installed").exists():
        return ENV_DIR
    built = subprocess.run(["make", "annotate-server-env"], cwd=REPO, capture_output=True,
                           text=True, timeout=1800)
    if built.returncode == 0:
        return ENV_DIR
    if not _index_reachable():
        pytest.skip("Label Studio's environment is missing and the package index cannot be "
                    "reached to build it (make annotate-server-env)")
    pytest.fail(f"make annotate-server-env failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}")


def start_server(env_dir: Path, folder: Path, port: int, timeout: float = 300):
    """Label Studio on 127.0.0.1:``port`` over a data folder in ``folder``, healthy on return.

    The folder starts as a copy of the database the Makefile migrated once: a new database
    takes about two minutes of migrations, a migrated one seconds."""

    data = folder / "label-studio"
    if (env_dir / "migrated").exists():
        shutil.copytree(env_dir / "migrated", data)
    data.mkdir(exist_ok=True)
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data),
           "LABEL_STUDIO_USERNAME": USER, "LABEL_STUDIO_PASSWORD": PASSWORD,
           "LABEL_STUDIO_USER_TOKEN": TOKEN, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           # No calls out: version check, analytics, error reporting.
           "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false", "SENTRY_DSN": "",
           "FRONTEND_SENTRY_DSN": ""}
    env.pop("VIRTUAL_ENV", None)
    log = (folder / "label-studio.log").open("a")
    proc = subprocess.Popen(
        [str(env_dir / "bin" / "label-studio"), "start", "--no-browser", "--internal-host",
         "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return wait_healthy(proc, f"http://127.0.0.1:{port}/health", folder / "label-studio.log",
                        timeout, "label-studio")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env_dir = server_env()
    folder = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    started = time.monotonic()
    proc = start_server(env_dir, folder, port)
    print(f"label studio up in {time.monotonic() - started:.1f} s")
    yield type("Server", (), {"url": f"http://127.0.0.1:{port}", "env": env_dir,
                              "folder": folder})
    stop(proc)


def label_in_label_studio(server, page, task: str, answers: dict[str, str]) -> Path:
    """Export the task's units, label them in Label Studio, return its JSON export."""
    tasks = page.tmp / f"{task}-tasks.json"
    report = exporter.export_tasks(task, page.data_dir, tasks, model="champion")
    config = page.tmp / f"{task}.xml"
    config.write_text(label_studio.interface_xml(task), encoding="utf-8")
    chosen = page.tmp / f"{task}-answers.json"
    chosen.write_text(json.dumps(answers), encoding="utf-8")
    out = page.tmp / f"{task}-export.json"
    ran = subprocess.run([str(server.env / "bin" / "python"), str(CLIENT), server.url, TOKEN,
                          str(config), str(tasks), str(chosen), str(out)],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-4000:]
    summary = json.loads(ran.stdout.strip().splitlines()[-1])
    assert summary["tasks"] == report.n_tasks == len(answers)
    # The server holds each pre-annotation as written: label, score, model version.
    sent = {t["data"]["unit_id"]: t["predictions"][0]
            for t in json.loads(tasks.read_text(encoding="utf-8")) if "predictions" in t}
    assert len(sent) == (len(answers) if report.model_version else 0)
    held = {p["unit_id"]: p for p in summary["predictions"]}
    assert held.keys() == sent.keys()
    for uid, pred in sent.items():
        assert held[uid]["model_version"] == pred["model_version"] == report.model_version
        assert held[uid]["score"] == pytest.approx(pred["score"])
        assert held[uid]["label"] == pred["result"][0]["value"]["choices"][0]
    print(f"{task}: {summary}")
    return out


def test_round_trip_through_a_real_label_studio(server, tmp_path, tmp_path_factory,
                                                monkeypatch, capsys):
    started = time.monotonic()
    use_store(cheap_store(tmp_path_factory), monkeypatch)
    page = add_page(tmp_path)
    blocks = {f"{page.id}:L{n}": "boilerplate" if f"L{n}" in PAGE_BOILERPLATE else "content"
              for n in range(1, 7)}
    export = label_in_label_studio(server, page, "boilerplate", blocks)

    # The real export has the shape the importer (and the hand-made exports of the fast
    # tests) rely on, the predictions made by the champion included.
    tasks = json.loads(export.read_text(encoding="utf-8"))
    assert len(tasks) == 6
    for task in tasks:
        (annotation,) = task["annotations"]
        assert annotation["was_cancelled"] is False and isinstance(task["id"], int)
        (result,) = annotation["result"]
        assert {k: result[k] for k in ("from_name", "to_name", "type")} == {
            "from_name": "label", "to_name": "text", "type": "choices"}
        assert result["value"]["choices"] == [blocks[task["data"]["unit_id"]]]
        assert len(task["predictions"]) == 1  # listed by id in the export

    assert main(["annotate", "import", str(export), "--data-dir", str(page.data_dir)]) == 0
    assert "boilerplate: 6 new" in capsys.readouterr().out
    sentences = [f"{page.id}:{s}" for s in PAGE_SENTENCES]
    for task, labels in (("stance", STANCE), ("claim_type", CLAIM)):
        answers = dict(zip(sentences, labels, strict=True))
        export = label_in_label_studio(server, page, task, answers)
        assert main(["annotate", "import", str(export), "--annotator", "ls-annotator",
                     "--data-dir", str(page.data_dir)]) == 0
        assert f"{task}: 6 new" in capsys.readouterr().out

    dataset.build(page.data_dir)
    for task, expected in (("boilerplate", blocks),
                           ("stance", dict(zip(sentences, STANCE, strict=True))),
                           ("claim_type", dict(zip(sentences, CLAIM, strict=True)))):
        real = dataset.load(task, page.data_dir, split="real")
        names = real.features["label"].names
        got = {u: names[lab] for u, lab in zip(real["id"], real["label"], strict=True)
               if u.startswith(page.id)}
        assert got == expected
    labels = pool.current_labels(page.data_dir, "boilerplate")
    assert all(labels[u] for u in blocks)
    print(f"round trip in {time.monotonic() - started:.1f} s")
