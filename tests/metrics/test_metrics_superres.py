"""SR metrics: Y-PSNR/SSIM equal scikit-image's on its own Y conversion, with the border cut; closed-form
values; the gradient-energy proxy and the LR-consistency check separate blurry, sharp and wrong outputs."""

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage import data as sk_data
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganforge.data.superres import crop_to_multiple
from ganforge.metrics import superres as m


@pytest.fixture(scope="module")
def pair():
    hr = crop_to_multiple(sk_data.astronaut()[100:228, 150:290], 4)
    sr = np.clip(gaussian_filter(hr.astype(float), (1.2, 1.2, 0)), 0, 255).round().astype(np.uint8)
    return sr, hr


def test_psnr_and_ssim_equal_scikit_images_on_its_y_channel(pair):
    sr, hr = pair
    y_sr, y_hr = rgb2ycbcr(sr)[4:-4, 4:-4, 0], rgb2ycbcr(hr)[4:-4, 4:-4, 0]  # MATLAB's rgb2ycbcr, BT.601
    assert m.psnr_y(sr, hr, 4) == pytest.approx(peak_signal_noise_ratio(y_hr, y_sr, data_range=255), abs=1e-9)
    want = structural_similarity(y_hr, y_sr, data_range=255, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)
    assert m.ssim_y(sr, hr, 4) == pytest.approx(want, abs=1e-9)
    assert 0.3 < m.ssim_y(sr, hr, 4) < 0.99


def test_psnr_of_a_constant_offset_has_its_closed_form():
    hr = np.full((20, 20, 3), 100, np.uint8)
    sr = hr + np.uint8(10)
    dy = 10 * (65.481 + 128.553 + 24.966) / 255  # the Y offset of +10 on R, G and B
    assert m.psnr_y(sr, hr, 2) == pytest.approx(10 * math.log10(255 ** 2 / dy ** 2), abs=1e-9)


@pytest.mark.filterwarnings("ignore:divide by zero")  # skimage says PSNR of equal images is inf, with a warning
def test_crop_border_ignores_the_edges():
    hr = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    sr = hr.copy()
    sr[:4] = 0
    sr[:, -4:] = 255
    assert m.psnr_y(sr, hr, 4) == math.inf and m.ssim_y(sr, hr, 4) == pytest.approx(1.0)
    assert m.psnr_y(sr, hr, 2) < 20


def test_gradient_energy_ratio_orders_blur_truth_and_noise(pair):
    sr, hr = pair
    noisy = np.clip(hr + np.random.default_rng(0).normal(0, 25, hr.shape), 0, 255).astype(np.uint8)
    assert m.grad_energy(sr, 4) < m.grad_energy(hr, 4) < m.grad_energy(noisy, 4)


def test_scores_of_bicubic_and_of_a_model_that_ignores_the_input(pair):
    _, hr = pair
    scores = m.evaluate({"bicubic": m.bicubic(4), "grey": lambda lr: torch.full_like(lr, 0.5).repeat_interleave(
        4, -1).repeat_interleave(4, -2)}, [("crop", hr)], 4)
    keys = m.names(4)
    bic, grey = scores["bicubic"], scores["grey"]
    assert set(bic) == set(keys.values())
    assert bic[keys["psnr"]] > grey[keys["psnr"]] + 5 and bic[keys["ssim"]] > grey[keys["ssim"]]
    assert bic[keys["lr"]] > 25 > grey[keys["lr"]]  # bicubic shrinks back close to its LR; a flat image does not
    assert bic[keys["grad"]] < 1 and grey[keys["grad"]] < 1e-12  # bicubic is blurrier than the truth; flat is flat


def test_checkerboard_reads_the_amplitude_of_an_added_sub_pixel_pattern_and_little_of_a_photo(pair):
    _, hr = pair
    photo = (hr // 2 + 64).astype(np.uint8)  # mid-range: the pattern below never clips
    pattern = np.tile(np.array([[1, -1], [-1, 1]]) * 8, (photo.shape[0] // 2, photo.shape[1] // 2))
    hatched = (photo.astype(int) + pattern[..., None]).astype(np.uint8)  # +-8 on R, G and B
    dy = 8 * (65.481 + 128.553 + 24.966) / 255  # the Y amplitude of +-8 on R, G and B
    assert m.checkerboard(photo, 4, 4) < 1.0 and m.checkerboard(np.roll(photo, 1, 1), 4, 4) < 1.0
    assert m.checkerboard(hatched, 4, 4) == pytest.approx(dy, abs=0.5)
    assert m.checkerboard(hatched[:, 1:-3], 4, 4) == pytest.approx(dy, abs=0.5)  # any phase of the grid


def test_checkerboard_share_is_one_for_a_periodic_image_zero_for_a_flat_one_and_small_for_noise():
    rng = np.random.default_rng(0)
    assert m.checkerboard_share(np.tile(rng.normal(size=(4, 4)), (5, 6)), 4) == pytest.approx(1.0)
    assert m.checkerboard_share(np.ones((8, 8)), 4) == 0.0
    assert m.checkerboard_share(rng.normal(size=(400, 400)), 4) < 1e-3  # 15 of 160,000 frequencies


def test_flat_checkerboard_is_zero_for_bicubic_and_reads_an_upscalers_own_pattern():
    pattern = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(2, 2) * (4 / 255)  # +-4 grey levels, 4-periodic

    def hatched(lr):
        up = lr.repeat_interleave(4, -1).repeat_interleave(4, -2)
        return up + pattern.repeat(up.shape[-2] // 4, up.shape[-1] // 4)

    assert m.flat_checkerboard(m.bicubic(4), 4, 3, reach=3) < 1e-9
    assert m.flat_checkerboard(hatched, 4, 3, reach=3) == pytest.approx(4 * (65.481 + 128.553 + 24.966) / 255)
    assert m.flat_checkerboard(hatched, 4, 1, reach=3) == pytest.approx(4 * 219 / 255)
