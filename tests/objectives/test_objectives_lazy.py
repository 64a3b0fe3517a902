"""StyleGAN2's lazy-regularisation correction: a network regularised every k steps takes k+1
optimiser steps per k training steps, so its lr and Adam betas are scaled by c = k/(k+1)."""

import math

import pytest

from ganforge import recipes
from ganforge.config.loading import resolve
from ganforge.objectives import lazy_corrected


def _cfg(**reg):
    return resolve({"optim": {"d": {"name": "adam", "lr": 0.0025, "betas": [0.0, 0.99]},
                              "g": {"name": "adam", "lr": 0.0025, "betas": [0.0, 0.99]}},
                    "reg": reg})


def test_r1_every_16_scales_d_lr_and_betas_by_16_over_17_and_leaves_g():
    cfg = _cfg(r1=0.01, r1_every=16)
    d = lazy_corrected(cfg, "d", cfg.optim.d)
    assert math.isclose(d.lr, 0.0025 * 16 / 17)
    assert d.betas[0] == 0.0 and math.isclose(d.betas[1], 0.99 ** (16 / 17))
    assert lazy_corrected(cfg, "g", cfg.optim.g) == cfg.optim.g


def test_path_length_every_4_scales_g_by_4_over_5():
    cfg = _cfg(path_length=2.0, path_length_every=4)
    g = lazy_corrected(cfg, "g", cfg.optim.g)
    assert math.isclose(g.lr, 0.002) and math.isclose(g.betas[1], 0.99 ** 0.8)


@pytest.mark.parametrize("reg", [{"r1": 0.01, "r1_every": 1}, {"r1": 0.0, "r1_every": 16}, {}])
def test_no_correction_without_a_lazy_regulariser(reg):
    cfg = _cfg(**reg)
    assert lazy_corrected(cfg, "d", cfg.optim.d) == cfg.optim.d


def test_the_noise_to_image_recipe_builds_its_optimisers_with_the_correction():
    cfg = _cfg(r1=0.01, r1_every=16, path_length=0.0)
    opt = recipes.get("noise-to-image").optimized(cfg)
    assert math.isclose(opt["D"].lr, 0.0025 * 16 / 17) and opt["G"].lr == 0.0025


def test_the_d_correction_counts_d_steps_updates_per_step():
    """R1 every 16 steps with train.d_steps 2: 32 D updates and one R1 update, so c = 32/33 (not 16/17)."""
    cfg = resolve({"optim": {"d": {"name": "adam", "lr": 0.0025, "betas": [0.0, 0.99]},
                             "g": {"name": "adam", "lr": 0.0025, "betas": [0.0, 0.99]}},
                   "reg": {"r1": 0.01, "r1_every": 16, "path_length": 2.0, "path_length_every": 4},
                   "train": {"d_steps": 2}})
    d = lazy_corrected(cfg, "d", cfg.optim.d)
    assert math.isclose(d.lr, 0.0025 * 32 / 33) and math.isclose(d.betas[1], 0.99 ** (32 / 33))
    g = lazy_corrected(cfg, "g", cfg.optim.g)  # G updates once a step whatever d_steps is
    assert math.isclose(g.lr, 0.002) and math.isclose(g.betas[1], 0.99 ** 0.8)
