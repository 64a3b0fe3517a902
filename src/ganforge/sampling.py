"""Drawing from a generator: noise, generation in chunks, conversion to the data's own form.

Pure functions of a network and a seed: nothing here opens a run directory or knows about
training (``ganforge.runs`` loads a run; the engine draws its training noise with
:func:`sample_noise` too, so both sides agree on what z is).

Images come out as uint8 (N, C, H, W) at the training resolution, 2D points as
float32 (N, D) in data coordinates: the same forms the data registry hands out,
so samples and real data go through the same metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ganforge.errors import ConfigError, GanforgeError


MIN_Z_TRUNCATION = 0.05  # the least |z| threshold of the truncation trick: below it redrawing barely ends
SAMPLING_TAG = 0x5A4D  # mixed with the user's seed for samples (for_sampling), never added to a run seed


def for_sampling(seed: int) -> int:
    """The torch seed of the z (and labels) drawn for samples of the user's ``seed``: hashed, not ``seed``.

    A run of seed S builds its networks right after ``torch.manual_seed(S)``, so ``manual_seed(S)``
    draws would repeat the initial weights: z_i of a StyleGAN2 run's own seed was row i of its first
    mapping layer, every pre-activation |W_i|^2 ~ 512, w three times its usual norm and malformed
    digits wherever the sampling seed equalled the run seed (docs/stylegan.md). numpy's SeedSequence
    mixes (seed, tag) into 64 bits, so no small run or stream seed (``seed + offset``,
    ganforge.training.seeds) meets a sampling seed.
    """
    return int(np.random.SeedSequence([seed, SAMPLING_TAG]).generate_state(1, np.uint64)[0])


def sample_generator(seed: int, device: torch.device | str) -> torch.Generator:
    """The torch generator every sampling path draws z and labels from for the user's ``seed``
    (:func:`for_sampling`: hashed, so never the stream a run initialised from)."""
    return torch.Generator(device=device).manual_seed(for_sampling(seed))


def _draw(n: int, z_dim: int, dist: str, device: torch.device | str, generator: torch.Generator | None) -> torch.Tensor:
    if dist == "uniform":
        bound = math.sqrt(3.0)
        return torch.rand(n, z_dim, device=device, generator=generator).mul_(2 * bound).sub_(bound)
    if dist == "normal":
        # torch's CPU randn fills whole blocks of 16 values (16 uniforms each), but a count below 16 or not a
        # multiple of it another way, so randn(k) was not the start of randn(N): the first k samples of --n N
        # were not those of --n k for a normal z (docs/figures.md). Drawn in whole blocks and cut, they are.
        count = n * z_dim
        return torch.randn(-(-count // 16) * 16, device=device, generator=generator)[:count].reshape(n, z_dim)
    raise ConfigError(f"model.z_dist must be uniform or normal, got '{dist}'")


def sample_noise(n: int, z_dim: int, dist: str, device: torch.device | str,
                 generator: torch.Generator | None = None, truncation: float | None = None) -> torch.Tensor:
    """z for the generator. With ``truncation`` t, components with |z| > t are redrawn until inside
    (BigGAN's truncation trick); t must leave room, so it is refused below 0.05."""
    z = _draw(n, z_dim, dist, device, generator)
    if truncation is None:
        return z
    if not math.isfinite(truncation) or truncation < MIN_Z_TRUNCATION:  # nan passes a plain `<`: it is no threshold
        raise ConfigError(f"truncation must be a number >= {MIN_Z_TRUNCATION} (it is the |z| threshold), "
                          f"got {truncation}")
    outside = z.abs() > truncation
    while outside.any():
        z = torch.where(outside, _draw(n, z_dim, dist, device, generator), z)
        outside = z.abs() > truncation
    return z


def to_uint8(x: torch.Tensor, output_range: tuple[float, float]) -> torch.Tensor:
    """Generator output in ``output_range`` -> uint8 images (clamped and rounded)."""
    lo, hi = output_range
    return ((x.float() - lo) / (hi - lo)).clamp_(0, 1).mul_(255).round_().to(torch.uint8)


def from_uint8(x: torch.Tensor, output_range: tuple[float, float]) -> torch.Tensor:
    """uint8 images -> floats in ``output_range`` (to_uint8's inverse up to rounding): the one scaling of
    real images for every network that reads them (training batches, translators, scorers, probes), so
    that none sees images scaled another way than the ones it was trained on."""
    lo, hi = output_range
    return x.float().mul((hi - lo) / 255.0).add(lo)  # not in place: .float() of a float tensor is the tensor


def to_output(x: torch.Tensor, output_range: tuple[float, float] | None) -> np.ndarray:
    """Generator output -> the data's own form (uint8 images, float32 points)."""
    if output_range is None:
        return x.detach().float().cpu().numpy().astype(np.float32)
    return to_uint8(x.detach(), output_range).cpu().numpy()


def check_classes(classes: int | Sequence[int] | None, conditional: bool, num_classes: int | None) -> list[int] | None:
    """The class list to cycle through (None: uniform labels), or a one-line error."""
    if classes is not None and not conditional:
        raise GanforgeError("this run's generator is not class-conditional, so --class has no meaning; "
                            "train a conditional preset (e.g. cgan-mnist) or drop --class")
    if conditional and num_classes is None:
        raise GanforgeError("a class-conditional generator needs the number of classes")
    wanted = [classes] if isinstance(classes, int) else (list(classes) if classes is not None else None)
    if wanted is not None:
        bad = [c for c in wanted if not 0 <= c < num_classes]
        if bad:
            raise GanforgeError(f"class {bad[0]} does not exist: this run has classes 0..{num_classes - 1}")
    return wanted


@torch.no_grad()
def generate_chunks(G: nn.Module, n: int, *, z_dim: int, z_dist: str = "uniform", seed: int = 0,
                    batch_size: int = 1000, device: str | torch.device = "cpu", conditional: bool = False,
                    num_classes: int | None = None, classes: int | Sequence[int] | None = None,
                    truncation: float | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """``n`` samples in the data's form, ``batch_size`` at a time, with their labels (None if G is not
    class-conditional); reproducible from ``seed`` and the same whatever the consumer does with them.

    A class-conditional G draws labels uniformly unless ``classes`` names one class or a list to
    cycle through. ``truncation`` is the truncation trick (Brock et al. 2019): noise components
    beyond the threshold are redrawn, trading variety for fidelity.

    Prefixes: every chunk's noise and then its labels come from one stream seeded by ``seed``. With
    neither random labels nor ``truncation``, the first k of ``n`` samples are the samples of ``n=k``.
    They are not when labels are drawn at random (a class-conditional G without ``classes``: the
    labels of each chunk are drawn after its noise, so the stream's split depends on the chunks) or
    with ``truncation`` (the redraws use up a number of values that depends on the noise): there,
    ``n=k`` gives other samples than the first k of ``n``. See docs/figures.md.
    """
    if n <= 0:
        raise GanforgeError(f"the number of samples must be positive, got {n}; pass --n 1000 for example")
    wanted = check_classes(classes, conditional, num_classes)
    gen = sample_generator(seed, device)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        z = sample_noise(m, z_dim, z_dist, device, gen, truncation=truncation)
        y = None
        if conditional:
            if wanted is None:
                y = torch.randint(0, num_classes, (m,), device=device, generator=gen)
            else:
                y = torch.tensor(wanted, device=device)[torch.arange(start, start + m, device=device) % len(wanted)]
        yield to_output(G(z, y), G.output_range), (y.cpu().numpy() if y is not None else None)


def collect(chunks: Iterable[tuple[np.ndarray, np.ndarray | None]]) -> tuple[np.ndarray, np.ndarray | None]:
    """(samples, labels or None) from an iterable of chunks, in memory."""
    xs, ys = [], []
    for x, y in chunks:
        xs.append(x)
        if y is not None:
            ys.append(y)
    return np.concatenate(xs), (np.concatenate(ys) if ys else None)


def generate(G: nn.Module, n: int, **kwargs) -> tuple[np.ndarray, np.ndarray | None]:
    """All of :func:`generate_chunks` in memory: (samples, labels or None)."""
    return collect(generate_chunks(G, n, **kwargs))
