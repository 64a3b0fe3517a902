"""Auto configuration (config/auto.py): the picks at 32/64/128/256 px on 1 and 8 devices, explicit --set winning,
the printout, and the refusals."""

import json

import numpy as np
import pytest
from torch import nn

from ganforge import api, config, presets, recipes
from ganforge.cli import main
from ganforge.config import auto
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator

# (res, devices) -> (batch, width, gamma, ema half-life): stylegan2-ada's auto formulas worked by hand:
# batch = max(min(devices * min(4096 // res, 32), 64), devices); width = min(16384 // res, 512);
# gamma = 0.0002 * res^2 / batch; ema = batch * 10000 / 32.
STYLEGAN2 = {
    (32, 1): (32, 512, 0.0064, 10000), (64, 1): (32, 256, 0.0256, 10000),
    (128, 1): (32, 128, 0.1024, 10000), (256, 1): (16, 64, 0.8192, 5000),
    (32, 8): (64, 512, 0.0032, 20000), (64, 8): (64, 256, 0.0128, 20000),
    (128, 8): (64, 128, 0.0512, 20000), (256, 8): (64, 64, 0.2048, 20000),
}
# DCGAN: batch = devices * min(8192 // res, 128); base width so the widest layer is 512, within [16, 64].
DCGAN = {
    (32, 1): (128, 64), (64, 1): (128, 64), (128, 1): (64, 32), (256, 1): (32, 16),
    (32, 8): (1024, 64), (64, 8): (1024, 64), (128, 8): (512, 32), (256, 8): (256, 16),
}


@pytest.mark.parametrize("res,devices", sorted(STYLEGAN2))
def test_stylegan2_picks(res, devices):
    batch, width, gamma, ema = STYLEGAN2[(res, devices)]
    p = auto.picks("stylegan2", res, devices)
    assert p["train.batch_size"] == batch
    assert p["model.g.channels"] == p["model.d.channels"] == width
    assert p["reg.r1"] == pytest.approx(gamma)
    assert p["ema.half_life_images"] == ema and p["ema.rampup"] == 0.05
    assert p["model.g.mapping_layers"] == 2
    assert batch // devices % p["model.d.mbstd_group"] == 0  # the group divides each device's batch


@pytest.mark.parametrize("res,devices", sorted(DCGAN))
def test_dcgan_picks(res, devices):
    batch, base = DCGAN[(res, devices)]
    p = auto.picks("dcgan", res, devices, r1_on=False)
    assert p["train.batch_size"] == batch
    assert p["model.g.base_channels"] == p["model.d.base_channels"] == base
    assert "reg.r1" not in p and "model.g.mapping_layers" not in p  # no R1 switched on, no mapping net
    assert p["ema.half_life_images"] == round(batch * 10000 / 32)


@pytest.mark.parametrize("res", [64, 128, 256])
def test_dcgan_widest_layer_is_512_when_built(res):
    """The picked base width gives nets whose widest layer is the paper's 512 at every resolution."""
    base = auto.picks("dcgan", res, 1)["model.g.base_channels"]
    ctx = NetContext(data_shape=(3, res, res), z_dim=8)
    for net in (build_generator(config.NetSpec("dcgan", {"base_channels": base}), ctx),
                build_discriminator(config.NetSpec("dcgan", {"base_channels": base}), ctx)):
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        widest = max(max(m.in_channels, m.out_channels) for m in convs)
        assert widest == 512


def test_resolve_applies_auto_over_the_preset():
    cfg, _ = api.resolve_config("stylegan2-mnist-paper", ["auto=true", "data.resolution=64"])
    assert cfg.auto and cfg.train.batch_size == 32  # the preset's batch 64, 128 channels and mapping 8 replaced
    assert cfg.model.g.options["channels"] == cfg.model.d.options["channels"] == 256
    assert cfg.model.g.options["mapping_layers"] == 2
    assert cfg.reg.r1 == pytest.approx(0.0256) and cfg.ema.half_life_images == 10000
    off, _ = api.resolve_config("stylegan2-mnist-paper", ["data.resolution=64"])
    assert off.model.g.options["channels"] == 128 and off.model.g.options["mapping_layers"] == 8
    assert off.train.batch_size == 64 and off.ema.half_life_images == 20000


def test_explicit_set_wins_and_the_rest_follows_it():
    cfg, _ = api.resolve_config("stylegan2-mnist", ["auto=true", "data.resolution=128", "train.batch_size=8",
                                                    "model.g.channels=48"])
    assert cfg.train.batch_size == 8 and cfg.model.g.options["channels"] == 48
    assert cfg.model.d.options["channels"] == 128  # not stated: auto's
    assert cfg.reg.r1 == pytest.approx(0.0002 * 128 * 128 / 8)  # gamma from the user's batch
    assert cfg.ema.half_life_images == 2500
    text = config.loading.auto_printout([("preset", {"auto": True, "model": {"g": {"arch": "stylegan2"},
                                                                              "d": {"arch": "stylegan2"}},
                                                     "data": {"resolution": 128}}),
                                         ("--set train.batch_size=8", {"train": {"batch_size": 8}})], devices=1)
    assert "train.batch_size = 8 from --set (auto would pick 32)" in text
    assert "reg.r1 = 0.4096" in text


def test_dcgan_auto_and_devices(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "8")
    cfg, _ = api.resolve_config("dcgan-mnist", ["auto=true", "data.resolution=64"])
    assert cfg.train.batch_size == 1024 and cfg.model.g.options["base_channels"] == 64
    assert cfg.reg.r1 == 0  # DCGAN without R1 stays without
    monkeypatch.delenv("WORLD_SIZE")
    cfg, _ = api.resolve_config("dcgan-mnist", ["auto=true", "data.resolution=64", "reg.r1=1.0"])
    assert cfg.reg.r1 == 1.0 and cfg.train.batch_size == 128


def test_native_size_and_store_size(tmp_path):
    cfg, _ = api.resolve_config("dcgan-mnist", ["auto=true"])  # mnist's own 28 px, known without loading
    assert cfg.train.batch_size == 128 and cfg.model.g.options["base_channels"] == 64
    store = tmp_path / "s"
    store.mkdir()
    (store / "dataset.json").write_text(json.dumps({"format": "ganforge-store", "version": 1,
                                                    "shape": [10, 3, 256, 256], "labels": False}))
    assert auto.resolution_of({"name": f"store:{store}"}) == 256
    assert np.isclose(auto.picks("stylegan2", auto.resolution_of({"name": f"store:{store}"}), 1)["reg.r1"], 0.8192)


def test_auto_batch_is_never_more_than_the_images(tmp_path):
    """24 photos at 64 px: auto's DCGAN batch (128) would be refused as larger than the data; it is 24, whole
    per device, and data.limit caps it the same way. A --set batch is the user's, and kept."""
    store = tmp_path / "photos64"
    store.mkdir()
    (store / "dataset.json").write_text(json.dumps({"format": "ganforge-store", "version": 1,
                                                    "shape": [24, 3, 64, 64], "labels": False}))
    assert auto.samples_of({"name": f"store:{store}"}) == 24
    assert auto.picks("dcgan", 64, 1)["train.batch_size"] == 128
    assert auto.picks("dcgan", 64, 1, samples=24)["train.batch_size"] == 24
    assert auto.picks("dcgan", 64, 2, samples=25)["train.batch_size"] == 24  # whole per device
    sg = auto.picks("stylegan2", 64, 1, samples=10)  # whole minibatch-std groups of 4
    assert sg["train.batch_size"] == 8 and sg["model.d.mbstd_group"] == 4
    assert auto.picks("stylegan2", 64, 1, samples=3)["model.d.mbstd_group"] == 3
    cfg, _ = api.resolve_config("dcgan-mnist", ["auto=true", f"data.name=store:{store}"])
    assert cfg.train.batch_size == 24
    cfg, _ = api.resolve_config("dcgan-mnist", ["auto=true", "data.limit=20"])
    assert cfg.train.batch_size == 20
    cfg, _ = api.resolve_config("dcgan-mnist", ["auto=true", f"data.name=store:{store}", "train.batch_size=8"])
    assert cfg.train.batch_size == 8


def test_refusals():
    with pytest.raises(ConfigError, match="auto=true sizes stylegan2 and dcgan nets.*'mlp'"):
        api.resolve_config("gan2014-mnist", ["auto=true"])
    with pytest.raises(ConfigError, match="set data.resolution=R"):
        auto.resolution_of({"name": "folder:/some/photos", "resolution": None})


def test_dry_run_names_auto_as_the_source(capsys, tmp_path):
    assert main(["train", "dcgan-mnist", "--set", "auto=true", "--set", "data.resolution=128", "--out",
                 str(tmp_path / "r"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "# auto configuration for dcgan at 128 px on 1 device:" in out
    assert any(line.strip().startswith("batch_size: 64") and "# auto (128 px, 1 device)" in line
               for line in out.splitlines())


@pytest.mark.parametrize("overrides, message", [
    (["data=3"], "data must be a mapping, got 3"),
    (["model=3"], "model must be a mapping, got 3"),
    (["model.g=3"], "model.g must be a mapping with an 'arch' key"),
    (["data.resolution=abc"], "data.resolution must be an integer, got 'abc'"),
    (["data.resolution=[64]"], "data.resolution must be an integer, got [64]"),
    (["data.limit=abc"], "data.limit must be an integer, got 'abc'"),
])
def test_auto_reads_values_only_after_their_type_checks(overrides, message, one_line):
    """auto read the raw values first: data=3 was an AttributeError traceback, resolution=abc a ValueError."""
    with pytest.raises(ConfigError) as e:
        api.resolve_config("dcgan-mnist", ["auto=true", *overrides])
    assert one_line(e).startswith(message)


def test_auto_must_be_a_bool(one_line):
    with pytest.raises(ConfigError) as e:
        api.resolve_config("dcgan-mnist", ["auto=1"])
    assert one_line(e) == "auto must be true or false, got 1"
    with pytest.raises(ConfigError) as e:
        api.resolve_config({"auto": 1, "model": {"g": 3}})
    assert "model.g must be a mapping" in one_line(e)


def test_auto_picks_only_keys_the_recipe_reads():
    """ganomaly keeps no moving average: auto picked ema.half_life_images and the user was told to remove it."""
    cfg, _ = api.resolve_config("ganomaly-mnist", ["auto=true", "data.resolution=32"])
    assert cfg.train.batch_size == 128 and cfg.model.g.options["base_channels"] == 64
    assert cfg.ema.half_life_images is None
    layers = [("preset ganomaly-mnist", presets.load_preset("ganomaly-mnist")[0]),
              ("--set auto=true", {"auto": True, "data": {"resolution": 32}})]
    printout = config.loading.auto_printout(layers, 1, reads=recipes.reads_of)
    assert "ema." not in printout and "train.batch_size = 128" in printout
