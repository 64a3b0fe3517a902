"""Super-resolution objectives: pixel loss and feature ("perceptual") losses.

G's loss is ``pixel_weight * pixel + feature_weight * feature + adversarial_weight * adversarial``
(:class:`ganforge.config.schema.SuperresConfig`): SRResNet is the pixel term alone; the published
SRGAN is VGG54 features + 1e-3 x adversarial. The adversarial losses are not here: they are entries
of the one registry every recipe uses (:mod:`ganforge.objectives.losses`): ``superres.adversarial``
``plain`` is the 2014 GAN's (``minimax`` D, ``non-saturating`` G) on HR against SR, ``relativistic``
ESRGAN's relativistic average pair (recipes/superres.py maps the names).

Feature losses are named for the network that gives the features:

- ``vgg19``: conv5_4 after its ReLU (the paper's phi_5,4) of a VGG19 whose weights the user
  provides; built here layer by layer in torchvision's key layout (torchvision cannot be a
  dependency), the file checked by sha256 before use;
- ``d-features``: the srgan D's own last conv maps. No download, but it is not VGG, and
  logs and docs call it ``feat_dconv``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ganforge.download import sha256_file
from ganforge.errors import ConfigError

Tensor = torch.Tensor
# VGG19 ("E") up to conv5_4 and its ReLU; "M" is a 2x2 max pool. Indices match torchvision's
# ``features`` Sequential, so its state-dict keys (features.N.weight) load directly.
VGG19_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_SHA256_PREFIX = "dcbb9e9d"  # torchvision names its files by the sha256 prefix and checks only that
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def pixel_loss(kind: str, sr: Tensor, hr: Tensor) -> Tensor:
    return F.mse_loss(sr, hr) if kind == "mse" else F.l1_loss(sr, hr)


class VGG19Features(nn.Module):
    """VGG19's convolutional trunk up to conv5_4 + ReLU, frozen; input RGB in [0, 1]."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in VGG19_LAYERS:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, 1, 1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)


def check_vgg19_file(path: str, sha256: str | None) -> str:
    """The file's sha256, after checking it against ``sha256`` (or the official file's prefix when its
    name says it is torchvision's); a one-line ConfigError for a missing file or a wrong hash."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"superres.vgg19_weights {p} does not exist; download {VGG19_URL} and give its path")
    digest = sha256_file(p)
    expected = sha256 or (VGG19_SHA256_PREFIX if VGG19_SHA256_PREFIX in p.name else None)
    if expected is not None and not digest.startswith(expected.lower()):
        raise ConfigError(f"superres.vgg19_weights {p} has sha256 {digest[:12]}..., not the expected "
                          f"{expected[:12]}...; the file is damaged or not those weights: download {VGG19_URL} again")
    return digest


def load_vgg19(path: str, sha256: str | None) -> tuple[VGG19Features, str]:
    """VGG19 features with the weights file's conv weights, and the file's sha256."""
    digest = check_vgg19_file(path, sha256)
    try:
        if path.endswith(".safetensors"):
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        raise ConfigError(f"superres.vgg19_weights {path} cannot be read ({str(e).splitlines()[0]}); give "
                          f"torchvision's vgg19 .pth or a .safetensors file with its keys") from None
    net = VGG19Features()
    own = {k: v for k, v in state.items() if k.startswith("features.")}
    try:
        net.load_state_dict({**own, "mean": net.mean, "std": net.std})
    except RuntimeError as e:
        raise ConfigError(f"superres.vgg19_weights {path} does not hold VGG19 conv weights "
                          f"({str(e).splitlines()[0][:120]}); give torchvision's vgg19 weights") from None
    return net, digest


def feature_loss(features: nn.Module, sr: Tensor, hr: Tensor) -> Tensor:
    """Mean squared difference of ``features`` (VGG19 or D's conv maps) between SR and HR; HR's
    features carry no gradient."""
    with torch.no_grad():
        target = features(hr)
    return F.mse_loss(features(sr), target)


__all__ = ["VGG19Features", "VGG19_URL", "check_vgg19_file", "feature_loss", "load_vgg19", "pixel_loss"]
