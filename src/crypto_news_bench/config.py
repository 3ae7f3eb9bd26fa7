"""Experiment configs: YAML files under ``configs/``, validated on load.

A config is plain data: ``model`` names an entry of the model registry, ``params`` are that
model's constructor arguments, and the rest overrides ``configs/defaults.yaml``; ``extends``
starts from another config of the folder. Everything is checked when the file loads, before
anything trains: an unknown key, model, parameter or task is an error listing the valid
choices, and a value of the wrong type or out of range is an error naming the file, the key,
the value and what is allowed. The checks are a pydantic model (``ExperimentConfig``) and,
for ``params``, one built from the estimator's own signature (``models.params``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .data.schema import TASKS, get_task
from .errors import ConfigError
from .models import MODELS
from .models.params import NonNegativeInt, PositiveInt

CONFIG_DIR = Path("configs")
DEFAULTS_FILE = "defaults.yaml"
DEFAULT_KEYS = {"seed", "tasks", "bootstrap_resamples", "confidence", "train_on", "train_cap"}
CONFIG_KEYS = DEFAULT_KEYS | {"model", "params", "description", "extends", "per_task"}
# What a config's ``per_task`` may change for one task.
PER_TASK_KEYS = {"train_cap", "train_on", "params"}
# What each leave-one-real-document-out fold trains on (the test page is always real).
TRAIN_ON = ("real", "synthetic", "real+synthetic")
TrainOn = Literal["real", "synthetic", "real+synthetic"]


class ExperimentConfig(BaseModel):
    """One validated experiment: a model, its parameters, and how the protocol runs it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str
    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    seed: NonNegativeInt = 0
    tasks: tuple[str, ...] = tuple(TASKS)
    bootstrap_resamples: PositiveInt = 1000
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    description: str = ""
    train_on: TrainOn = "real+synthetic"
    # At most this many training units per fit: every real one is kept, the synthetic ones
    # are a seeded sample of the rest (None: no cap).
    train_cap: PositiveInt | None = None
    # {task: {train_cap, train_on, params}}: what differs for one task (``for_task``), e.g. a
    # budget for long boilerplate blocks that short sentences do not need.
    per_task: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("tasks", mode="before")
    @classmethod
    def _tasks_as_tuple(cls, value: Any) -> Any:
        # YAML gives a list, or one name as a string; both mean the same tasks.
        if isinstance(value, str):
            return (value,)
        return tuple(value) if isinstance(value, list) else value

    def digest(self) -> str:
        """Hash of everything that shapes the results except the name and the seed."""
        content = {k: v for k, v in self.flat().items() if k not in ("name", "seed",
                                                                      "description")}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()
                              ).hexdigest()[:16]

    def for_task(self, task: str, where: str | Path | None = None) -> ExperimentConfig:
        """The config as it runs on ``task``: its ``per_task`` entry applied (``params`` merge
        key by key) and no ``per_task`` left, so training and tracking see one config."""
        if not self.per_task:
            return self
        data = self.model_dump()
        override = dict(data.pop("per_task").get(task, {}))
        data["params"] = {**data["params"], **override.pop("params", {})}
        data.update(override)
        return validate(data.pop("name"), data, where or f"<{self.name} on {task}>")

    def flat(self) -> dict[str, Any]:
        """Flattened for MLflow params: ``params.C`` and so on."""
        out = {k: v for k, v in self.model_dump().items()
               if k != "params" and not (k == "per_task" and not v)}
        out["tasks"] = ",".join(self.tasks)
        out.update({f"params.{k}": v for k, v in sorted(self.params.items())})
        return out

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with ``changes``, validated like a config file."""
        data = {**self.model_dump(), **changes}
        return validate(data.pop("name"), data, f"<{self.name}>")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        reason = str(exc).replace("\n", " ")
        raise ConfigError(f"{path}: not valid YAML ({reason})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}: keys must be names, got {bad[0]!r}")
    return data


def _shown(name: Any) -> str:
    """A key as typed when it is a plain name, else quoted (keeps the message one line)."""
    return name if isinstance(name, str) and name.isidentifier() else repr(name)


def _check_keys(path: Path | str, data: dict, allowed: set[str]) -> None:
    unknown = sorted(_shown(k) for k in set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(allowed))}"
        )


def _value_error(where: Path | str, exc: ValidationError, prefix: str = "") -> ConfigError:
    """The first error of a pydantic validation as one line: file, key, value, what is allowed."""
    err = exc.errors()[0]
    key = prefix + ".".join(str(part) for part in err["loc"])
    return ConfigError(f"{where}: {key} = {err.get('input')!r}: {err['msg']}")


def validate(name: str, data: dict, where: str | Path = "<config>") -> ExperimentConfig:
    _check_keys(where, data, CONFIG_KEYS)
    model = data.get("model")
    if not isinstance(model, str) or model not in MODELS:
        raise ConfigError(
            f"{where}: unknown model {model!r}; valid models: {', '.join(MODELS)}"
        )
    spec = MODELS[model]
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params must be a mapping")
    valid_params = spec.param_names()
    unknown = sorted(_shown(k) for k in params if k not in valid_params)
    if unknown:
        raise ConfigError(
            f"{where}: unknown param(s) {', '.join(unknown)} for model {model!r}; valid params: "
            f"{', '.join(valid_params) or '(none)'}"
        )
    try:
        spec.param_schema().model_validate(params)
    except ValidationError as exc:
        raise _value_error(where, exc, "params.") from None
    tasks = data.get("tasks", list(spec.tasks))
    if not isinstance(tasks, (str, list, tuple)):
        raise ConfigError(f"{where}: tasks = {tasks!r}: expected a task name or a list of them")
    for task in [tasks] if isinstance(tasks, str) else tasks:
        get_task(task, where, ConfigError)
        if task not in spec.tasks:
            raise ConfigError(
                f"{where}: model {model!r} does not support task {task!r}; it supports: "
                f"{', '.join(spec.tasks)}"
            )
    fields = {k: v for k, v in data.items() if k not in ("model", "params")}
    fields.setdefault("tasks", list(spec.tasks))
    fields.setdefault("description", spec.description)
    try:
        config = ExperimentConfig(name=name, model=model, params=dict(params), **fields)
    except ValidationError as exc:
        raise _value_error(where, exc) from None
    for task, override in config.per_task.items():
        # A task the config does not run may keep its entry: ``tasks`` narrowed in
        # defaults.yaml or a variant must not make the entry an error.
        get_task(task, f"{where}: per_task", ConfigError)
        _check_keys(f"{where}: per_task.{task}", override, PER_TASK_KEYS)
        if not isinstance(override.get("params", {}), dict):
            raise ConfigError(f"{where}: per_task.{task}.params must be a mapping")
        # Checked as the task will run it: an unknown or out-of-range value fails here.
        config.for_task(task, f"{where}: per_task.{task}")
    return config


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
    base_params, own_params = base.get("params") or {}, data.get("params") or {}
    merged = {**base, **data}
    if isinstance(base_params, dict) and isinstance(own_params, dict) and (base_params
                                                                           or own_params):
        merged["params"] = {**base_params, **own_params}
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
    model = merged.get("model")
    if "tasks" not in data and isinstance(model, str) and model in MODELS \
            and isinstance(merged.get("tasks"), list):
        supported = MODELS[model].tasks
        merged["tasks"] = [t for t in merged["tasks"] if t not in TASKS or t in supported]
    merged.update(overrides or {})
    return validate(path.stem, merged, path)


def tasks_to_run(config: ExperimentConfig, task: str) -> list[str]:
    """``--task all`` means the config's tasks; a named task must be valid for its model."""
    if task == "all":
        return list(config.tasks)
    get_task(task, error=ConfigError, also=("all",))
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
