"""Noise to image with a style-based generator (StyleGAN2): what sampling means changes, nothing else.

Training is :mod:`.noise_to_image`'s (the path-length term joins through
:mod:`ganforge.objectives.path_length`). The trained model samples with StyleGAN's own
options: ``truncation`` is psi, pulling every w towards the generator's tracked mean w
(``w_avg + psi * (w - w_avg)``: 1 = off, 0 = the mean image for every z), rather than the
BigGAN-style redraw of large z components; with ``truncation_centres`` K, psi pulls each w towards
the centre of its own image cluster instead (multi-modal truncation,
:mod:`.truncation_centres`), for data of several classes whose mean w is a blend of them;
``mix_seed`` takes the styles of layers ``mix_layer`` and above (the fine styles) from a second
noise draw of that seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import sampling
from ganforge.config import RunConfig
from ganforge.data import Dataset
from ganforge.errors import ConfigError, GanforgeError
from ganforge import capabilities as cap
from ganforge.recipes.noise_to_image import NoiseToImage, NoiseToImageModel
from ganforge.recipes.truncation_centres import TruncationCentres, check_centres, fit_centres


@dataclass
class StyleModel(NoiseToImageModel):
    """A trained style-based G: ``sample_chunks`` with truncation psi and style mixing."""

    min_truncation = 0.0  # psi may be 0: every w at the mean (or its nearest centre)

    @property
    def num_ws(self) -> int:
        return self.generator.num_ws

    def styles(self, n: int, seed: int, device: str | torch.device, psi: float | None,
               centres: int | None = None) -> Iterator[torch.Tensor]:
        """The per-layer latents of ``n`` samples from ``seed``, 1000 at a time (the same z as sample_chunks);
        with ``centres`` K, psi pulls each towards its nearest of K image clusters, not the mean w."""
        m, G = self.cfg.model, self.generator
        stream = sampling.latent_stream(seed, m.z_dim, m.z_dist, device)
        for start in range(0, n, 1000):
            z = stream.z(min(1000, n - start))
            if centres is None or psi is None or psi == 1:
                yield G.styles(z, psi)
                continue
            ws = G.styles(z)
            yield G.truncate(ws, psi, self.truncation_centres(centres, device).nearest(G, ws))

    def truncation_centres(self, k: int, device: str | torch.device) -> TruncationCentres:
        """The K image clusters multi-modal truncation pulls towards, fitted once per K and kept."""
        cache = self.__dict__.setdefault("_truncation_centres", {})
        if k not in cache:
            m = self.cfg.model
            cache[k] = fit_centres(self.generator, k, m.z_dim, m.z_dist, device)
        return cache[k]

    @property
    def capabilities(self) -> frozenset[str]:
        return super().capabilities | {cap.STYLE_MIX, cap.TRUNCATION_CENTRES}

    @torch.no_grad()
    def latents(self, n: int, seed: int, *, classes: int | Sequence[int] | None = None,
                truncation: float | None = None, truncation_centres: int | None = None,
                device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """The per-layer styles w of ``n`` samples (psi = ``truncation``), as ``sample_chunks`` draws them."""
        sampling.check_classes(classes, False, None)
        _check_truncation(truncation, truncation_centres)
        return {"ws": next(self.styles(n, seed, device, truncation, truncation_centres))}

    @torch.no_grad()
    def render(self, latents: dict[str, torch.Tensor]) -> np.ndarray:
        G = self.generator
        return sampling.to_output(G.synthesis(latents["ws"]), G.output_range)

    @torch.no_grad()
    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                      classes: int | Sequence[int] | None = None, truncation: float | None = None,
                      truncation_centres: int | None = None, mix_seed: int | None = None,
                      mix_layer: int | None = None, batch_size: int = 1000) -> Iterator[tuple[np.ndarray, None]]:
        if n <= 0:
            raise GanforgeError(f"the number of samples must be positive, got {n}; pass --n 1000 for example")
        sampling.check_classes(classes, False, None)
        _check_truncation(truncation, truncation_centres)
        if mix_layer is not None and mix_seed is None:
            raise GanforgeError("--mix-layer needs --mix-seed: the seed whose noise gives the fine styles")
        layer = self.num_ws // 2 if mix_layer is None else mix_layer
        if not 1 <= layer < self.num_ws:
            raise GanforgeError(f"mix layer must be in 1..{self.num_ws - 1} (this generator has {self.num_ws} "
                                f"style inputs; lower = more of the image from --mix-seed), got {layer}")
        G = self.generator
        coarse = self.styles(n, seed, device, truncation, truncation_centres)
        fine = self.styles(n, mix_seed, device, truncation, truncation_centres) if mix_seed is not None else None
        for ws in coarse:
            if fine is not None:
                ws = torch.cat([ws[:, :layer], next(fine)[:, layer:]], 1)
            for start in range(0, len(ws), batch_size):
                yield sampling.to_output(G.synthesis(ws[start:start + batch_size]), G.output_range), None


def _check_truncation(psi: float | None, centres: int | None) -> None:
    """One line for a psi below 0, or truncation centres without a psi for them to pull by."""
    if psi is not None and (not math.isfinite(psi) or psi < 0):  # nan and inf drew all-black images
        raise GanforgeError(f"truncation psi must be a number >= 0 (1 = off, 0 = the mean image), got {psi}")
    if centres is not None:
        check_centres(centres)
        if psi is None:
            raise GanforgeError("--truncation-centres needs --truncation PSI: the centres are what psi pulls "
                                "towards (try --truncation 0.5)")


class StyleBased(NoiseToImage):
    name = "style-based"
    description = "G(z) against D(x) with a style-based G (StyleGAN2): sampling takes truncation psi and style mixing"

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        nets, record = super().networks(cfg, data)
        if not hasattr(nets["G"], "styles"):
            raise ConfigError(f"recipe style-based needs a style-based generator (model.g.arch stylegan2), not "
                              f"'{cfg.model.g.arch}'; use recipe noise-to-image")
        return nets, record

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> StyleModel:
        return StyleModel(cfg, nets, record.get("num_classes"))
