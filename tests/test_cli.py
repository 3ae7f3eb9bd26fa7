"""``cnbench``: a light --help, and clean exit-2 errors for bad configs and tasks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crypto_news_bench import cli

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_help_in_a_subprocess():
    out = subprocess.run([str(BIN / "cnbench"), "--help"], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: cnbench ")
    for command in ("data", "train", "compare"):
        assert command in out.stdout


def test_building_the_parser_imports_neither_mlflow_nor_torch():
    code = ("import sys, crypto_news_bench.cli as c; c.build_parser(); "
            "print('mlflow' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "usage: cnbench" in capsys.readouterr().out


def test_version(capsys):
    from crypto_news_bench import __version__

    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"cnbench {__version__}\n"


def test_train_missing_config_exits_2(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    code = cli.main(["train", "configs/does_not_exist.yaml"])
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: configs/does_not_exist.yaml: config file not found\n"


def test_train_missing_config_in_a_subprocess():
    out = subprocess.run([str(BIN / "cnbench"), "train", "configs/does_not_exist.yaml"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 2
    assert "configs/does_not_exist.yaml" in out.stderr
    assert "Traceback" not in out.stderr


def test_train_unknown_task_exits_2(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    code = cli.main(["train", "configs/tfidf_word_lr.yaml", "--task", "sentiment"])
    assert code == 2
    assert capsys.readouterr().err == (
        "error: unknown task 'sentiment'; valid tasks: all, boilerplate, stance, claim_type\n")


def test_train_task_the_model_does_not_support_exits_2(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    code = cli.main(["train", "configs/vader.yaml", "--task", "boilerplate"])
    assert code == 2
    assert capsys.readouterr().err == (
        "error: model 'vader' does not support task 'boilerplate'; it supports: stance\n")


def test_train_bad_config_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("model: bert\n")
    assert cli.main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: unknown model 'bert'; valid models: ")


def test_train_missing_dataset_exits_2(tmp_path, capsys):
    code = cli.main(["train", str(REPO / "configs" / "majority.yaml"), "--task", "stance",
                     "--data-dir", str(tmp_path), "--no-track"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'processed'}: dataset not built; run `cnbench data build` first\n")


def test_train_no_track_prints_the_score(capsys):
    code = cli.main(["train", str(REPO / "configs" / "majority.yaml"), "--task", "stance",
                     "--data-dir", str(REPO / "data"), "--no-track", "--seed", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("stance       majority         macro-F1 ")
    assert out.splitlines()[0].endswith("run -")


def test_unknown_subcommand_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["fly"])
    assert exc.value.code == 2
    assert "invalid choice: 'fly'" in capsys.readouterr().err
