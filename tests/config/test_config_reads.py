"""Recipes own their config (config/reads.py): every key a recipe never reads is refused in one line,
every key it reads is accepted, every shipped preset states none it does not read, config.yaml keeps
only what is read, and --dry-run says where each value came from."""

import dataclasses

import pytest
import yaml

from ganforge import api, config, objectives, presets, recipes
from ganforge.cli import main
from ganforge.config import RunConfig, reads
from ganforge.engine import resume_checks
from ganforge.errors import ConfigError
from ganforge.runs import rundir

DEFAULTS = RunConfig().to_dict()


def _ours():
    """ganforge's own recipes (tests register toy ones of their own)."""
    return {name: r for name, r in recipes.RECIPES.items() if type(r).__module__.startswith("ganforge.")}


def _resolve(recipe, section, key, value=None):
    value = DEFAULTS[section][key] if value is None else value
    return config.resolve({"recipe": recipe, section: {key: value}}, reads=recipes.reads_of,
                          preset_label="the test's preset")


def test_every_unread_key_of_every_recipe_is_refused_naming_it_and_what_is_read():
    refused = 0
    for name, recipe in sorted(_ours().items()):
        declared = recipe.config_reads()
        for dotted in reads.unread(declared):
            section, key = dotted.split(".")
            with pytest.raises(ConfigError) as err:
                _resolve(name, section, key)  # its default value: stating it is the error, not the value
            message = str(err.value)
            assert "\n" not in message and f"{dotted} (from the test's preset)" in message and f"'{name}'" in message
            listed = ", ".join(k for k in DEFAULTS[section] if k in declared.get(section, ())) or "none"
            assert f"the {section} keys {name} reads: {listed}." in message
            refused += 1
    print(f"unread keys refused: {refused} over {len(_ours())} recipes")
    assert refused > 300  # eleven recipes, each with whole sections it never reads


def test_every_key_a_recipe_declares_is_accepted():
    for name, recipe in sorted(_ours().items()):
        for section, keys in recipe.config_reads().items():
            for key in keys:
                assert _resolve(name, section, key).recipe == name


def test_every_shipped_preset_states_only_keys_its_recipe_reads():
    names = list(presets.list_presets())
    assert len(names) > 30
    for name in names:
        preset, _ = presets.load_preset(name)
        cfg = config.resolve(preset, reads=recipes.reads_of, preset_label=f"preset {name}")
        declared = recipes.reads_of(cfg.recipe)
        assert not [f"{s}.{k}" for s, k in reads.stated_keys(preset) if k not in declared.get(s, ())], name


@pytest.mark.parametrize("preset, override, recipe", [
    ("cyclegan-inverted", "reg.gp=10", "cycle-translation"),
    ("cyclegan-inverted", "augment.policy=color", "cycle-translation"),
    ("cyclegan-inverted", "anomaly.w_con=1", "cycle-translation"),
    ("dcgan-mnist", "superres.pixel_loss=l1", "noise-to-image"),
    ("dcgan-mnist", "translation.cycle=5", "noise-to-image"),
    ("srresnet-x4", "model.d.arch=sr-vgg", "srresnet"),  # srresnet has no D
    ("gan2014-digits", "dp.delta=1e-6", "noise-to-image"),  # only dp-noise-to-image is private
])
def test_the_issue_s_silent_no_ops_are_refused(preset, override, recipe):
    with pytest.raises(ConfigError) as err:
        api.resolve_config(preset, [override])
    key = override.split("=")[0].rsplit(".", 1)[0] if override.startswith("model.") else override.split("=")[0]
    assert f"{key} (from --set {override}) is not read by recipe '{recipe}'" in str(err.value)


def test_a_value_read_only_under_a_condition_is_accepted():
    """reg.r1_every means something only when reg.r1 > 0, reg.aux_weight only with a classifier head:
    still read by noise-to-image, so accepted (the rule is "some code path reads it")."""
    cfg, _ = api.resolve_config("dcgan-mnist", ["reg.r1_every=16", "reg.aux_weight=2", "reg.gp=10"])
    assert (cfg.reg.r1_every, cfg.reg.aux_weight, cfg.reg.gp) == (16, 2.0, 10.0)


def test_the_preset_a_key_came_from_is_named():
    with pytest.raises(ConfigError, match=r"model.d \(from the config dict\)"):
        api.resolve_config({"recipe": "srresnet", "model": {"d": {"arch": "sr-vgg"}}})


def test_a_runconfig_states_only_its_differences_from_the_defaults():
    cfg, _ = api.resolve_config("srresnet-x4")
    again, _ = api.resolve_config(cfg)  # every section is present in it, with unread ones at their defaults
    assert again == cfg
    cfg.translation.cycle = 3.0
    with pytest.raises(ConfigError, match=r"translation.cycle \(from the RunConfig\) is not read by recipe 'srresnet'"):
        api.resolve_config(cfg)


def test_config_yaml_keeps_only_read_keys_and_loads_back_the_same(tmp_path):
    cfg, _ = api.resolve_config("cyclegan-inverted", ["train.steps=7"])
    (tmp_path / rundir.CONFIG).write_text(rundir.saved_config(cfg))
    saved = yaml.safe_load((tmp_path / rundir.CONFIG).read_text())
    assert {"reg", "augment", "anomaly", "superres", "dp", "semi", "growth", "ema"}.isdisjoint(saved)
    assert set(saved["translation"]) == {"cycle", "identity", "pool_size", "pool_swap", "test_mode"}
    assert "l1" not in saved["translation"] and saved["train"]["steps"] == 7
    assert rundir.read_config(tmp_path) == cfg  # left-out keys load as the defaults the run used


def test_an_old_style_config_with_every_section_still_loads_and_resumes(tmp_path):
    """Runs written before keys were declared saved every section; they load as before, and --resume
    with the same preset finds no difference."""
    cfg, _ = api.resolve_config("cyclegan-inverted")
    (tmp_path / rundir.CONFIG).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    assert "reg" in yaml.safe_load((tmp_path / rundir.CONFIG).read_text())
    assert rundir.read_config(tmp_path) == cfg
    assert config.diff(rundir.read_config(tmp_path), cfg) == []


def test_effective_keeps_top_level_keys_and_drops_sections_with_nothing_read():
    declared = recipes.reads_of("srresnet")
    out = reads.effective(DEFAULTS, declared)
    assert list(out)[:len(reads.TOP_LEVEL)] == list(reads.TOP_LEVEL)
    assert "reg" not in out and "loss" not in out and list(out["model"]) == ["g"]


def test_objectives_declare_what_they_read_and_noise_to_image_reads_it():
    assert objectives.READS["reg"] >= {"gp", "r1", "r1_every", "drift", "clip", "instance_noise"}
    assert objectives.READS["augment"] == reads.every("augment")
    assert recipes.reads_of("noise-to-image")["reg"] == reads.every("reg")  # every reg key has an objective
    assert "reg" not in recipes.reads_of("paired-translation")


def test_sources_name_the_layer_of_each_value():
    layers = presets.layers("srgan-x4") + config.override_layers(["model.d.dense=128", "seed=3"])
    src = config.sources(layers)
    assert src["recipe"] == "preset srgan-x4" and src["seed"] == "--set seed=3"
    assert src["model.g.arch"] == "preset srresnet-x4-paper" and src["model.g.blocks"] == "preset srresnet-x4"
    assert src["model.d.dense"] == "--set model.d.dense=128" and "train.d_steps" not in src
    # a new arch replaces the old net's options, so their sources go with them
    src = config.sources([("a", {"model": {"g": {"arch": "mlp", "hidden": [4]}}}),
                          ("b", {"model": {"g": {"arch": "dcgan"}}})])
    assert src == {"model.g.arch": "b"}


def test_annotated_prints_each_value_with_its_source():
    text = reads.annotated({"seed": 1, "train": {"steps": 5, "batch_size": 8}}, {"train.steps": "--steps 5"})
    lines = text.splitlines()
    assert lines[0].startswith("seed: 1") and lines[0].endswith("# default")
    assert lines[1] == "train:" and lines[2].strip().startswith("steps: 5") and lines[2].endswith("# --steps 5")
    assert yaml.safe_load(text) == {"seed": 1, "train": {"steps": 5, "batch_size": 8}}  # still YAML


def test_every_section_of_the_schema_is_known_to_the_declarations():
    assert set(reads.sections()) | set(reads.TOP_LEVEL) == {f.name for f in dataclasses.fields(RunConfig)}
    with pytest.raises(KeyError):
        reads.every("no-such-section")


def test_resume_compares_only_the_keys_the_recipe_reads(tmp_path):
    """A config built without the check (config.resolve, no reads=) may carry an unread key; config.yaml
    drops it, and --resume must not call that a change. A changed key that is read is still refused."""
    cfg = config.resolve(presets.load_preset("cyclegan-inverted")[0], ["reg.gp=10"])  # unread, unchecked
    (tmp_path / rundir.CONFIG).write_text(rundir.saved_config(cfg))
    (tmp_path / rundir.OPTIONS).write_text("{}")  # a run's record, which resume also reads
    assert resume_checks.check_config(tmp_path, cfg, allow_change=False) == []
    changed = config.resolve(presets.load_preset("cyclegan-inverted")[0], ["translation.cycle=3"])
    with pytest.raises(ConfigError, match=r"translation.cycle: 10.0 -> 3.0"):
        resume_checks.check_config(tmp_path, changed, allow_change=False)


def test_dry_run_prints_only_read_keys_each_with_its_source(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "cyclegan-inverted", "--dry-run", "--steps", "7", "--set", "translation.cycle=3"]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if not line.startswith("#")}
    assert lines["cycle"].endswith("# --set translation.cycle=3") and "cycle: 3.0" in lines["cycle"]
    assert lines["steps"].endswith("# --steps 7") and lines["recipe"].endswith("# preset cyclegan-inverted")
    assert lines["d_steps"].endswith("# default")
    assert not {"reg", "augment", "superres", "anomaly", "dp", "semi", "growth", "ema", "l1", "metrics"} & set(lines)
    body = yaml.safe_load("\n".join(line for line in out.splitlines() if not line.startswith("#")))
    assert body == reads.effective(api.resolve_config("cyclegan-inverted", ["translation.cycle=3", "train.steps=7"])[0]
                                   .to_dict(), recipes.reads_of("cycle-translation"))
    assert not (tmp_path / "runs").exists()  # a dry run writes nothing
