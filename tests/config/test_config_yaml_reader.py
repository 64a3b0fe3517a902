"""Reading YAML: numbers and booleans as YAML 1.2 reads them, a key stated twice refused."""

import pytest

from ganforge import config, presets
from ganforge.errors import ConfigError


def test_yaml_reads_exponents_as_floats():
    assert config.load_yaml("lr: 2e-4\nn: 10\nx: .5") == {"lr": 2e-4, "n": 10, "x": 0.5}
    assert config.parse_override("optim.d.lr=2e-4") == (["optim", "d", "lr"], 2e-4)


@pytest.mark.parametrize("text, value", [("010", 10), ("0x10", 16), ("0o10", 8), ("1_000", 1000), ("-7", -7),
                                         ("1:30", "1:30"), ("0b11", "0b11"), ("1:30.5", "1:30.5")])
def test_numbers_read_as_yaml_1_2(text, value):
    """YAML 1.1 (PyYAML) read 010 as 8, 1:30 as 90 and 0b11 as 3, silently; here an integer is decimal,
    0x and 0o are spelled out, and base 60 and binary stay strings (refused by a number key)."""
    assert config.load_yaml(f"n: {text}") == {"n": value}
    assert config.parse_override(f"train.steps={text}")[1] == value


def test_a_base_60_number_is_refused_by_its_key(one_line):
    with pytest.raises(ConfigError) as e:
        config.resolve(config.load_yaml("train: {steps: 1:30}"))
    assert one_line(e) == "train.steps must be an integer, got '1:30'"
    assert config.resolve(config.load_yaml("train: {steps: 010}")).train.steps == 10


def test_booleans_are_true_and_false_only(one_line):
    """YAML 1.1 read yes/no/on/off as booleans: a table's columns named yes and no became True and False,
    and log.progress=yes passed as true; here they are strings, names where names are meant."""
    assert config.load_yaml("discrete: [yes, no, on, off]\nx: true\ny: False") == {
        "discrete": ["yes", "no", "on", "off"], "x": True, "y": False}
    assert config.parse_override("log.progress=false")[1] is False
    with pytest.raises(ConfigError) as e:
        config.resolve(None, ["log.progress=yes"])
    assert one_line(e) == "log.progress must be true or false, got 'yes'"


@pytest.mark.parametrize("text, where", [("train: {steps: 1}\nlog: {every: 2}\ntrain: {batch_size: 3}\n",
                                          "'train' is stated twice (lines 1 and 3)"),
                                         ("train:\n  steps: 1\n  steps: 2\n", "'steps' is stated twice (lines 2 and 3)"),
                                         ("model: {g: {arch: mlp, arch: dcgan}}\n", "'arch' is stated twice (line 1)")])
def test_a_key_stated_twice_is_refused(tmp_path, text, where, one_line):
    """YAML keeps the last of two equal keys silently: a second `train:` reset the first."""
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        presets.load_preset(str(path))
    assert where in one_line(e) and "keep one" in one_line(e)
    with pytest.raises(ConfigError) as e:
        config.parse_override("model.g={arch: mlp, hidden: [1], hidden: [2]}")
    assert "'hidden' is stated twice" in one_line(e)
    assert config.load_yaml("a: &x {b: 1}\nc:\n  <<: *x\n  b: 2") == {"a": {"b": 1}, "c": {"b": 2}}  # a merge
