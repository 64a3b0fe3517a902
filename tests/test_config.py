import pytest

from ganforge import config, presets
from ganforge.errors import ConfigError


def test_defaults_are_the_2014_paper():
    cfg = config.resolve()
    assert (cfg.model.z_dim, cfg.model.z_dist) == (100, "uniform")
    assert cfg.model.g.arch == "mlp" and cfg.model.d.arch == "maxout"
    o = cfg.optim.d
    assert (o.name, o.lr, o.momentum, o.momentum_final, o.lr_decay, o.lr_min) == ("sgd", 0.1, 0.5, 0.7, 1.000004, 1e-6)
    assert (cfg.train.batch_size, cfg.train.d_steps, cfg.loss.g) == (100, 1, "non-saturating")


def test_preset_holds_only_differences_and_extends():
    raw, description = presets.load_preset("gan2014-grid25")
    assert description
    assert raw["data"]["name"] == "grid25"
    assert raw["model"]["z_dim"] == 2  # inherited from gan2014-ring8
    cfg = config.resolve(raw)
    assert cfg.optim.g.name == "adam" and cfg.data.name == "grid25"


def test_every_preset_resolves():
    for name in presets.list_presets():
        raw, _ = presets.load_preset(name)
        config.resolve(raw)


def test_overrides_are_typed_and_yaml_parsed():
    cfg = config.resolve(None, ["optim.d.lr=2e-4", "train.steps=7", "model.g.hidden=[8, 8]", "optim.g.momentum_final=null"])
    assert cfg.optim.d.lr == 2e-4 and cfg.train.steps == 7
    assert cfg.model.g.options["hidden"] == [8, 8] and cfg.optim.g.momentum_final is None


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "unknown config key 'train.stepz' \\(did you mean 'steps'\\?\\)"),
    ("trian.steps=3", "did you mean 'train'"),
    ("model.g.hiden=[3]", "did you mean 'hidden'"),
    ("train.steps=abc", "train.steps must be an integer"),
    ("train.batch_size=0", "batch_size must be >= 1"),
    ("loss.g=nonsat", "did you mean 'non-saturating'"),
    ("optim.d.name=adamw", "optim.d.name must be one of sgd, adam"),
    ("train.steps", "must look like key=value"),
])
def test_bad_config_values_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message):
        config.resolve(None, [override])


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown preset 'gan2014-mnsit' \(did you mean 'gan2014-mnist'\?\).*gan2014-digits"):
        presets.load_preset("gan2014-mnsit")


def test_arch_change_drops_the_old_architectures_options():
    base = {"model": {"g": {"arch": "mlp", "hidden": [4]}}}
    merged = config._merge(base, {"model": {"g": {"arch": "mlp"}}})
    assert merged["model"]["g"]["hidden"] == [4]  # same arch: merged
    merged = config._merge(base, {"model": {"g": {"arch": "other"}}})
    assert "hidden" not in merged["model"]["g"]  # new arch: replaced


def test_config_round_trips_through_yaml():
    cfg = config.resolve(presets.load_preset("gan2014-ring8")[0])
    again = config.from_dict(config.load_yaml(cfg.to_yaml()))
    assert config.diff(cfg, again) == []
