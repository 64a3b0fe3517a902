"""Every network option that reaches a constructor is checked with the config, before anything is
built: a bad value fails at --dry-run, naming the option, instead of later inside torch."""

import typing

import pytest

from ganforge import config, presets
from ganforge.errors import ConfigError
from ganforge.nets import registry


def _resolve(preset, *overrides):
    return config.resolve(presets.load_preset(preset)[0], list(overrides))


@pytest.mark.parametrize("preset, override, expected", [
    ("gan2014-digits", "model.g.hidden=[256,-3]", "model.g.hidden must be a list of layer widths"),
    ("gan2014-digits", "model.d.hidden=[0]", "model.d.hidden must be a list of layer widths"),
    ("gan2014-digits", "model.d.pieces=0", "model.d.pieces must be an integer >= 1"),
    ("gan2014-digits", "model.d.input_dropout=1.5", "model.d.input_dropout must be a drop probability"),
    ("gan2014-digits", "model.d.hidden_dropout=-0.1", "model.d.hidden_dropout must be a drop probability"),
    ("gan2014-digits", "model.g.irange=0", "model.g.irange must be a number > 0"),
    ("gan2014-digits", "model.g.activation=selu", "model.g.activation must be one of relu, leaky_relu, tanh"),
    ("gan2014-digits", "model.g.out=softmax", "model.g.out must be one of auto, sigmoid, tanh, linear"),
    ("gan2014-digits", "model.d.conditioning=cbn", "model.d.conditioning must be one of none, concat, projection"),
    ("dcgan-digits", "model.g.base_channels=0", "model.g.base_channels must be an integer >= 1"),
    ("dcgan-digits", "model.d.norm=btach", "did you mean 'batch'"),
    ("dcgan-digits", "model.g.init=he", "model.g.init must be one of normal, xavier, orthogonal, default"),
    ("dcgan-digits", "model.g.attention_res=0", "model.g.attention_res must be a feature-map size >= 1"),
    ("sngan-mnist-paper", "model.d.channels=-8", "model.d.channels must be an integer >= 1"),
    ("gan2014-digits", "optim.g.betas=[2,0.9]", "optim.g.betas must both be in [0, 1)"),
    ("gan2014-digits", "data.size=0", "data.size must be an integer >= 1"),
    ("biggan-cifar", "model.g.shared_dim=0", "model.g.shared_dim must be an integer >= 1"),
    ("gan2014-cifar10-conv", "model.d.pads=[4,-3,3]", "model.d.pads must be a list of paddings"),
])
def test_bad_values_fail_when_the_config_is_resolved(preset, override, expected, one_line):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")) as e:
        _resolve(preset, override)
    one_line(e)


def test_defaults_and_edge_values_pass():
    cfg = _resolve("gan2014-digits", "model.g.hidden=[]", "model.d.input_dropout=0", "model.d.pieces=1")
    assert cfg.model.g.options["hidden"] == []
    assert cfg.model.d.options["input_dropout"] == 0 and cfg.model.d.options["pieces"] == 1
    cfg = _resolve("dcgan-digits", "model.g.attention_res=null")
    assert "attention_res" in cfg.model.g.options and cfg.model.g.options["attention_res"] is None


@pytest.mark.parametrize("role", ["generator", "discriminator"])
def test_every_option_of_every_builder_is_checked(role):
    """A string option needs its allowed values declared; a number (or list of numbers) a range, unless it
    is a switch or a count whose type check already says everything. A new option must be added here."""
    unchecked_ok = {"bias_from_data", "batch_norm", "aux_classifier", "minibatch_std"}  # booleans
    unchecked_ok |= {"hierarchical", "skips", "bicubic_skip", "upsample_blur"}
    for arch in registry.list_archs(role):
        fn = registry._REGISTRIES[role][arch]
        hints = typing.get_type_hints(fn)
        choices = registry._CHOICES[(role, arch)]
        for name in registry.options(role, arch):
            if name in registry.GENERIC or name in unchecked_ok:
                continue
            if hints.get(name) is str:
                assert name in choices, f"{arch}.{name}: declare its allowed values in register(choices=...)"
            else:
                assert name in registry.RANGES, f"{arch}.{name}: give it a range in nets.registry.RANGES"
