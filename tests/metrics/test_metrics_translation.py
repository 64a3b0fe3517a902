"""Translation metrics: their fixed points, what each one is sensitive to, and their protocol names."""

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.metrics import translation as tm
from ganforge.metrics.judges import Judge


class MeanJudge(nn.Module):
    """A stand-in judge: 'class' = how bright the image is (0-9), features = row means."""

    def embed(self, x):
        return x.float().mean(3).flatten(1) / 255

    def classify(self, f):
        return -((f.mean(1, keepdim=True) * 10 - torch.arange(10) - 0.5) ** 2)


def images(seed=0, n=20, c=1):
    return np.random.RandomState(seed).randint(0, 256, (n, c, 32, 32)).astype(np.uint8)


def test_identical_images_score_perfectly_and_noise_does_not():
    x = images()
    assert tm.l1(x, x) == 0 and tm.psnr(x, x) == tm.PSNR_CAP and tm.ssim(x, x) == 1
    noisy = np.clip(x.astype(int) + np.random.RandomState(1).randint(-20, 21, x.shape), 0, 255).astype(np.uint8)
    assert 0 < tm.l1(noisy, x) < tm.l1(255 - x, x)
    assert 20 < tm.psnr(noisy, x) < tm.PSNR_CAP and tm.ssim(255 - x, x) < tm.ssim(noisy, x) < 1


def test_colourfulness_is_zero_for_grey_and_grows_with_saturation():
    grey = np.repeat(images(c=1), 3, axis=1)
    assert tm.colourfulness(grey) == 0
    pale, vivid = grey.copy(), grey.copy()
    pale[:, 0] = np.clip(pale[:, 0].astype(int) + 20, 0, 255)
    vivid[:, 0] = np.clip(vivid[:, 0].astype(int) + 120, 0, 255)
    assert 0 < tm.colourfulness(pale) < tm.colourfulness(vivid)


def test_label_accuracy_fid_and_names():
    judge = Judge("mean", MeanJudge(), (1, 28, 28), 10)
    labels = np.arange(60) % 10
    texture = np.random.RandomState(0).randint(-6, 7, (60, 1, 32, 32))
    x = (np.stack([np.full((1, 32, 32), int(25.5 * k + 12)) for k in labels]) + texture).astype(np.uint8)
    result = tm.score(x, x, split="test", labels=labels, judge=judge)
    assert result["labelacc_test_mean"] == 1.0 and abs(result["fid60_test_mean"]) < 1e-6
    view = tm.score(255 - x, 255 - x, split="test", labels=labels, judge=judge,
                    judge_view=("uninverted", lambda a: 255 - a))
    assert view["labelacc_test_mean_uninverted"] == 1.0
    # The FID reads outputs and reference through the view too, and says so: through it, the mean judge sees
    # x against x (0); without it, it would compare the inverted images' features, a different feature space.
    assert abs(view["fid60_test_mean_uninverted"]) < 1e-6
    dark = tm.score(255 - x // 2, 255 - x, split="test", judge=judge, judge_view=("uninverted", lambda a: 255 - a))
    assert dark["fid60_test_mean_uninverted"] == pytest.approx(tm.judge_fid(x // 2, x, judge), abs=1e-6)
    assert tm.score(x // 2, x, split="test", judge=judge)["fid60_test_mean"] > 0.1  # darker than the target domain
    assert set(view) == {"l1_test_truth", "psnr_test_truth", "ssim_test_truth", "labelacc_test_mean_uninverted",
                         "fid60_test_mean_uninverted"}
