"""SRResNet: any x2^k scale on odd, non-square inputs; its receptive radius is what tiling relies on;
one D and one G step move the weights."""

import pytest
import torch

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator

CTX = NetContext(data_shape=(3, 16, 16), z_dim=1)


def _g(**options):
    return build_generator(NetSpec("srresnet", {"channels": 8, "blocks": 2, **options}), CTX)


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("block,norm", [("residual", "batch"), ("residual", "none"), ("rrdb", "none")])
def test_output_is_scale_times_any_odd_input(scale, block, norm):
    G = _g(scale=scale, block=block, norm=norm, growth=4)
    for h, w in ((7, 5), (9, 13), (1, 1)):
        assert G(torch.rand(2, 3, h, w)).shape == (2, 3, h * scale, w * scale)


def test_grey_images_keep_one_channel():
    G = build_generator(NetSpec("srresnet", {"channels": 8, "blocks": 1, "scale": 2}),
                        NetContext(data_shape=(1, 8, 8), z_dim=1))
    assert G(torch.rand(1, 1, 5, 3)).shape == (1, 1, 10, 6)


@pytest.mark.parametrize("options", [{"scale": 3}, {"scale": 1}, {"block": "dense"}])
def test_bad_options_are_one_config_error(options):
    with pytest.raises(ConfigError):
        _g(**options)


@pytest.mark.parametrize("block,blur", [("residual", False), ("rrdb", False), ("residual", True)])
def test_an_lr_pixel_reaches_no_further_than_the_receptive_radius(block, blur):
    torch.manual_seed(0)
    G = _g(scale=4, block=block, norm="batch", growth=4, blocks=1, upsample_blur=blur).eval().double()  # float64
    x = torch.rand(1, 3, 61, 61, dtype=torch.float64)
    y = x.clone()
    y[..., 30, 30] += 0.5
    changed = (G(x) - G(y)).abs().sum(1)[0] > 0
    rows, cols = changed.nonzero(as_tuple=True)
    reach = max((rows.double() / 4 - 30).abs().max(), (cols.double() / 4 - 30).abs().max())  # in LR pixels
    assert changed.any() and reach <= G.receptive_radius + 0.75  # 0.75: the 4x4 output pixels of LR pixel 30
    assert reach >= G.receptive_radius - 1  # and the radius is not a loose overestimate


def test_one_d_and_one_g_step_change_the_weights():
    torch.manual_seed(0)
    G = _g(scale=2)
    D = build_discriminator(NetSpec("sr-vgg", {"base_channels": 8, "stages": 2, "dense": 16}), CTX)
    lr, hr = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 16, 16)
    opt_d, opt_g = torch.optim.Adam(D.parameters(), 1e-3), torch.optim.Adam(G.parameters(), 1e-3)
    d_before, g_before = [p.clone() for p in D.parameters()], [p.clone() for p in G.parameters()]
    loss_d = torch.nn.functional.softplus(-D(hr)).mean() + torch.nn.functional.softplus(D(G(lr).detach())).mean()
    opt_d.zero_grad(), loss_d.backward(), opt_d.step()
    loss_g = torch.nn.functional.mse_loss(G(lr), hr) + 1e-3 * torch.nn.functional.softplus(-D(G(lr))).mean()
    opt_g.zero_grad(), loss_g.backward(), opt_g.step()
    assert all(not torch.equal(a, b) for a, b in zip(d_before, D.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(g_before, G.parameters()) if a.numel() > 1)


def test_the_bicubic_skip_starts_the_net_near_bicubic():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 9, 7)
    bicubic = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic", antialias=True)
    with_skip, without = _g(norm="none", bicubic_skip=True), _g(norm="none")
    assert (with_skip(x) - bicubic).abs().mean() < 0.02 < (without(x) - bicubic).abs().mean()


def _flat_checkerboard(G: torch.nn.Module) -> float:
    """RMS of the 4-periodic part of G's output for a flat grey input, away from the zero-padded edges."""
    with torch.no_grad():
        y = G(torch.full((1, 3, 40, 40), 0.5))[0].mean(0).double()
    r = 4 * G.receptive_radius
    inner = y[r:-r, r:-r]
    phases = inner.reshape(inner.shape[0] // 4, 4, inner.shape[1] // 4, 4).mean((0, 2))
    return float((phases - phases.mean()).pow(2).mean().sqrt())


@pytest.mark.parametrize("scale", [2, 4])
def test_icnr_starts_every_pixel_shuffle_with_equal_sub_pixel_phases_and_torchs_init_does_not(scale):
    for init in ("icnr", "default"):
        torch.manual_seed(0)
        G = _g(scale=scale, norm="none", upsample_init=init)
        convs = [m for m in G.up if isinstance(m, torch.nn.Conv2d)]
        assert len(convs) == scale.bit_length() - 1
        for conv in convs:
            out = torch.nn.functional.pixel_shuffle(conv(torch.randn(2, 8, 6, 5)), 2)  # any input, not only smooth
            blocks = out.detach().reshape(2, 8, 6, 2, 5, 2)
            spread = (blocks - blocks.mean((3, 5), keepdim=True)).abs().max()
            assert (spread == 0) if init == "icnr" else (spread > 0.1)


def test_icnr_is_the_default_and_a_flat_input_gives_a_flat_output_at_init():
    torch.manual_seed(0)
    icnr, default = _g(norm="none", bicubic_skip=True), _g(norm="none", bicubic_skip=True, upsample_init="default")
    assert _flat_checkerboard(icnr) < 1e-6 < 1e-3 < _flat_checkerboard(default)


def test_after_a_few_mse_steps_icnr_still_prints_less_checkerboard_than_torchs_init():
    """Both nets take the same 15 Adam steps on the same smooth images (their RNG streams are equal:
    ICNR draws nothing of its own); the default init's cross-hatch is not trained away that fast."""
    results = {}
    for init in ("icnr", "default"):
        torch.manual_seed(0)
        G = _g(norm="none", bicubic_skip=True, blocks=1, upsample_init=init)
        opt = torch.optim.Adam(G.parameters(), 1e-3)
        first = None
        for _ in range(15):
            hr = torch.nn.functional.interpolate(torch.rand(4, 3, 6, 6), size=24, mode="bicubic").clamp(0, 1)
            loss = torch.nn.functional.mse_loss(G(torch.nn.functional.avg_pool2d(hr, 4)), hr)
            opt.zero_grad(), loss.backward(), opt.step()
            first = loss.item() if first is None else first
        assert loss.item() < first  # it trains
        results[init] = _flat_checkerboard(G)
    assert results["icnr"] < 0.7 * results["default"]  # 0.12 here; 0.11-0.58 over seeds 0-4


def test_the_blur_after_each_shuffle_keeps_a_flat_input_flat_whatever_the_sub_pixel_filters_are():
    torch.manual_seed(0)
    G = _g(norm="none", upsample_init="default", upsample_blur=True)
    with torch.no_grad():
        for conv in (m for m in G.up if isinstance(m, torch.nn.Conv2d)):
            conv.weight.normal_()  # four unrelated sub-pixel filters per channel, as training may leave them
    assert _flat_checkerboard(G) < 1e-5 < 1e-3 < _flat_checkerboard(_g(norm="none", upsample_init="default"))
