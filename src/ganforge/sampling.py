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


MIN_Z_TRUNCATION = 0.05  # the least |z| threshold of the truncation trick: below it every z is nearly 0
SAMPLING_TAG = 0x5A4D  # mixed with the user's seed for samples (for_sampling), never added to a run seed
LABELS_TAG = 1  # the labels' own stream of a sampling seed (label_generator), apart from the noise's


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


def label_generator(seed: int, device: torch.device | str) -> torch.Generator:
    """The torch generator random class labels of samples of ``seed`` come from: a stream of their own, so a
    sample's label and its z never depend on how many labels or values were drawn before it in another chunk."""
    mixed = int(np.random.SeedSequence([seed, SAMPLING_TAG, LABELS_TAG]).generate_state(1, np.uint64)[0])
    return torch.Generator(device=device).manual_seed(mixed)


def sample_generator(seed: int, device: torch.device | str) -> torch.Generator:
    """The torch generator every sampling path draws z from for the user's ``seed`` (random labels have
    their own, :func:`label_generator`) (:func:`for_sampling`: hashed, so never the stream a run initialised
    from)."""
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
    """z for the generator (and for training's noise). With ``truncation``, :func:`truncate_z`."""
    z = _draw(n, z_dim, dist, device, generator)
    return z if truncation is None else truncate_z(z, truncation, dist)


def truncate_z(z: torch.Tensor, t: float, dist: str) -> torch.Tensor:
    """BigGAN's truncation trick: z from its distribution cut to [-t, t], refused below 0.05.

    Drawn as a map of each component, not by redrawing those beyond t (BigGAN's way): a redraw uses up a
    number of values that depends on the noise, so every later sample would depend on the chunking. A
    normal z goes through its CDF onto the cut range and back, Phi^-1(Phi(-t) + Phi(z) (1 - 2 Phi(-t)))
    (exactly the truncated normal, since Phi(z) is uniform; smooth in t, and z itself as t grows); a
    uniform z on [-sqrt 3, sqrt 3] is scaled onto [-t, t] when t is inside it."""
    check_z_truncation(t)
    if dist == "uniform":
        return z * min(1.0, t / math.sqrt(3.0))
    low = torch.special.ndtr(torch.tensor(-t, dtype=torch.float64))
    u = low + torch.special.ndtr(z.double()) * (1 - 2 * low)
    return torch.special.ndtri(u).clamp_(-t, t).to(z.dtype)


def check_z_truncation(t: float) -> None:
    """One line for a z-truncation threshold that is no number >= 0.05."""
    if not math.isfinite(t) or t < MIN_Z_TRUNCATION:  # nan passes a plain `<`: it is no threshold
        raise ConfigError(f"truncation must be a number >= {MIN_Z_TRUNCATION} (it is the |z| threshold), got {t}")


class LatentStream:
    """z and labels of samples 0, 1, 2, ... of one seed, handed out in chunks of any size: a sample's z is the
    next z_dim values of one stream (drawn in torch's whole blocks of 16 normals, the rest kept for the next
    chunk), and a random label the next value of a stream of its own (:func:`label_generator`), so neither
    depends on how the samples before it were chunked: ``--chunk``, a batch size or ``--n`` never changes a
    sample. Built by :func:`latent_stream`, which checks the options first."""

    def __init__(self, seed: int, z_dim: int, dist: str, device: torch.device | str, *,
                 truncation: float | None, conditional: bool, num_classes: int | None, wanted: list[int] | None):
        self.z_dim, self.dist, self.device, self.truncation = z_dim, dist, device, truncation
        self.conditional, self.num_classes, self.wanted = conditional, num_classes, wanted
        self.noise = sample_generator(seed, device)
        self.labels = label_generator(seed, device) if conditional and wanted is None else None
        self.kept = torch.empty(0, device=device)

    def z(self, m: int) -> torch.Tensor:
        """The z of the next ``m`` samples."""
        count = m * self.z_dim
        if count > len(self.kept):
            fresh = _draw(-(-(count - len(self.kept)) // 16) * 16, 1, self.dist, self.device, self.noise)
            self.kept = torch.cat([self.kept, fresh.flatten()])
        z, self.kept = self.kept[:count].reshape(m, self.z_dim), self.kept[count:]
        return z if self.truncation is None else truncate_z(z, self.truncation, self.dist)

    def y(self, start: int, m: int) -> torch.Tensor | None:
        """The labels of samples ``start .. start + m - 1``: None for an unconditional G, the asked classes in
        turn, or the next ``m`` random labels."""
        if not self.conditional:
            return None
        if self.wanted is None:
            return torch.randint(0, self.num_classes, (m,), device=self.device, generator=self.labels)
        return torch.tensor(self.wanted, device=self.device)[torch.arange(start, start + m, device=self.device)
                                                             % len(self.wanted)]


def latent_stream(seed: int, z_dim: int, z_dist: str, device: torch.device | str, *, conditional: bool = False,
                  num_classes: int | None = None, classes: int | Sequence[int] | None = None,
                  truncation: float | None = None) -> LatentStream:
    """The :class:`LatentStream` of ``seed``, after the checks every sampling path makes before any sample
    (the classes asked for, the truncation threshold)."""
    wanted = check_classes(classes, conditional, num_classes)
    if truncation is not None:
        check_z_truncation(truncation)
    return LatentStream(seed, z_dim, z_dist, device, truncation=truncation, conditional=conditional,
                        num_classes=num_classes, wanted=wanted)


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
    cycle through. ``truncation`` is the truncation trick (Brock et al. 2019): z cut to [-t, t]
    (:func:`truncate_z`), trading variety for fidelity.

    Every sample's z and label come from a :class:`LatentStream` of ``seed``: the first k of ``n`` samples
    are the samples of ``n=k``, and ``batch_size`` never changes one (random labels and ``truncation``
    included). See docs/figures.md.
    """
    if n <= 0:
        raise GanforgeError(f"the number of samples must be positive, got {n}; pass --n 1000 for example")
    stream = latent_stream(seed, z_dim, z_dist, device, conditional=conditional, num_classes=num_classes,
                           classes=classes, truncation=truncation)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        y = stream.y(start, m)
        yield to_output(G(stream.z(m), y), G.output_range), (y.cpu().numpy() if y is not None else None)


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
