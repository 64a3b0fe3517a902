"""Encoders (image -> latent code) for the anomaly-detection recipes, and GANomaly's generator.

A GAN trained on normal data has no way back from an image to its code; anomaly detectors
add one. f-AnoGAN (Schlegl et al. 2019) trains :class:`ConvEncoder` E into the frozen G's
latent space; GANomaly (Akcay et al. 2018) builds its generator as encoder -> decoder ->
encoder (:class:`EncoderDecoderEncoder`) and scores an image by how far its code moves.

The encoder is the DCGAN discriminator's convolution stack (strided 4x4 convs, LeakyReLU 0.2,
normalisation after every conv but the first; :func:`ganforge.nets.base.image_plan` fixes
the number of blocks from the image size, so 28 px and 32 px both work) ending in a linear
map to the code instead of a realness logit: both papers use D's architecture this way.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.base import check_choice, check_width, image_plan
from ganforge.nets.layers import init_weights_
from ganforge.nets.registry import NetContext

NORMS = ("batch", "layer", "none")


class ConvEncoder(nn.Module):
    """x (N, C, H, W) in the generator's range -> code (N, z_dim)."""

    def __init__(self, ctx: NetContext, base_channels: int = 64, norm: str = "batch"):
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_width("base_channels", base_channels)
        channels, start, steps = image_plan(ctx, "the encoder")
        widths = [base_channels * 2**i for i in range(steps)]
        layers: list[nn.Module] = []
        prev = channels
        for i, w in enumerate(widths):
            normed = i > 0 and norm != "none"
            layers.append(nn.Conv2d(prev, w, 4, 2, 1, bias=not normed))
            if normed:
                layers.append(nn.BatchNorm2d(w) if norm == "batch" else nn.GroupNorm(1, w))
            layers.append(nn.LeakyReLU(0.2))
            prev = w
        self.blocks = nn.Sequential(*layers)
        self.to_code = nn.Linear(widths[-1] * start * start, ctx.z_dim)
        init_weights_(self, "normal")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.blocks(x).flatten(1))


class EncoderDecoderEncoder(nn.Module):
    """GANomaly's G: code z = E1(x), reconstruction x^ = Dec(z), code of the reconstruction z^ = E2(x^).

    ``decoder`` is any generator mapping codes to images (the DCGAN generator in the presets);
    its ``output_range`` is the range images are scaled to. The three parts are built by the
    caller, in the order that fixes their initial weights.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, encoder2: nn.Module):
        super().__init__()
        self.encoder, self.decoder, self.encoder2 = encoder, decoder, encoder2
        self.output_range = decoder.output_range

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x^, z, z^)."""
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return x_hat, z, self.encoder2(x_hat)
