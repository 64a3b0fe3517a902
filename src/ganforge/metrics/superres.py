"""Super-resolution metrics, each named with its protocol.

Reference metrics follow the BasicSR / MATLAB convention that published SR tables use:

- ``psnr_y_crop{s}`` / ``ssim_y_crop{s}``: on the luma channel Y of ITU-R BT.601 (MATLAB's
  ``rgb2ycbcr``: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for RGB in [0, 1], so Y is in
  [16, 235]), computed in float on [0, 255] with ``data_range=255``, after cutting ``crop_border = s``
  (the scale) pixels from every edge. SSIM is Wang et al.'s with an 11x11 Gaussian window of sigma 1.5
  and population covariances (``gaussian_weights=True, use_sample_covariance=False``), which is what
  BasicSR's ``calculate_ssim`` computes. Both come from :mod:`skimage.metrics`, not written here;
  grey images are their own Y (scaled to [16, 235] the same way).
- ``lrpsnr_rgb``: LR-consistency, PSNR (RGB, [0, 255]) between ``downsample(SR)`` and the LR input,
  with the same antialiased-bicubic :func:`ganforge.data.superres.downsample` that made the LR. A
  model that invents detail the LR rules out scores low here however sharp it looks.

No-reference proxy: ``gradenergy_y``: the mean squared Sobel gradient of Y (skimage's ``sobel``),
reported as a ratio to the truth's (1.0 = as much edge energy as the real photo). Blurry, MSE-trained
outputs sit below 1; it does not say whether the added edges are *right* (PSNR does), and an output
full of noise can exceed 1, so read it beside PSNR, never alone.

No-reference artefact figure: ``checkerboard_y_x{r}``: the RMS, in grey levels of Y, of the image's
r-periodic component (:func:`checkerboard`): average Y over every r x r block of the sub-pixel grid
and take the spread of the r*r phase means. By Parseval this is the power at the spatial frequencies
(k/r, l/r) cycles per pixel, (k, l) != (0, 0), the only frequencies where a pixel-shuffle x r upsampler's
sub-pixel filters print their cross-hatch ("checkerboard"); image content averages out over the blocks
(a photo's own value is a fraction of a grey level). :func:`checkerboard_share` gives the same power as
a share of the image's variance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ganforge.data.superres import bicubic_up, crop_to_multiple, downsample, to_uint8

Upscaler = Callable[[torch.Tensor], torch.Tensor]  # LR float (1, C, h, w) in [0, 1] -> SR float in [0, 1]
BT601 = np.array([65.481, 128.553, 24.966])


def luma(img: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) or (H, W) -> Y in [16, 235] as float64 (MATLAB rgb2ycbcr's Y)."""
    x = img.astype(np.float64) / 255.0
    if x.ndim == 2:
        return 16.0 + 219.0 * x
    return 16.0 + x @ BT601


def _crop(img: np.ndarray, border: int) -> np.ndarray:
    return img[border:-border, border:-border] if border else img


def psnr_y(sr: np.ndarray, hr: np.ndarray, border: int) -> float:
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from skimage.metrics import peak_signal_noise_ratio

    return float(peak_signal_noise_ratio(_crop(luma(hr), border), _crop(luma(sr), border), data_range=255))


def ssim_y(sr: np.ndarray, hr: np.ndarray, border: int) -> float:
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from skimage.metrics import structural_similarity

    return float(structural_similarity(_crop(luma(hr), border), _crop(luma(sr), border), data_range=255,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))


def grad_energy(img: np.ndarray, border: int) -> float:
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from skimage.filters import sobel

    return float(np.mean(sobel(_crop(luma(img), border)) ** 2))


def subpixel_pattern(y: np.ndarray, r: int) -> np.ndarray:
    """(H, W) -> the (r, r) mean over all r x r blocks minus the image mean: the image's r-periodic part.
    Rows and columns past the last whole block are dropped."""
    h, w = y.shape[0] // r * r, y.shape[1] // r * r
    blocks = np.asarray(y, dtype=np.float64)[:h, :w].reshape(h // r, r, w // r, r)
    phases = blocks.mean(axis=(0, 2))
    return phases - phases.mean()


def checkerboard(img: np.ndarray, r: int, border: int) -> float:
    """``checkerboard_y_x{r}``: RMS in grey levels of Y's r-periodic component (uint8 HWC or HW image,
    ``border`` pixels cut from every edge first, a multiple of r so the grid keeps its phase)."""
    return float(np.sqrt(np.mean(subpixel_pattern(_crop(luma(img), border), r) ** 2)))


def checkerboard_share(y: np.ndarray, r: int) -> float:
    """The r-periodic power of a float (H, W) image as a share of its variance (0 when it is flat)."""
    h, w = y.shape[0] // r * r, y.shape[1] // r * r
    var = float(np.var(np.asarray(y, dtype=np.float64)[:h, :w]))
    return float(np.mean(subpixel_pattern(y, r) ** 2)) / var if var > 0 else 0.0


def flat_checkerboard(fn: Upscaler, scale: int, channels: int, reach: int, level: float = 0.5) -> float:
    """``checkerboard_flat_y_x{s}``: an upscaler's own cross-hatch. RMS, in grey levels of Y (float, not
    rounded to 8 bits, so a pattern under half a level still counts), of the s-periodic part of its
    output for a flat LR image at ``level``; ``reach`` (LR pixels, the receptive radius) is cut from
    every edge so zero padding does not count. A flat input has no detail to draw: any such pattern is
    the upsampler's. Bicubic (or any shift-invariant filter) scores 0."""
    size = 2 * reach + 16
    with torch.no_grad():
        out = fn(torch.full((1, channels, size, size), level))[0].double().cpu().numpy()
    y = 16.0 + 219.0 * out[0] if channels == 1 else 16.0 + np.tensordot(BT601, out, axes=1)
    inner = y[reach * scale:-reach * scale, reach * scale:-reach * scale]
    return float(np.sqrt(np.mean(subpixel_pattern(inner, scale) ** 2)))


def hwc_to_tensor(img: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, C) or (H, W) -> float (1, C, H, W) in [0, 1]."""
    chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(chw)).float().div(255).unsqueeze(0).to(device)


def tensor_to_hwc(x: torch.Tensor) -> np.ndarray:
    out = to_uint8(x[0]).cpu().numpy()
    return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)


def names(scale: int) -> dict[str, str]:
    """The metric keys of one scale, protocol included."""
    return {"psnr": f"psnr_y_crop{scale}", "ssim": f"ssim_y_crop{scale}", "grad": f"gradenergy_y_crop{scale}",
            "lr": "lrpsnr_rgb", "checker": f"checkerboard_y_x{scale}"}


def score(sr: np.ndarray, hr: np.ndarray, lr: np.ndarray, scale: int) -> dict[str, float]:
    """Every metric of one SR image against its truth ``hr`` and its input ``lr`` (uint8 HWC or HW)."""
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from skimage.metrics import peak_signal_noise_ratio

    n = names(scale)
    lr_again = tensor_to_hwc(downsample(hwc_to_tensor(sr), scale))
    return {n["psnr"]: psnr_y(sr, hr, scale), n["ssim"]: ssim_y(sr, hr, scale),
            n["grad"]: grad_energy(sr, scale) / max(grad_energy(hr, scale), 1e-12),
            n["lr"]: float(peak_signal_noise_ratio(lr, lr_again, data_range=255)),
            n["checker"]: checkerboard(sr, scale, scale)}


def evaluate(upscalers: dict[str, Upscaler], photos: list[tuple[str, np.ndarray]], scale: int,
             keep: Callable[[str, str, np.ndarray], None] | None = None) -> dict[str, dict[str, float]]:
    """Mean metrics of each upscaler over ``photos`` (name, uint8 HWC): each photo is cropped to a multiple
    of ``scale`` (BasicSR's mod-crop), shrunk with :func:`downsample`, upscaled and scored. ``keep``
    receives (upscaler, photo, SR image) for figures."""
    totals: dict[str, dict[str, list[float]]] = {name: {} for name in upscalers}
    for photo, img in photos:
        hr = crop_to_multiple(img, scale)
        lr = tensor_to_hwc(downsample(hwc_to_tensor(hr), scale))
        for name, fn in upscalers.items():
            with torch.no_grad():
                sr = tensor_to_hwc(fn(hwc_to_tensor(lr)))
            if keep is not None:
                keep(name, photo, sr)
            for key, value in score(sr, hr, lr, scale).items():
                totals[name].setdefault(key, []).append(value)
    return {name: {key: float(np.mean(v)) for key, v in metrics.items()} for name, metrics in totals.items()}


def bicubic(scale: int) -> Upscaler:
    """The baseline, through the same function ``upscale --bicubic`` uses."""
    return lambda lr: bicubic_up(lr, scale)


__all__ = ["bicubic", "checkerboard", "checkerboard_share", "evaluate", "flat_checkerboard", "grad_energy", "luma", "names", "psnr_y",
           "score", "ssim_y", "subpixel_pattern"]
