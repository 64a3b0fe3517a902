"""SRGAN's VGG-style discriminator (Ledig et al. 2017), made fully convolutional.

Eight 3x3 convs with LeakyReLU(0.2): 64, 64/2, 128, 128/2, 256, 256/2, 512, 512/2 channels
(``/2``: stride 2), batch norm on all but the first -> a dense layer of 1024 -> LeakyReLU -> one
logit. The published D flattens a fixed 6x6 map of its 96x96 crops; here the last maps are
average-pooled first, so D judges any crop size (the CPU preset srgan-x4 trains on 48x48 HR crops,
``superres.hr_crop`` from srresnet-x4) and ``upscale`` never meets a size D was not built for.

``features(x)`` are the pooled maps (what ``head`` reads); :meth:`SRDiscriminator.feature_maps`
are the last conv maps before pooling, which the ``d-features`` content loss compares between
SR and HR images (D's own features: the loss is named for that, never "VGG").
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.registry import NetContext, register

NORMS = ("batch", "none")


class SRDiscriminator(nn.Module):
    """SRGAN's VGG-style D, average-pooling its last maps before the dense layers so that it judges any crop size
    (the paper flattens a fixed 6x6 map of 96x96 crops).

    A plain ``nn.Module`` keeping the discriminator protocol (``features``, ``head``, ``forward``) without
    labels, plus :meth:`feature_maps`: the last conv maps before pooling, which the superres recipe's
    ``d-features`` content loss compares between SR and HR images.
    """

    conditional = False

    def __init__(self, image_channels: int, *, base_channels: int, stages: int, dense: int, norm: str):
        super().__init__()
        layers: list[nn.Module] = []
        cin = image_channels
        for stage in range(stages):
            cout = min(base_channels * 2 ** stage, 512)
            for stride in (1, 2):
                layers.append(nn.Conv2d(cin, cout, 3, stride, 1))
                if norm == "batch" and layers[0] is not layers[-1]:
                    layers.append(nn.BatchNorm2d(cout))
                layers.append(nn.LeakyReLU(0.2))
                cin = cout
        self.convs = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dense = nn.Sequential(nn.Linear(cin, dense), nn.LeakyReLU(0.2), nn.Linear(dense, 1))

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convs(x)).flatten(1)

    def head(self, f: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.dense(f).squeeze(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x))


@register("discriminator", "sr-vgg", choices={"norm": NORMS})
def build_sr_discriminator(
    ctx: NetContext,
    *,
    base_channels: int = 64,  # width of the first stage (64 in the paper), doubled per stage
    stages: int = 4,  # conv stages, each ending in a stride-2 conv (4 in the paper)
    dense: int = 1024,  # width of the dense layer before the logit (1024 in the paper)
    norm: str = "batch",  # batch (the paper) or none
) -> nn.Module:
    """Defaults are the published SRGAN D (4 stages from 64 channels, a dense layer of 1024, batch norm)."""
    if ctx.kind != "image" or len(ctx.data_shape) != 3:
        raise ValueError(f"sr-vgg needs image data (C, H, W), got {ctx.kind} of shape {tuple(ctx.data_shape)}")
    if stages < 1 or dense < 1:
        raise ValueError(f"stages and dense must be >= 1, got stages={stages}, dense={dense}")
    return SRDiscriminator(ctx.data_shape[0], base_channels=base_channels, stages=stages, dense=dense, norm=norm)


__all__ = ["SRDiscriminator", "build_sr_discriminator"]
