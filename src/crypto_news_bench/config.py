"""Experiment configs: YAML files under ``configs/``, validated on load.

A config is plain data: ``model`` names an entry of the model registry, ``params`` are that
model's constructor arguments, and the rest overrides ``configs/defaults.yaml``. Anything
unknown is an error that lists the valid choices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .models import MODELS
from .schema import TASKS

CONFIG_DIR = Path("configs")
DEFAULTS_FILE = "defaults.yaml"
DEFAULT_KEYS = {"seed", "tasks", "bootstrap_resamples", "confidence", "train_on", "train_cap"}
CONFIG_KEYS = DEFAULT_KEYS | {"model", "params", "description", "extends"}
# What each leave-one-real-document-out fold trains on (the test page is always real).
TRAIN_ON = ("real", "synthetic", "real+synthetic")


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    tasks: tuple[str, ...] = tuple(TASKS)
    bootstrap_resamples: int = 1000
    confidence: float = 0.95
    description: str = ""
    train_on: str = "real+synthetic"
    # At most this many training units per fit: every real one is kept, the synthetic ones
    # are a seeded sample of the rest (None: no cap).
    train_cap: int | None = None

    def digest(self) -> str:
        """Hash of everything that shapes the results except the name and the seed."""
        import hashlib
        import json

        content = {k: v for k, v in self.flat().items() if k not in ("name", "seed",
                                                                      "description")}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()
                              ).hexdigest()[:16]

    def flat(self) -> dict[str, Any]:
        """Flattened for MLflow params: ``params.C`` and so on."""
        out = {k: v for k, v in asdict(self).items() if k != "params"}
        out["tasks"] = ",".join(self.tasks)
        out.update({f"params.{k}": v for k, v in sorted(self.params.items())})
        return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _check_keys(path: Path, data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(allowed))}"
        )


def validate(name: str, data: dict, where: str | Path = "<config>") -> ExperimentConfig:
    where = Path(where)
    _check_keys(where, data, CONFIG_KEYS)
    model = data.get("model")
    if model not in MODELS:
        raise ConfigError(
            f"{where}: unknown model {model!r}; valid models: {', '.join(MODELS)}"
        )
    spec = MODELS[model]
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params must be a mapping")
    valid_params = spec.param_names()
    unknown = sorted(set(params) - set(valid_params))
    if unknown:
        raise ConfigError(
            f"{where}: unknown param(s) {', '.join(unknown)} for model {model!r}; valid params: "
            f"{', '.join(valid_params) or '(none)'}"
        )
    tasks = data.get("tasks", list(spec.tasks))
    if isinstance(tasks, str):
        tasks = [tasks]
    for task in tasks:
        if task not in TASKS:
            raise ConfigError(f"{where}: unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
        if task not in spec.tasks:
            raise ConfigError(
                f"{where}: model {model!r} does not support task {task!r}; it supports: "
                f"{', '.join(spec.tasks)}"
            )
    for key, kind in (("seed", int), ("bootstrap_resamples", int), ("confidence", float)):
        if key in data and not isinstance(data[key], (kind, int)):
            raise ConfigError(f"{where}: {key} must be a number, got {data[key]!r}")
    if not 0 < float(data.get("confidence", 0.95)) < 1:
        raise ConfigError(f"{where}: confidence must be between 0 and 1")
    train_on = data.get("train_on", "real+synthetic")
    if train_on not in TRAIN_ON:
        raise ConfigError(f"{where}: train_on must be one of {', '.join(TRAIN_ON)}; got "
                          f"{train_on!r}")
    cap = data.get("train_cap")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ConfigError(f"{where}: train_cap must be a whole number of 1 or more, or null; "
                          f"got {cap!r}")
    return ExperimentConfig(
        name=name, model=model, params=dict(params), seed=int(data.get("seed", 0)),
        tasks=tuple(tasks), bootstrap_resamples=int(data.get("bootstrap_resamples", 1000)),
        confidence=float(data.get("confidence", 0.95)),
        description=str(data.get("description", spec.description)),
        train_on=train_on, train_cap=cap,
    )


def _read_config(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A config file's keys, on top of the file it ``extends`` (a sibling config's name).

    ``params`` merge key by key, so a variant states only what it changes (nanoGPT-style
    overrides): ``extends: tfidf_word_lr`` with ``train_on: real`` is that model on the real
    pages only.
    """
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{path}: extends must name a config in {path.parent}, got {parent!r}")
    base_path = path.parent / f"{parent}.yaml"
    if base_path.resolve() in chain or base_path.resolve() == path.resolve():
        raise ConfigError(f"{path}: extends {parent!r} makes a cycle")
    if not base_path.exists() or base_path.name in (DEFAULTS_FILE, "bench.yaml"):
        raise ConfigError(f"{path}: extends {parent!r}, but {base_path} is not a model config")
    base = _read_config(base_path, (*chain, path.resolve()))
    base.pop("description", None)  # the variant's own, or its model's
    params = {**(base.get("params") or {}), **(data.get("params") or {})}
    merged = {**base, **data}
    if params:
        merged["params"] = params
    return merged


def load_config(path: Path | str, overrides: dict | None = None) -> ExperimentConfig:
    """Read ``path`` (on top of the config it ``extends``, if any) on top of the
    ``defaults.yaml`` beside it (if any), then ``overrides``."""
    path = Path(path)
    defaults_path = path.parent / DEFAULTS_FILE
    merged: dict = {}
    if defaults_path.exists() and defaults_path != path:
        defaults = _read_yaml(defaults_path)
        _check_keys(defaults_path, defaults, DEFAULT_KEYS)
        merged.update(defaults)
    data = _read_config(path)
    merged.update(data)
    # Tasks inherited from the defaults are narrowed to what the model supports (VADER does
    # stance only); tasks a config names itself must all be supported.
    if "tasks" not in data and merged.get("model") in MODELS and "tasks" in merged:
        supported = MODELS[merged["model"]].tasks
        merged["tasks"] = [t for t in merged["tasks"] if t not in TASKS or t in supported]
    merged.update(overrides or {})
    return validate(path.stem, merged, path)


def tasks_to_run(config: ExperimentConfig, task: str) -> list[str]:
    """``--task all`` means the config's tasks; a named task must be valid for its model."""
    if task == "all":
        return list(config.tasks)
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; valid tasks: all, {', '.join(TASKS)}")
    if task not in MODELS[config.model].tasks:
        raise ConfigError(
            f"model {config.model!r} does not support task {task!r}; it supports: "
            f"{', '.join(MODELS[config.model].tasks)}"
        )
    return [task]


def list_configs(config_dir: Path | str = CONFIG_DIR) -> list[Path]:
    """Every model config in the folder (the defaults and the bench grid are not models)."""
    return sorted(p for p in Path(config_dir).glob("*.yaml")
                  if p.name not in (DEFAULTS_FILE, "bench.yaml"))
