"""Resolving a config from layers: defaults <- preset <- key=value overrides, checked on the way in."""

import pytest

from ganforge import config, presets
from ganforge.api import resolve_config
from ganforge.errors import ConfigError


def _leaves(tree: dict, prefix: tuple = ()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _at(tree: dict, path: tuple):
    for key in path:
        tree = tree[key]
    return tree


def test_preset_holds_only_differences_and_extends():
    raw, description = presets.load_preset("gan2014-grid25")
    assert description
    assert raw["data"]["name"] == "grid25"
    assert raw["model"]["z_dim"] == 2  # inherited from gan2014-ring8
    cfg = config.resolve(raw)
    assert cfg.optim.g.name == "adam" and cfg.data.name == "grid25"


@pytest.mark.parametrize("name", sorted(presets.list_presets()))
def test_every_preset_resolves_to_what_it_says(name):
    raw, _ = presets.load_preset(name)
    resolved = config.resolve(raw).to_dict()
    for path, value in _leaves(raw):  # no key is dropped or altered by merging and coercion
        assert _at(resolved, path) == value, ".".join(path)
    assert config.diff(config.resolve(), config.resolve(raw)), f"{name} changes nothing"


def test_overrides_are_typed_and_yaml_parsed():
    cfg = config.resolve(None, ["optim.d.lr=2e-4", "train.steps=7", "model.g.hidden=[8, 8]", "optim.g.momentum_final=null"])
    assert cfg.optim.d.lr == 2e-4 and cfg.train.steps == 7
    assert cfg.model.g.options["hidden"] == [8, 8] and cfg.optim.g.momentum_final is None


def test_overrides_apply_after_the_preset():
    raw, _ = presets.load_preset("gan2014-ring8")
    cfg = config.resolve(raw, ["model.z_dim=3", "model.z_dim=4"])
    assert cfg.model.z_dim == 4 and cfg.data.name == raw["data"]["name"]


def test_values_are_coerced_to_the_annotated_types():
    cfg = config.resolve(None, ["optim.d.lr=1", "train.steps=7.0", "optim.g.name=adam", "optim.g.betas=[0, 0.9]", "data.resolution=null"])
    assert cfg.optim.d.lr == 1.0 and isinstance(cfg.optim.d.lr, float)  # an int is a valid float
    assert cfg.train.steps == 7 and isinstance(cfg.train.steps, int)  # 7.0 is a valid int
    assert cfg.optim.g.betas == (0.0, 0.9) and isinstance(cfg.optim.g.betas, tuple)
    assert cfg.data.resolution is None


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "unknown config key 'train.stepz' \\(did you mean 'steps'\\?\\)"),
    ("trian.steps=3", "did you mean 'train'"),
    ("train.steps=abc", "train.steps must be an integer"),
    ("train.steps=1.5", "train.steps must be an integer"),
    ("optim.d.lr=true", "optim.d.lr must be a number"),
    ("log.tensorboard=1", "log.tensorboard must be true or false"),
    ("optim.g.betas=[0.5]", "optim.g.betas must have 2 items"),
    ("eval.metrics=fid", "eval.metrics must be a list"),
    ("model.g=mlp", "model.g must be a mapping with an 'arch' key"),
    ("train.steps", "must look like key=value"),
    ("=3", "has no key"),
])
def test_bad_keys_and_types_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message):
        config.resolve(None, [override])


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown preset 'gan2014-mnsit' \(did you mean 'gan2014-mnist'\?\).*gan2014-digits"):
        presets.load_preset("gan2014-mnsit")


def test_arch_change_drops_the_old_architectures_options():
    base = {"model": {"g": {"arch": "mlp", "hidden": [4]}}}
    merged = config.merge(base, {"model": {"g": {"arch": "mlp"}}})
    assert merged["model"]["g"]["hidden"] == [4]  # same arch: merged
    merged = config.merge(base, {"model": {"g": {"arch": "other"}}})
    assert "hidden" not in merged["model"]["g"]  # new arch: replaced
    assert base == {"model": {"g": {"arch": "mlp", "hidden": [4]}}}  # the layers themselves are not edited


def test_config_round_trips_through_yaml():
    cfg = config.resolve(presets.load_preset("gan2014-ring8")[0])
    again = config.from_dict(config.load_yaml(cfg.to_yaml()))
    assert config.diff(cfg, again) == []


def test_diff_names_each_changed_key():
    a = config.resolve()
    b = config.resolve(None, ["train.steps=5", "model.g.hidden=[8]"])
    assert config.diff(a, b) == ["model.g.hidden: None -> [8]", "train.steps: 10000 -> 5"]


@pytest.mark.parametrize("value", ["store:my photos #2", "folder:a: b", "folder:x #1: y", "store:runs/[x]",
                                   "npz:data {v2}.npz", "folder:~/a, b"])
def test_a_string_key_takes_its_value_as_written(value):
    """data.name is a path more often than not: ' #' is not a YAML comment there and 'a: b' not a mapping."""
    assert config.parse_override(f"data.name={value}") == (["data", "name"], value)
    assert config.resolve(None, [f"data.name={value}"]).data.name == value


def test_a_quoted_string_value_still_loses_its_quotes():
    # the YAML quoting users were told about, and how ganforge.train(data__name=...) writes a keyword
    assert config.parse_override('data.name="store:my photos #2"')[1] == "store:my photos #2"
    assert config.parse_override("data.name='yes'")[1] == "yes"
    assert config.parse_override("recipe= noise-to-image ")[1] == "noise-to-image"
    assert config.parse_override("model.g.arch=mlp #x")[1] == "mlp #x"
    for name in ("store:my photos #2", "yes", "folder:a: b", "it's"):
        assert resolve_config("gan2014-digits", data__name=name)[0].data.name == name


@pytest.mark.parametrize("value", ["yes", "1", "income #2", "a: b"])
def test_an_optional_string_key_takes_any_other_value_as_written(value):
    """data.target is a column name: 'yes' is not a bool, '1' not a number, ' #' not a comment."""
    assert config.parse_override(f"data.target={value}") == (["data", "target"], value)
    assert config.resolve(None, [f"data.target={value}"]).data.target == value


def test_keys_of_other_types_are_still_yaml():
    assert config.parse_override("model.g.hidden=[8, 4]")[1] == [8, 4]  # a net option (any type)
    assert config.parse_override("model.g={arch: mlp, hidden: [8]}")[1] == {"arch": "mlp", "hidden": [8]}
    assert config.parse_override("speed.graphs=true")[1] is True  # bool | str
    assert config.parse_override("data.target=null")[1] is None  # str | None: null and ~ are None
    assert config.parse_override("data.target=~")[1] is None
    assert config.parse_override("train.steps=20 # twenty")[1] == 20
    assert config.parse_override("no.such=key #b")[1] == "key"  # unknown: refused later, as before


@pytest.mark.parametrize("override, message", [
    ("train=3", "train must be a mapping, got 3"),
    ("optim=3", "optim must be a mapping, got 3"),
    ("optim.d=3", "optim.d must be a mapping, got 3"),
    ("data=null", "data must be a mapping, got None"),
    ("model.g=3", "model.g must be a mapping with an 'arch' key"),
])
def test_a_section_set_to_a_scalar_is_refused_even_when_a_later_key_sets_into_it(override, message, one_line):
    # probe C, item 8: `--set train=3` with `--steps` (train.steps, a later layer) silently reset the whole
    # train section to the defaults (batch_size 100, not the preset's 64), while `optim=3` was refused
    section = override.split("=")[0]
    with pytest.raises(ConfigError) as e:
        resolve_config("gan2014-digits", [override, f"{section}.nothing=1"])
    assert message in one_line(e)
    with pytest.raises(ConfigError) as e:
        config.resolve({section.split(".")[0]: 3}, ["train.steps=20"])  # a preset dict likewise
    assert "must be a mapping" in one_line(e)


@pytest.mark.parametrize("layer, overrides, message", [
    ({1: 2}, [], "the config dict has the key 1 at the top level"),
    ({None: 2}, [], "the config dict has the key null at the top level"),
    ({"train": {1: 2}}, [], "the config dict has the key 1 under 'train'"),
    (None, ["model.g={arch: mlp, 1: 2}"], "--set model.g={arch: mlp, 1: 2} has the key 1 under 'model.g'"),
    (None, ["data={1: 2}"], "--set data={1: 2} has the key 1 under 'data'"),
])
def test_a_key_that_is_not_a_name_is_refused(layer, overrides, message, one_line):
    """A number or null as a key reached did_you_mean and was a TypeError traceback."""
    with pytest.raises(ConfigError) as e:
        resolve_config(layer, overrides) if layer is not None else resolve_config("gan2014-digits", overrides)
    assert one_line(e).startswith(message)


def test_an_option_typed_before_an_arch_change_is_never_dropped(one_line):
    """A later --set of a new arch replaces the net spec whole: base_channels, typed by the user, vanished."""
    with pytest.raises(ConfigError) as e:
        resolve_config("dcgan-mnist", ["model.g.base_channels=32", "model.g.arch=mlp"])
    assert one_line(e).startswith("model.g.base_channels (from --set model.g.base_channels=32) would be dropped")
    cfg, _ = resolve_config("dcgan-mnist", ["model.g.base_channels=32", "model.g.arch=dcgan"])  # same arch: kept
    assert cfg.model.g.options["base_channels"] == 32
    assert resolve_config("dcgan-mnist", ["model.g.arch=mlp"])[0].model.g.options == {}  # a preset's options go


@pytest.mark.parametrize("content, message", [(b"\xff\xfe: 1\n", "is not UTF-8 text (byte 0xff at offset 0)"),
                                              (None, "is a directory")])
def test_an_unreadable_config_file_says_why(tmp_path, content, message, one_line):
    path = tmp_path / "x.yaml"
    path.mkdir() if content is None else path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        presets.load_preset(str(path))
    assert message in one_line(e)


def test_extends_is_read_relative_to_the_extending_file(tmp_path, monkeypatch):
    """`extends: base.yaml` looked in the folder the command ran in, not beside the file."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text("extends: gan2014-ring8\nmodel: {z_dim: 3}\n")
    (tmp_path / "sub" / "child.yaml").write_text("extends: base.yaml\ntrain: {steps: 5}\n")
    monkeypatch.chdir(tmp_path)
    raw, _ = presets.load_preset("sub/child.yaml")
    assert raw["model"]["z_dim"] == 3 and raw["train"]["steps"] == 5 and raw["data"]["name"] == "ring8"
    assert [label for label, _ in presets.layers("sub/child.yaml")] == [
        "preset gan2014-ring8", "preset sub/base.yaml", "preset sub/child.yaml"]
