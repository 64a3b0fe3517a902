"""The classifier that dataset judges are made of, and the spec that builds and trains one.

A judge ganforge trains itself (``lenet``, ``lenet8``) is a small LeNet-style CNN
whose penultimate layer gives the features metrics compare and whose head gives
the class logits. :class:`JudgeSpec` says everything that decides its weights
(data, architecture, training recipe); its :meth:`~JudgeSpec.fingerprint` goes
into the cache key (``judge_cache.cache_key``), so editing any of it retrains
instead of reusing old weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

# Bumped when the record or weights layout changes; part of every fingerprint and record.
JUDGE_FORMAT = 1


class ConvJudge(nn.Module):
    """A LeNet-style classifier: ``len(channels)`` stages of conv-BN-ReLU-maxpool, then an MLP.

    ``embed`` returns the penultimate layer (``hidden`` features after ReLU), the
    representation metrics compare; ``forward`` returns class logits.
    """

    def __init__(self, *, in_channels: int = 1, in_size: int = 28, kernel: int = 5,
                 channels: tuple[int, ...] | list[int] = (16, 32), hidden: int = 128, classes: int = 10,
                 dropout: float = 0.25):
        super().__init__()
        layers: list[nn.Module] = []
        c, size = in_channels, in_size
        for width in channels:
            layers += [nn.Conv2d(c, width, kernel, padding=kernel // 2), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c, size = width, size // 2
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c * size * size, hidden), nn.ReLU())
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, classes)
        self.num_features = hidden

    @staticmethod
    def scale(x: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] -> float [-1, 1]."""
        return x.float().div(127.5).sub(1.0)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(self.scale(x)))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(x))


@dataclass(frozen=True)
class JudgeSpec:
    """A trainable judge: what it is trained on, its architecture and its training recipe.

    Everything here goes into the cache key, so editing any of it retrains.
    """

    name: str
    dataset: str
    input_shape: tuple[int, int, int]
    arch: dict[str, Any]
    recipe: dict[str, Any]
    train_split: str = "train"
    test_split: str = "test"
    description: str = ""

    def build(self) -> ConvJudge:
        return ConvJudge(in_channels=self.input_shape[0], in_size=self.input_shape[1], **self.arch)

    def fingerprint(self) -> dict[str, Any]:
        return {"format": JUDGE_FORMAT, "name": self.name, "class": "ConvJudge", "dataset": self.dataset,
                "train_split": self.train_split, "input_shape": list(self.input_shape),
                "arch": self.arch, "recipe": self.recipe}


__all__ = ["JUDGE_FORMAT", "ConvJudge", "JudgeSpec"]
