"""The schema: the defaults are a runnable 2014 GAN, and a config's plain form is what config.yaml holds."""

import yaml

from ganforge import config
from ganforge.config import NetSpec, RunConfig


def test_defaults_are_the_2014_paper():
    cfg = config.resolve()
    assert (cfg.model.z_dim, cfg.model.z_dist) == (100, "uniform")
    assert cfg.model.g.arch == "mlp" and cfg.model.d.arch == "maxout"
    o = cfg.optim.d
    assert (o.name, o.lr, o.momentum, o.momentum_final, o.lr_decay, o.lr_min) == ("sgd", 0.1, 0.5, 0.7, 1.000004, 1e-6)
    assert (cfg.train.batch_size, cfg.train.d_steps, cfg.loss.g) == (100, 1, "non-saturating")


def test_the_bare_dataclass_is_the_resolved_default():
    assert config.diff(RunConfig(), config.resolve()) == []
    config.validate(RunConfig())  # the defaults pass every check


def test_each_section_owns_its_defaults():
    a, b = RunConfig(), RunConfig()
    a.eval.metrics.append("fid")
    a.model.g.options["hidden"] = [4]
    assert b.eval.metrics == [] and b.model.g.options == {}  # no mutable default is shared between configs


def test_plain_form_is_safe_yaml_with_net_options_beside_arch():
    cfg = RunConfig()
    cfg.model.g = NetSpec("mlp", {"hidden": [8, 8]})
    plain = cfg.to_dict()
    assert plain["model"]["g"] == {"arch": "mlp", "hidden": [8, 8]}
    assert plain["optim"]["g"]["betas"] == [0.5, 0.999]  # tuples become lists
    assert yaml.safe_load(cfg.to_yaml()) == plain
    assert list(plain) == ["seed", "recipe", "auto", "data", "model", "loss", "optim", "train", "speed", "reg", "augment",
                           "ema", "log", "eval", "guard", "growth", "translation", "superres", "anomaly",
                           "dp", "semi", "tabular"]  # config.yaml keeps the schema's order


def test_netspec_knows_when_it_is_conditional():
    assert not NetSpec("dcgan").conditional
    assert not NetSpec("dcgan", {"conditioning": "none"}).conditional
    assert NetSpec("dcgan", {"conditioning": "projection"}).conditional
