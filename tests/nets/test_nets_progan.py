"""Progressive GAN nets at tiny widths: shapes at every stage, the fade-in's two ends, one D and one G step."""

import pytest
import torch
import torch.nn.functional as F

from ganforge import config, presets
from ganforge.config import NetSpec
from ganforge.engine.loop import Trainer
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.progan import stage_and_alpha


def _nets(size=32, channels=3, **g_options):
    ctx = NetContext(data_shape=(channels, size, size), z_dim=8)
    torch.manual_seed(0)
    return (build_generator(NetSpec("progan", {"channels": 8, **g_options}), ctx),
            build_discriminator(NetSpec("progan", {"channels": 8}), ctx))


@pytest.mark.parametrize("size,channels,levels", [(32, 3, 4), (28, 1, 3)])
def test_shapes_at_every_level(size, channels, levels):
    G, D = _nets(size, channels)
    assert G.growth_levels == D.growth_levels == levels
    z = torch.randn(4, 8)
    for level in (0.0, 0.5, 1.0, levels - 1.5, levels - 1.0):
        G.set_growth(level)
        D.set_growth(level)
        x = G(z)
        assert x.shape == (4, channels, size, size) and G.output_range == (-1.0, 1.0)
        assert D.features(x).shape == (4, 8) and D(x).shape == (4,)


@pytest.mark.parametrize("level", [0.0, 1.4, 2.0])
def test_tanh_output_squashes_the_paper_s_linear_image_at_every_level(level):
    """``output: tanh`` is tanh of the image the paper's linear output gives with the same weights, mid-fade
    included, so it stays inside the data's range where the linear one goes past it."""
    (linear, _), (squashed, _) = _nets(28, 1), _nets(28, 1, output="tanh")
    for G in (linear, squashed):
        G.set_growth(level)
    with torch.no_grad():
        squashed.load_state_dict(linear.state_dict())
        z = torch.randn(16, 8)
        for G in (linear, squashed):  # a wider last layer, so the linear image leaves [-1, 1]
            G.to_rgb[G.stage_and_alpha()[0]].weight.mul_(4)
        raw, out = linear(z), squashed(z)
    assert raw.abs().max() > 1.5 and out.abs().max() <= 1
    torch.testing.assert_close(out, torch.tanh(raw))


def test_levels_map_to_stage_and_alpha():
    assert stage_and_alpha(0.0, 3) == (0, 1.0)
    assert stage_and_alpha(1.0, 3) == (1, 1.0)
    assert stage_and_alpha(1.25, 3) == (2, 0.25)
    assert stage_and_alpha(7.0, 3) == (3, 1.0)


def test_below_the_top_stage_g_is_its_stage_image_upsampled_and_d_sees_it_pooled():
    G, D = _nets()
    z = torch.randn(4, 8)
    G.set_growth(1.0)  # 8x8 fully faded in
    small = G.render(z, 1, 1.0)
    assert small.shape[-1] == 8 and torch.equal(G(z), F.interpolate(small, scale_factor=4, mode="nearest"))
    D.set_growth(1.0)
    assert torch.allclose(D.features(G(z)), D.features_at(small, 1, 1.0), atol=1e-6)


def test_fade_in_at_alpha_0_is_the_low_resolution_path_upsampled_and_at_alpha_1_the_new_block():
    G, D = _nets()
    z = torch.randn(4, 8)
    for stage in (1, 2, 3):
        low = G.render(z, stage - 1, 1.0)
        assert torch.allclose(G.render(z, stage, 0.0), F.interpolate(low, scale_factor=2, mode="nearest"))
        h = G.render(z, stage, 1.0)
        new_block = G.to_rgb[stage](G._block(stage, G.trunk(z, stage)))
        assert torch.allclose(h, new_block, atol=1e-6) and not torch.allclose(h, G.render(z, stage, 0.0))
        mid = G.render(z, stage, 0.25)
        assert torch.allclose(mid, 0.75 * G.render(z, stage, 0.0) + 0.25 * h, atol=1e-5)
        x = torch.randn(4, 3, 4 << stage, 4 << stage)
        assert torch.allclose(D.features_at(x, stage, 0.0), D.features_at(F.avg_pool2d(x, 2), stage - 1, 1.0),
                              atol=1e-6)


@pytest.mark.parametrize("preset,phases,stats", [
    ("progan-mnist-paper", ["growth", "D", "G", "G_ema"], {"gp", "drift"}),  # the paper's WGAN-GP + drift
    ("progan-mnist", ["growth", "D", "D_r1", "G", "G_ema"], {"r1"}),  # the CPU size: non-saturating + lazy R1
])
def test_progan_presets_take_one_d_and_one_g_step(tmp_path, preset, phases, stats):
    cfg = config.resolve(presets.load_preset(preset)[0],
                         ["data.name=digits", "model.g.channels=8", "model.d.channels=8", "model.z_dim=8",
                          "train.batch_size=8", "train.steps=1", "log.progress=false", "log.tensorboard=false"])
    tr = Trainer(cfg, tmp_path / "run")
    before = {k: {n: p.detach().clone() for n, p in net.named_parameters()} for k, net in tr.built.nets.items()}
    tr.fit()
    assert [p.name for p in tr.built.phases] == phases
    for name, net in tr.built.nets.items():
        moved = [n for n, p in net.named_parameters() if not torch.equal(p, before[name][n])]
        assert any(n.startswith("to_rgb.0") or n.startswith("from_rgb.0") for n in moved), name
    assert all(tr.last[k] >= 0 for k in stats) and not {"gp", "drift", "r1"} - stats & tr.last.keys()
