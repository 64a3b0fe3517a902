"""Translation metrics: distance to the truth, what a judge reads, realism, colourfulness.

Every figure is named with its protocol: the split it was measured on, what it is compared
with, and the judge whose features or labels it uses, e.g. ``ssim_test_truth`` (SSIM of
G(a) against the hidden truth, test split), ``labelacc_test_lenet`` (the MNIST LeNet judge's
accuracy on translated digits against the *source* digit's label), ``fid10k_test_lenet``
(Fréchet distance in LeNet-judge features between translations and the target domain's real
test images; not the Inception FID). A judge that must read a domain through a view (e.g.
``uninverted``: 255 - x for inverted digits) reads translations and references alike through it,
and both judge metrics then carry the view's name (``labelacc_test_lenet_uninverted``,
``fid10k_test_lenet_uninverted``). Images are uint8 (N, C, H, W) throughout.

L1, PSNR and SSIM against the truth compare the images as the task gives them: on the padded
MNIST tasks (mnist-edges, mnist-inverted, mnist-thick) that is the 32-px image, its 2-px border
(23% of the pixels) included; only the judge reads the centre 28 px back.

The per-image maths comes from scikit-image (``peak_signal_noise_ratio``,
``structural_similarity``); colourfulness (Hasler and Süsstrunk 2003) is four moments of two
opponent channels, written here because no listed library has it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ganforge.data.translation_tasks import unpad_mnist
from ganforge.metrics.frechet import frechet_distance
from ganforge.metrics.judges import Judge
from ganforge.metrics.modes import format_count

PSNR_CAP = 100.0  # dB for an exact copy (PSNR is infinite there), so a mean stays finite


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"compare uint8 images of one shape, got {a.dtype} {a.shape} and {b.dtype} {b.shape}")


def l1(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute difference in [0, 1] units (pixel / 255), over every pixel given (on the padded MNIST
    tasks the 32-px image, 2-px border included)."""
    _check(out, truth)
    return float(np.abs(out.astype(np.float64) - truth).mean() / 255.0)


def psnr(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-image PSNR in dB (peak 255), each capped at :data:`PSNR_CAP`; over the whole image given (on
    the padded MNIST tasks the 32-px image, 2-px border included)."""
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from skimage.metrics import peak_signal_noise_ratio

    _check(out, truth)
    values = []
    for o, t in zip(out, truth):
        if np.array_equal(o, t):
            values.append(PSNR_CAP)
        else:
            values.append(min(PSNR_CAP, peak_signal_noise_ratio(t, o, data_range=255)))
    return float(np.mean(values))


def ssim(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-image SSIM (7x7 windows, peak 255; colour channels averaged), over the whole image given (on
    the padded MNIST tasks the 32-px image, 2-px border included)."""
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from skimage.metrics import structural_similarity

    _check(out, truth)
    values = [structural_similarity(t, o, data_range=255, channel_axis=0) for o, t in zip(out, truth)]
    return float(np.mean(values))


def colourfulness(images: np.ndarray) -> float:
    """Mean Hasler-Süsstrunk colourfulness of RGB images: sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 + m_yb^2),
    with rg = R - G and yb = (R + G) / 2 - B per image (0 for grey images)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"colourfulness takes RGB images (N, 3, H, W), got {images.shape}")
    x = images.astype(np.float64)
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    spread = np.sqrt(rg.std((1, 2)) ** 2 + yb.std((1, 2)) ** 2)
    centre = np.sqrt(rg.mean((1, 2)) ** 2 + yb.mean((1, 2)) ** 2)
    return float((spread + 0.3 * centre).mean())


def for_judge(images: np.ndarray, judge: Judge) -> np.ndarray:
    """Padded 32-px digits back to the judge's 28 px (other sizes as they are)."""
    want = judge.input_shape
    if want is not None and images.shape[-1] == want[-1] + 4:
        return np.ascontiguousarray(unpad_mnist(images))
    return images


def label_accuracy(out: np.ndarray, labels: np.ndarray, judge: Judge) -> float:
    """How often the judge reads each translated image as its source's class."""
    _, logits = judge(for_judge(out, judge))
    return float((logits.argmax(1).numpy() == np.asarray(labels)).mean())


def judge_fid(out: np.ndarray, reference: np.ndarray, judge: Judge) -> float:
    """Fréchet distance between judge features of translations and of real target-domain images."""
    fake, _ = judge(for_judge(out, judge))
    real, _ = judge(for_judge(reference, judge))
    return frechet_distance(real, fake)


def score(out: np.ndarray, truth: np.ndarray | None, *, split: str, labels: np.ndarray | None = None,
          judge: Judge | None = None, reference: np.ndarray | None = None, colour: bool = False,
          judge_view: tuple[str, Callable[[np.ndarray], np.ndarray]] | None = None) -> dict[str, Any]:
    """Every metric that applies, under its protocol name. ``truth``: the true translations (paired);
    ``reference``: real images of the target domain for the judge FID (default: ``truth``);
    ``judge_view``: (name, f) when the judge must read ``f(images)``, e.g. inverted digits turned back (the
    MNIST judge reads white-on-black digits only): applied to the outputs for the label accuracy, and to the
    outputs and the reference alike for the judge FID; both metric names then end in ``_`` + the view's name."""
    result: dict[str, Any] = {}
    if truth is not None:
        result.update({f"l1_{split}_truth": l1(out, truth), f"psnr_{split}_truth": psnr(out, truth),
                       f"ssim_{split}_truth": ssim(out, truth)})
    if judge is not None:
        view, f = judge_view or ("", lambda x: x)
        read_as = f"{judge.name}{'_' + view if view else ''}"  # the judge, and the view it read through
        if labels is not None:
            result[f"labelacc_{split}_{read_as}"] = label_accuracy(f(out), labels, judge)
        ref = truth if reference is None else reference
        if ref is not None:
            result[f"fid{format_count(len(out))}_{split}_{read_as}"] = judge_fid(f(out), f(ref), judge)
    if colour:
        result[f"colourfulness_hs_{split}"] = colourfulness(out)
    return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in result.items()}
