"""Every preset changes exactly what it states, builds and takes a training step (on the embedded digits,
at tiny widths, on the CPU)."""

import copy
from importlib import resources

import numpy as np
import pytest

from ganforge import config, presets, recipes
from ganforge.engine.loop import Trainer
from ganforge.errors import ConfigError
from ganforge.nets import registry as net_registry

NARROW = {"dcgan": "base_channels", "resnet": "channels", "mlp": "hidden", "maxout": "hidden"}
NARROW.update({"biggan": "channels", "mlp-deconv": "hidden", "maxout-conv": "hidden"})
NARROW.update({"stylegan2": "channels", "progan": "channels"})
NARROW.update({"srresnet": "channels", "sr-vgg": "base_channels"})
NARROW.update({"unet": "base_channels", "resnet-translator": "base_channels", "patchgan": "base_channels",
               "multiscale": "base_channels"})  # translation nets (issue 12)
NARROW.update({"ssgan-mlp": "hidden", "ssgan-conv": "channels"})  # the semi-supervised GAN (issue 28)
NARROW.update({"ctgan": "hidden"})  # the CTGAN nets for tables (issue 29)


def _narrow(spec, prefix):
    key = NARROW[spec.arch]
    return [f"{prefix}.{key}={[16] if key == 'hidden' else 8}"]


@pytest.mark.parametrize("name", sorted(presets.list_presets()))
def test_preset_takes_a_step(tmp_path, name):
    raw, description = presets.load_preset(name)
    assert description, f"{name} needs a one-line description"
    cfg = config.resolve(raw)
    has_d = "d" in recipes.reads_of(cfg.recipe)["model"]  # srresnet has no D (and refuses model.d)
    overrides = ["log.tensorboard=false", "log.progress=false", "train.steps=2", "train.batch_size=8",
                 *_narrow(cfg.model.g, "model.g"), *(_narrow(cfg.model.d, "model.d") if has_d else [])]
    if cfg.data.name in ("mnist", "stacked-mnist"):
        channels = 3 if cfg.data.name == "stacked-mnist" else 1
        overrides += ["data.name=digits", f"data.channels={channels}"]  # CI runs offline
    if cfg.model.d.arch == "resnet":
        overrides += ["data.resolution=16"]
    if cfg.data.name in ("cifar10", "cifar10-jpeg"):  # CI has no CIFAR-10: colour digits at its 32 px
        overrides += ["data.name=digits", "data.channels=3", "data.resolution=32"]
        if cfg.data.labels_per_class:  # ssgan-cifar-4000's 400 a class: the digits have at most 161
            overrides += ["data.labels_per_class=10"]
    if cfg.recipe in ("srresnet", "srgan"):  # CI is offline: no CIFAR-10 copy, no VGG19 weights
        overrides += ["data.name=digits", "superres.hr_crop=8", "model.g.blocks=1", "superres.feature_loss=none"]
    if cfg.data.name.startswith("mnist-one-"):  # the anomaly protocols: MNIST too, offline in CI
        overrides += ["data.name=digits", "data.digit=null"]
    if cfg.anomaly.encoder_steps:
        overrides += ["anomaly.encoder_steps=1"]
    overrides += _offline_pairs(cfg, tmp_path)
    overrides += _table(cfg, tmp_path)
    cfg = config.resolve(raw, overrides, reads=recipes.reads_of)  # none of these keys is a silent no-op
    result = Trainer(cfg, tmp_path / "run").fit()
    assert result.step == 2
    saved = config.from_dict(config.load_yaml((tmp_path / "run" / "config.yaml").read_text()))
    assert config.diff(cfg, saved) == []  # the run directory says exactly what was trained


def _offline_pairs(cfg, tmp_path):
    """Translation presets (MNIST / CIFAR tasks) step on random 32-px two-domain data: CI runs offline."""
    if cfg.recipe not in ("paired-translation", "cycle-translation"):
        return []
    a = np.random.RandomState(0).randint(0, 256, (16, 1, 32, 32)).astype(np.uint8)
    b = np.repeat(a, 3, 1) if "colour" in cfg.data.name else 255 - a
    np.savez(tmp_path / "pairs.npz", a=a, b=b, paired=cfg.recipe == "paired-translation")
    return [f"data.name=npz:{tmp_path / 'pairs.npz'}"]


def _table(cfg, tmp_path):
    """Table presets (ctgan...) step on a tiny generated CSV, two steps (not their epochs), D packing 2 rows
    (1 for the private one) so the 8-row batch divides."""
    if cfg.recipe not in ("tabular", "dp-tabular"):
        return []
    rng = np.random.RandomState(0)
    rows = ["x,c"] + [f"{rng.normal():.3f},{'ab'[rng.randint(2)]}" for _ in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    return [f"data.name=csv:{tmp_path / 't.csv'}", "tabular.epochs=null", "tabular.score_rows=16",
            f"model.d.pack={1 if cfg.recipe == 'dp-tabular' else 2}"]


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@pytest.mark.parametrize("name", sorted(presets.list_presets()))
def test_preset_changes_exactly_what_it_states(name):
    own = config.load_yaml((resources.files("ganforge.presets") / f"{name}.yaml").read_text())
    own.pop("description")
    parent = own.pop("extends", None)
    base = config.resolve(presets.load_preset(parent)[0] if parent else None)
    cfg = config.resolve(presets.load_preset(name)[0])
    changed = {line.split(":")[0] for line in config.diff(base, cfg)}
    assert changed, f"{name} trains the same run as {parent or 'the defaults'}"
    stated = set(_leaves(own))
    # A net whose arch changes is replaced whole, so the old arch's options go with it.
    new_arch = {f"model.{r}" for r in ("g", "d") if getattr(cfg.model, r).arch != getattr(base.model, r).arch}
    unstated = {key for key in changed - stated if key.rsplit(".", 1)[0] not in new_arch}
    assert not unstated, f"{name} changes keys it does not state: {sorted(unstated)}"


@pytest.mark.parametrize("parent", ["3", "[gan2014-digits]", "{a: 1}", "''"])
def test_extends_must_name_a_preset(tmp_path, parent, one_line):
    # probe C, item 7: `extends: 3` was an AttributeError traceback ('int' object has no attribute 'endswith')
    path = tmp_path / "mine.yaml"
    path.write_text(f"extends: {parent}\n")
    with pytest.raises(ConfigError) as e:
        presets.load_preset(str(path))
    assert "extends must be a preset name or a YAML file path (a string)" in one_line(e)


def _without(tree: dict, path: tuple) -> dict:
    out = copy.deepcopy(tree)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else value


def _resolves_to(raw: dict) -> dict | None:
    """The resolved config of ``raw``, each net spec filled in with its builder's defaults (so an option stated
    at the value its builder would use anyway, e.g. maxout's pieces: 5, resolves as if left out); None where
    it does not resolve (a new arch's options without it)."""
    try:
        resolved = config.resolve(raw).to_dict()
    except ConfigError:
        return None
    for role, key in (("generator", "g"), ("discriminator", "d")):
        spec = resolved["model"][key]
        resolved["model"][key] = {k: _plain(v) for k, v in {**net_registry.options(role, spec["arch"]), **spec}.items()}
    return resolved


def _own_leaves(tree: dict, prefix: tuple = ()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _own_leaves(value, (*prefix, key))
        else:
            yield (*prefix, key)


@pytest.mark.parametrize("name", sorted(presets.list_presets()))
def test_preset_states_nothing_it_would_inherit(name):
    """A preset holds only its differences: every value it states must change the resolved config, so a
    leaf equal to what it would inherit (the default, or the preset it extends) fails here. Decided by the
    resolved config, not by comparing text: dropping the leaf and resolving again must give another config.
    That covers ``arch`` too: a net spec restating its parent's arch merges into the parent's spec (only a
    new arch replaces it), so a restated arch is as redundant as any other value; one that changes the
    arch is kept, and so are the options stated with it, which the parent's spec no longer supplies. Net specs
    are compared with their builder's defaults filled in, so an option restated at its builder's default
    (maxout's pieces: 5) is as redundant as a restated schema value."""
    chain = presets.layers(name)
    inherited: dict = {}
    for _, layer in chain[:-1]:
        inherited = config.merge(inherited, layer)
    own = chain[-1][1]
    resolved = _resolves_to(config.merge(inherited, own))
    parent_model = config.resolve(inherited).to_dict()["model"]
    new_arch = {("model", role) for role in ("g", "d")
                if own.get("model", {}).get(role, {}).get("arch", parent_model[role]["arch"]) != parent_model[role]["arch"]}
    redundant = [".".join(path) for path in _own_leaves(own) if path[:2] not in new_arch
                 and _resolves_to(config.merge(inherited, _without(own, path))) == resolved]
    assert not redundant, f"{name} restates values it inherits: {redundant}"
