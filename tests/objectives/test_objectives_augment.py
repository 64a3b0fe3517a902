import pytest
import torch

from ganforge.objectives.augment import DiffAugment, cutout, parse_policy, translation
from ganforge.errors import ConfigError


def test_translation_shifts_with_zero_fill():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = translation(x, ratio=0.25)
    for img in out[:, 0]:
        # each output is the input shifted by at most one pixel per axis, zeros where it left the frame
        kept = img[img > 0]
        assert len(kept) >= 9 and set(kept.tolist()) <= set(range(1, 17))
    assert (out == x).all(dim=(1, 2, 3)).any()  # a zero shift happens
    assert not (out == x).all()


def test_cutout_zeroes_a_square_of_half_the_size():
    out = cutout(torch.ones(32, 1, 8, 8))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16 and zeros.min() >= 4  # 4x4, clipped at the border


def test_diffaugment_passes_gradients_and_draws_per_sample():
    x = torch.rand(8, 3, 16, 16, requires_grad=True)
    aug = DiffAugment("color,translation,cutout")
    y = aug(x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    same = torch.rand(1, 3, 16, 16).repeat(8, 1, 1, 1)
    outs = aug(same)
    assert not torch.allclose(outs[0], outs[1])  # fresh parameters per sample


def test_unknown_policy_is_a_config_error():
    assert parse_policy(" color , cutout") == ["color", "cutout"]
    with pytest.raises(ConfigError, match="did you mean 'translation'"):
        parse_policy("color,translate")
