"""The progressive recipe feeds D real images faded between two resolutions while a stage fades in (ProGAN)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from ganforge import config, presets, recipes
from ganforge.engine.build import build
from ganforge.recipes.progressive import FadedReals, fade_reals
from ganforge.training.distributed import SINGLE


def test_a_fading_stage_s_real_image_is_the_paper_s_blend_of_two_resolutions():
    """Karras et al. 2018, figure 2: during a transition the real images are interpolated between the two
    resolutions as G's output is. 3 stages of 7, 14 and 28 px: level 0.25 fades 14 px in at alpha 0.25."""
    x = torch.rand(2, 1, 28, 28)
    at_14 = F.avg_pool2d(x, 2)
    expected_14 = F.interpolate(F.avg_pool2d(at_14, 2), scale_factor=2, mode="nearest").lerp(at_14, 0.25)
    faded = fade_reals(x, 0.25, 3)
    assert faded.shape == x.shape
    assert torch.allclose(F.avg_pool2d(faded, 2), expected_14, atol=1e-6)  # what D's pooling to 14 px sees
    full = fade_reals(x, 1.5, 3)  # 28 px at alpha 0.5
    assert torch.allclose(full, 0.5 * F.interpolate(at_14, scale_factor=2, mode="nearest") + 0.5 * x, atol=1e-6)
    for stable in (0.0, 1.0, 2.0):  # no stage fading: the images as they are
        assert torch.equal(fade_reals(x, stable, 3), x)


SETTINGS = ["data.name=digits", "model.g.channels=8", "model.d.channels=8", "model.z_dim=8", "train.batch_size=8",
            "growth.stable_images=16", "growth.fade_images=64", "log.tensorboard=false"]


def test_the_recipe_s_d_terms_draw_faded_reals_during_a_fade(tmp_path):
    """Every term that draws real images (D's loss, R1, feature matching) reads ctx.real: mid-fade it hands out
    the inner stream's batch faded for the level the networks hold; the inner stream stays the checkpointed one."""
    cfg = config.resolve(presets.load_preset("progan-mnist")[0], SETTINGS)
    built = build(cfg, recipes.get(cfg.recipe), SINGLE, str(tmp_path))
    ctx, growth = built.parts.context, built.parts.streams["growth"]
    assert isinstance(ctx.real, FadedReals) and built.parts.streams["real"] is ctx.real.inner
    for _ in range(4):  # the 4th step saw 24 images: stage 1 (7 -> 14 px) fading in at alpha (24 - 16) / 64
        growth.run(ctx)
    assert growth.in_effect == pytest.approx(0.125) and built.nets["D"].level.item() == pytest.approx(0.125)
    state = copy.deepcopy(ctx.real.inner.state_dict())
    seen, _ = ctx.real.next()
    ctx.real.inner.load_state_dict(state)
    plain, _ = ctx.real.inner.next()
    assert not torch.equal(seen, plain)
    assert torch.equal(seen, fade_reals(plain, 0.125, growth.schedule.levels))
