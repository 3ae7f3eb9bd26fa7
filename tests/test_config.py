"""crypto_news_bench.config: the shipped experiment configs load, every error lists the valid
choices, and the loader fed anything (hypothesis) raises only one-line ConfigErrors."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto_news_bench.config import (
    ExperimentConfig,
    list_configs,
    load_config,
    tasks_to_run,
    validate,
)
from crypto_news_bench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
# Model configs: everything but the defaults and the bench grid.
SHIPPED = sorted(p.name for p in CONFIG_DIR.glob("*.yaml")
                 if p.name not in ("defaults.yaml", "bench.yaml"))
ALL_TASKS = ("boilerplate", "stance", "claim_type")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    """A config folder with the shipped defaults."""
    write(tmp_path, "defaults.yaml", (CONFIG_DIR / "defaults.yaml").read_text(encoding="utf-8"))
    return tmp_path


def test_the_shipped_configs_are_the_expected_ones():
    assert {"majority.yaml", "tfidf_word_lr.yaml", "tfidf_char_svm.yaml", "vader.yaml",
            "justext.yaml"} <= set(SHIPPED)
    assert [p.name for p in list_configs(CONFIG_DIR)] == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_loads(name):
    cfg = load_config(CONFIG_DIR / name)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.name == Path(name).stem
    assert cfg.tasks and set(cfg.tasks) <= set(ALL_TASKS)
    assert (cfg.seed, cfg.bootstrap_resamples, cfg.confidence) == (0, 1000, 0.95)
    assert cfg.description


def test_the_bench_grid_names_shipped_configs():
    import yaml

    if not (CONFIG_DIR / "bench.yaml").exists():
        pytest.skip("no bench grid")
    grid = yaml.safe_load((CONFIG_DIR / "bench.yaml").read_text(encoding="utf-8"))
    assert grid["configs"]
    for name in grid["configs"]:
        assert f"{name}.yaml" in SHIPPED
        load_config(CONFIG_DIR / f"{name}.yaml")


def test_shipped_tfidf_word_lr_values():
    cfg = load_config(CONFIG_DIR / "tfidf_word_lr.yaml")
    assert cfg.model == "tfidf_word_lr"
    assert cfg.params == {"ngram_max": 2, "C": 1.0}
    assert cfg.tasks == ALL_TASKS
    flat = cfg.flat()
    assert flat["params.C"] == 1.0 and flat["params.ngram_max"] == 2
    assert flat["tasks"] == "boilerplate,stance,claim_type"
    assert flat["name"] == "tfidf_word_lr" and flat["model"] == "tfidf_word_lr"
    assert "params" not in flat


def test_inherited_tasks_are_narrowed_to_the_models():
    assert load_config(CONFIG_DIR / "vader.yaml").tasks == ("stance",)
    assert load_config(CONFIG_DIR / "justext.yaml").tasks == ("boilerplate",)
    assert load_config(CONFIG_DIR / "majority.yaml").tasks == ALL_TASKS


def test_defaults_merge_and_a_config_overrides_them(tmp_path):
    write(tmp_path, "defaults.yaml", "seed: 7\nbootstrap_resamples: 200\nconfidence: 0.9\n")
    inherits = load_config(write(tmp_path, "inherits.yaml", "model: majority\n"))
    assert (inherits.seed, inherits.bootstrap_resamples, inherits.confidence) == (7, 200, 0.9)
    own = load_config(write(tmp_path, "own.yaml", "model: majority\nseed: 3\n"))
    assert (own.seed, own.bootstrap_resamples) == (3, 200)
    # Overrides (the CLI's --seed) win over both.
    assert load_config(tmp_path / "own.yaml", {"seed": 11}).seed == 11


def test_without_defaults_file_the_dataclass_defaults_apply(tmp_path):
    cfg = load_config(write(tmp_path, "m.yaml", "model: tfidf_char_svm\n"))
    assert (cfg.seed, cfg.bootstrap_resamples, cfg.confidence, cfg.params) == (0, 1000, 0.95, {})
    assert cfg.tasks == ALL_TASKS


def test_unknown_top_level_key_lists_valid_keys(cfg_dir):
    path = write(cfg_dir, "bad.yaml", "model: majority\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == (
        f"{path}: unknown key(s) learning_rate; valid keys: bootstrap_resamples, confidence, "
        "description, extends, model, params, per_task, seed, tasks, train_cap, train_on")


def test_unknown_key_in_defaults_lists_default_keys(tmp_path):
    write(tmp_path, "defaults.yaml", "seed: 1\nmodel: majority\n")
    with pytest.raises(ConfigError, match="unknown key.s. model; valid keys: "
                                          "bootstrap_resamples, confidence, seed, tasks"):
        load_config(write(tmp_path, "m.yaml", "model: majority\n"))


def test_unknown_model_lists_models(cfg_dir):
    with pytest.raises(ConfigError) as exc:
        load_config(write(cfg_dir, "bad.yaml", "model: bert\n"))
    msg = str(exc.value)
    assert "unknown model 'bert'; valid models: " in msg
    for model in ("majority", "tfidf_word_lr", "tfidf_char_svm", "justext", "vader"):
        assert model in msg


def test_missing_model_is_an_unknown_model(cfg_dir):
    with pytest.raises(ConfigError, match="unknown model None; valid models: majority"):
        load_config(write(cfg_dir, "bad.yaml", "seed: 1\n"))


def test_unknown_task_lists_tasks(cfg_dir):
    with pytest.raises(ConfigError, match="unknown task 'sentiment'; valid tasks: "
                                          "boilerplate, stance, claim_type"):
        load_config(write(cfg_dir, "bad.yaml", "model: majority\ntasks: [stance, sentiment]\n"))


def test_task_the_model_does_not_support(cfg_dir):
    with pytest.raises(ConfigError, match="model 'vader' does not support task 'boilerplate'; "
                                          "it supports: stance"):
        load_config(write(cfg_dir, "bad.yaml", "model: vader\ntasks: [boilerplate]\n"))


def test_a_single_task_string_is_accepted(cfg_dir):
    assert load_config(write(cfg_dir, "one.yaml", "model: majority\ntasks: stance\n")).tasks == \
        ("stance",)


def test_unknown_param_lists_valid_params(cfg_dir):
    path = write(cfg_dir, "bad.yaml", "model: tfidf_word_lr\nparams:\n  gamma: 2\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == (
        f"{path}: unknown param(s) gamma for model 'tfidf_word_lr'; valid params: ngram_max, "
        "min_df, sublinear_tf, C, max_iter")


def test_unknown_param_for_a_model_without_params(cfg_dir):
    with pytest.raises(ConfigError, match="for model 'majority'; valid params: \\(none\\)"):
        load_config(write(cfg_dir, "bad.yaml", "model: majority\nparams: {C: 1}\n"))


def test_params_must_be_a_mapping(cfg_dir):
    with pytest.raises(ConfigError, match="params must be a mapping"):
        load_config(write(cfg_dir, "bad.yaml", "model: majority\nparams: [1, 2]\n"))


def test_bad_yaml(cfg_dir):
    path = write(cfg_dir, "bad.yaml", "model: [majority\n")
    with pytest.raises(ConfigError, match="not valid YAML") as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: ")


def test_top_level_must_be_a_mapping(cfg_dir):
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(write(cfg_dir, "bad.yaml", "- majority\n"))


def test_missing_file(cfg_dir):
    path = cfg_dir / "does_not_exist.yaml"
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: config file not found"


@pytest.mark.parametrize("text, message", [
    ("seed: abc", "seed = 'abc': Input should be a valid integer"),
    ("seed: true", "seed = True: Input should be a valid integer"),
    ("seed: -1", "seed = -1: Input should be greater than or equal to 0"),
    ("bootstrap_resamples: many", "bootstrap_resamples = 'many': Input should be a valid "
                                  "integer"),
    ("bootstrap_resamples: 0", "bootstrap_resamples = 0: Input should be greater than or "
                               "equal to 1"),
    ("confidence: high", "confidence = 'high': Input should be a valid number"),
    ("confidence: 1.5", "confidence = 1.5: Input should be less than 1"),
    ("confidence: 0", "confidence = 0: Input should be greater than 0"),
    ("description: [a]", "description = ['a']: Input should be a valid string"),
])
def test_bad_numbers(cfg_dir, text, message):
    path = write(cfg_dir, "bad.yaml", f"model: majority\n{text}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: {message}"


# The values the reliability review found accepted at load and failing at fit time (or never):
# each is refused when the config loads, naming the file, the key, the value and the range.
@pytest.mark.parametrize("model, param, value, message", [
    ("finetune", "batch_size", "0", "Input should be greater than or equal to 1"),
    ("finetune", "learning_rate", "-1", "Input should be greater than 0"),
    ("finetune", "epochs", "ten", "Input should be a valid number"),
    ("finetune", "max_length", "0", "Input should be greater than or equal to 1"),
    ("finetune", "warmup_ratio", "1.5", "Input should be less than 1"),
    ("finetune", "freeze_embeddings", "maybe", "Input should be a valid boolean"),
    ("tfidf_word_lr", "C", "ten", "Input should be a valid number"),
    ("tfidf_word_lr", "C", "0", "Input should be greater than 0"),
    ("tfidf_word_lr", "C", ".nan", "Input should be a finite number"),
    ("tfidf_word_lr", "ngram_max", "0", "Input should be greater than or equal to 1"),
    ("tfidf_char_svm", "min_df", "1.5", "Input should be a valid integer"),
    ("setfit", "num_iterations", "0", "Input should be greater than or equal to 1"),
    ("setfit", "freeze_layers", "-2", "Input should be greater than or equal to 0"),
    ("frozen_encoder", "model_name_or_path", "''", "String should have at least 1 character"),
    ("vader", "pos_threshold", "2", "Input should be less than or equal to 1"),
    ("justext", "length_low", "many", "Input should be a valid integer"),
])
def test_bad_param_values_are_refused_at_load(cfg_dir, model, param, value, message):
    path = write(cfg_dir, "bad.yaml", f"model: {model}\nparams:\n  {param}: {value}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: params.{param} = ")
    assert text.endswith(f": {message}")
    assert "\n" not in text


def test_good_param_values_load(cfg_dir):
    cfg = load_config(write(cfg_dir, "ok.yaml", "model: finetune\nparams:\n  epochs: 2\n"
                                                "  learning_rate: 1.0e-4\n  batch_size: 4\n"))
    assert cfg.params == {"epochs": 2, "learning_rate": 1e-4, "batch_size": 4}


def test_replace_validates_the_change():
    cfg = load_config(CONFIG_DIR / "tfidf_word_lr.yaml")
    assert cfg.replace(seed=3).seed == 3 and cfg.replace(seed=3).digest() == cfg.digest()
    with pytest.raises(ConfigError, match="seed = True: Input should be a valid integer"):
        cfg.replace(seed=True)
    with pytest.raises(ConfigError, match="params.C = 0: Input should be greater than 0"):
        cfg.replace(params={"C": 0})


def test_the_cli_refuses_a_bad_config_before_training(cfg_dir, capsys):
    from crypto_news_bench.cli import main

    path = write(cfg_dir, "bad.yaml", "model: tfidf_word_lr\nparams: {C: 0}\n")
    assert main(["train", str(path), "--no-track"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: params.C = 0: Input should be greater than 0\n"


def test_validate_directly():
    cfg = validate("x", {"model": "vader", "params": {"pos_threshold": 0.1}})
    assert cfg.tasks == ("stance",)
    assert cfg.params == {"pos_threshold": 0.1}


def test_tasks_to_run_all_and_named():
    cfg = load_config(CONFIG_DIR / "tfidf_word_lr.yaml")
    assert tasks_to_run(cfg, "all") == list(ALL_TASKS)
    assert tasks_to_run(cfg, "claim_type") == ["claim_type"]
    vader = load_config(CONFIG_DIR / "vader.yaml")
    assert tasks_to_run(vader, "all") == ["stance"]
    assert tasks_to_run(vader, "stance") == ["stance"]


def test_tasks_to_run_errors():
    vader = load_config(CONFIG_DIR / "vader.yaml")
    with pytest.raises(ConfigError) as exc:
        tasks_to_run(vader, "sentiment")
    assert str(exc.value) == ("unknown task 'sentiment'; valid tasks: all, boilerplate, stance, "
                              "claim_type")
    with pytest.raises(ConfigError) as exc:
        tasks_to_run(vader, "boilerplate")
    assert str(exc.value) == ("model 'vader' does not support task 'boilerplate'; it supports: "
                              "stance")


# -- train_on, train_cap and extends --------------------------------------------------------


def test_train_on_defaults_to_real_plus_synthetic(cfg_dir):
    config = load_config(write(cfg_dir, "m.yaml", "model: majority\n"))
    assert (config.train_on, config.train_cap) == ("real+synthetic", None)
    assert config.flat()["train_on"] == "real+synthetic"


@pytest.mark.parametrize("text, message", [
    ("train_on: fake\n", "train_on = 'fake': Input should be 'real', 'synthetic' or "
                         "'real+synthetic'"),
    ("train_cap: 0\n", "train_cap = 0: Input should be greater than or equal to 1"),
    ("train_cap: true\n", "train_cap = True: Input should be a valid integer"),
    ("train_cap: 2.5\n", "train_cap = 2.5: Input should be a valid integer"),
])
def test_bad_train_on_and_cap(cfg_dir, text, message):
    path = write(cfg_dir, "m.yaml", "model: majority\n" + text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: {message}"


# -- per_task ------------------------------------------------------------------------------


PER_TASK = ("model: tfidf_word_lr\ntrain_cap: 100\nparams: {C: 2.0, ngram_max: 3}\n"
            "per_task:\n  boilerplate:\n    train_cap: 50\n    params: {C: 0.5}\n"
            "  claim_type: {train_on: real}\n")


def test_per_task_overrides_one_task_and_merges_params(cfg_dir):
    config = load_config(write(cfg_dir, "m.yaml", PER_TASK))
    bp, stance, claim = (config.for_task(t) for t in ("boilerplate", "stance", "claim_type"))
    assert (bp.train_cap, bp.params, bp.train_on) == (50, {"C": 0.5, "ngram_max": 3},
                                                      "real+synthetic")
    assert (stance.train_cap, stance.params) == (100, {"C": 2.0, "ngram_max": 3})
    assert (claim.train_on, claim.train_cap) == ("real", 100)
    # Applied once: nothing left to apply, and what is logged is the task's own config.
    assert bp.per_task == {} and bp.for_task("boilerplate") == bp
    assert "per_task" not in bp.flat() and bp.flat()["params.C"] == 0.5
    assert len({bp.digest(), stance.digest(), claim.digest()}) == 3


def test_per_task_of_a_task_the_config_does_not_run_is_kept_unused(cfg_dir):
    # tasks narrowed (here, or in defaults.yaml) leave the other tasks' entries harmless.
    config = load_config(write(cfg_dir, "m.yaml", PER_TASK + "tasks: [stance]\n"))
    assert config.tasks == ("stance",) and config.for_task("stance").train_cap == 100


def test_the_shipped_finetune_trains_sentences_on_everything_and_caps_blocks():
    config = load_config(CONFIG_DIR / "finetune.yaml")
    assert config.for_task("stance").train_cap is None
    assert config.for_task("claim_type").train_cap is None
    assert config.for_task("boilerplate").train_cap == 600


@pytest.mark.parametrize("text, message", [
    ("per_task:\n  sentiment: {train_cap: 5}\n", "unknown task 'sentiment'"),
    ("per_task:\n  stance: {seed: 3}\n",
     "per_task.stance: unknown key(s) seed; valid keys: params, train_cap, train_on"),
    ("per_task:\n  stance: {train_cap: 0}\n",
     "train_cap = 0: Input should be greater than or equal to 1"),
    ("per_task:\n  stance: {params: {C: -1}}\n", "params.C = -1"),
    ("per_task:\n  stance: {params: {depth: 3}}\n", "unknown param(s) depth"),
])
def test_bad_per_task_is_one_line_naming_the_file(cfg_dir, text, message):
    path = write(cfg_dir, "m.yaml", "model: tfidf_word_lr\n" + text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(str(path)) and message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_extends_takes_the_parent_and_merges_params(cfg_dir):
    write(cfg_dir, "base.yaml", "description: base one\nmodel: tfidf_word_lr\n"
                                "params: {C: 2.0, ngram_max: 3}\ntrain_cap: 50\n")
    child = load_config(write(cfg_dir, "child.yaml",
                              "extends: base\ntrain_on: real\nparams: {C: 0.5}\n"))
    assert child.name == "child" and child.model == "tfidf_word_lr"
    assert child.params == {"C": 0.5, "ngram_max": 3}
    assert (child.train_on, child.train_cap) == ("real", 50)
    # The parent's own description is not the variant's.
    assert child.description != "base one"
    assert child.digest() != load_config(cfg_dir / "base.yaml").digest()


def test_the_shipped_twins_differ_from_their_models_only_in_train_on():
    for twin, model in (("tfidf_word_lr_real", "tfidf_word_lr"),
                        ("frozen_encoder_real", "frozen_encoder")):
        a, b = load_config(CONFIG_DIR / f"{twin}.yaml"), load_config(CONFIG_DIR / f"{model}.yaml")
        assert (a.model, a.params, a.tasks) == (b.model, b.params, b.tasks)
        assert (a.train_on, b.train_on) == ("real", "real+synthetic")


@pytest.mark.parametrize("files, message", [
    ({"a.yaml": "extends: a\n"}, "extends 'a' makes a cycle"),
    ({"a.yaml": "extends: b\n", "b.yaml": "extends: a\nmodel: majority\n"},
     "extends 'a' makes a cycle"),
    ({"a.yaml": "extends: nowhere\n"}, "extends 'nowhere', but "),
    ({"a.yaml": "extends: bench\n", "bench.yaml": "configs: []\n"}, "extends 'bench', but "),
    ({"a.yaml": "extends: [x]\n"}, "extends must name a config in "),
])
def test_bad_extends(cfg_dir, files, message):
    for name, text in files.items():
        write(cfg_dir, name, text)
    with pytest.raises(ConfigError, match=message.replace("[", "\\[")):
        load_config(cfg_dir / "a.yaml")


@pytest.mark.parametrize("text, message", [
    ("tasks:\n- []\n", "unknown task []; valid tasks: boilerplate, stance, claim_type"),
    ("tasks: 3\n", "tasks = 3: expected a task name or a list of them"),
    ('"a\\nb": 1\n', "unknown key(s) 'a\\nb'; valid keys: "),
])
def test_odd_values_found_by_fuzzing_are_one_line_errors(cfg_dir, text, message):
    path = write(cfg_dir, "odd.yaml", "model: tfidf_word_lr\n" + text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: {message}")
    assert "\n" not in str(exc.value)


# -- any file (hypothesis) ------------------------------------------------------------------

yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
              st.text(alphabet=string.printable, max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(
                                st.sampled_from(["model", "params", "seed", "tasks", "C",
                                                 "train_on", "train_cap", "extends",
                                                 "epochs", "confidence", "batch_size"]),
                                st.integers(), st.text(max_size=5)), inner, max_size=5)),
    max_leaves=15)
configs = st.one_of(
    st.text(max_size=200),
    yaml_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.dictionaries(st.sampled_from(["seed", "tasks", "C", "train_cap", "confidence",
                                     "description", "train_on", "bootstrap_resamples"]),
                    yaml_values, max_size=4).map(
        lambda d: yaml.safe_dump({"model": "tfidf_word_lr", **d})),
)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=configs)
def test_config_loader_raises_only_config_errors(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("configs")
    path = folder / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert config.name == "fuzzed" and config.model


def test_config_loader_on_bytes_that_are_not_utf8(tmp_path):
    path = Path(tmp_path) / "bad.yaml"
    path.write_bytes(b"model: \xff\xfe\n")
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}: not valid YAML")
