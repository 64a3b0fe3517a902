"""Judges: the named networks that feature-based metrics look through, and loading one.

A *judge* maps uint8 images (N, C, H, W) to penultimate-layer features (for FID,
KID, precision/recall, density/coverage) and class logits (for the Inception-Score
style score and for counting modes). Two kinds exist:

* **Dataset classifiers** that ganforge trains itself, once, on a dataset's
  training split: ``lenet`` (MNIST, 28x28) and ``lenet8`` (scikit-learn digits,
  8x8). The network is in ``judge_nets``, its training in ``judge_training``,
  and the cache keyed by the training data's content in ``judge_cache``. The
  record holds the test accuracy and the training time, and every metric
  computed through the judge reports that accuracy.
* The **FID InceptionV3** (``inception``): the 2015 TensorFlow Inception with the
  pytorch-fid weights, the network behind every published FID; its weights are
  found and verified by ``fid_weights``.

Numbers from different judges are different metrics: that is why the judge is
part of every metric's name (``fid10k_test_lenet`` is not an FID that can be
compared with a paper's FID; ``fid10k_test_inception`` is).

A judge trained on 1-channel images also judges images with more channels one
channel at a time (Stacked MNIST): the features are concatenated and the class
log-probabilities combined, so a 3-channel image gets one of 10^3 classes,
``100 * r + 10 * g + b``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.data import load_dataset
from ganforge.errors import JudgeError, did_you_mean
from ganforge.metrics import fid_weights, inception
from ganforge.metrics.judge_cache import cache_key, dataset_sha256, judge_paths, read_cached, write_cached
from ganforge.metrics.judge_nets import JUDGE_FORMAT, JudgeSpec
from ganforge.metrics.judge_training import train_classifier

Log = Callable[[str], None]

# One entry per judge, each spelled out in full (a deliberate mirror: a judge's recipe is its protocol).
JUDGES: dict[str, JudgeSpec] = {
    "lenet": JudgeSpec(
        name="lenet", dataset="mnist", input_shape=(1, 28, 28),
        arch={"kernel": 5, "channels": [16, 32], "hidden": 128, "classes": 10, "dropout": 0.25},
        recipe={"epochs": 3, "batch_size": 128, "lr": 5e-3, "weight_decay": 1e-4, "schedule": "onecycle",
                "seed": 0, "threads": 1},
        description="LeNet-style CNN (conv5x5 16/32 + BN, fc 128) trained on MNIST train (50k), 3 epochs",
    ),
    "lenet8": JudgeSpec(
        name="lenet8", dataset="digits", input_shape=(1, 8, 8),
        arch={"kernel": 3, "channels": [32, 64], "hidden": 64, "classes": 10, "dropout": 0.25},
        recipe={"epochs": 30, "batch_size": 64, "lr": 5e-3, "weight_decay": 1e-4, "schedule": "onecycle",
                "seed": 0, "threads": 1},
        description="LeNet-style CNN (conv3x3 32/64 + BN, fc 64) trained on digits train (1500), 30 epochs",
    ),
}
# The CIFAR-10 judges: the same small CNN trained on the official release (``cnn-cifar10``) or on the JPEG
# re-encoding (``cnn-cifar10jpeg``, the one that can be trained offline). They are two judges because their
# training pixels differ: a name must say which data its features were learned from. Three conv stages of
# 16/32/64 (one conv each, as the LeNet judges), a 128-unit layer and 6 epochs: about 2 minutes of one idle
# CPU thread (3 million multiply-adds an image), because the judge is trained on first use, on whatever
# machine needs it. Horizontal flips are the standard CIFAR augmentation.
_CIFAR_ARCH = {"kernel": 3, "channels": [16, 32, 64], "hidden": 128, "classes": 10, "dropout": 0.25}
_CIFAR_RECIPE = {"epochs": 6, "batch_size": 128, "lr": 5e-3, "weight_decay": 5e-4, "schedule": "onecycle",
                 "hflip": True, "seed": 0, "threads": 1}
for _name, _data in (("cnn-cifar10", "cifar10"), ("cnn-cifar10jpeg", "cifar10-jpeg")):
    JUDGES[_name] = JudgeSpec(
        name=_name, dataset=_data, input_shape=(3, 32, 32), arch=_CIFAR_ARCH, recipe=_CIFAR_RECIPE,
        description=f"small CNN (conv3x3 16/32/64 + BN, fc 128) trained on {_data} train (50k), 6 epochs, "
                    f"horizontal flips")
INCEPTION = "inception"
# The judge a dataset is measured with when a metric name does not say.
DEFAULT_JUDGE: dict[str, str] = {"mnist": "lenet", "stacked-mnist": "lenet", "digits": "lenet8"}
DEFAULT_JUDGE.update({"cifar10": "cnn-cifar10", "cifar10-jpeg": "cnn-cifar10jpeg"})


def judge_names() -> list[str]:
    return [*JUDGES, INCEPTION]


def default_judge(dataset: str) -> str | None:
    return DEFAULT_JUDGE.get(dataset)


# --- a loaded judge ----------------------------------------------------------------------------


@dataclass
class Judge:
    """A ready feature network. ``record`` says where it came from (accuracy, key, weights)."""

    name: str
    net: nn.Module
    input_shape: tuple[int, int, int] | None  # None: any size (Inception resizes)
    num_classes: int
    record: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 1000  # images per forward pass

    @property
    def test_accuracy(self) -> float | None:
        return self.record.get("test_accuracy")

    def summary(self) -> dict[str, Any]:
        """What a metric result records about the judge."""
        keys = ("test_accuracy", "key", "dataset", "test_split", "weights_sha256", "weights")
        return {"name": self.name, **{k: self.record[k] for k in keys if k in self.record}}

    def _per_channel(self, channels: int) -> int:
        """How many judge passes one image needs (1, or C for a 1-channel judge on C channels)."""
        if self.input_shape is None:
            return 1
        want = self.input_shape[0]
        if channels == want:
            return 1
        if want == 1:
            return channels
        raise JudgeError(f"judge '{self.name}' takes {want}-channel images, these have {channels}; "
                         f"use a judge for this data (or the inception judge)")

    @torch.no_grad()
    def __call__(self, images: np.ndarray | torch.Tensor,
                 batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, C, H, W) -> (features (N, F*k), logits (N, K**k)) on the CPU, float32.

        k is 1, or the channel count when a 1-channel judge reads each channel separately.
        """
        x = torch.as_tensor(images)
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise JudgeError(f"judge '{self.name}' takes uint8 images (N, C, H, W), got {x.dtype} "
                             f"{tuple(x.shape)}; pass images in the data's own form")
        n, c, h, w = x.shape
        if self.input_shape is not None and (h, w) != tuple(self.input_shape[1:]):
            raise JudgeError(f"judge '{self.name}' takes {self.input_shape[1]}x{self.input_shape[2]} images, "
                             f"these are {h}x{w}; measure at the dataset's own resolution or use the "
                             f"inception judge")
        k = self._per_channel(c)
        batch_size = batch_size or self.batch_size
        self.net.eval()
        feats, logits = [], []
        for start in range(0, n, batch_size):
            chunk = x[start:start + batch_size].to(self.device)
            if k > 1:
                chunk = chunk.reshape(-1, 1, h, w)
            f = self.net.embed(chunk)
            lg = self.net.classify(f)
            if k > 1:
                f = f.reshape(len(f) // k, -1)
                lg = combine_channel_logits(lg.reshape(len(lg) // k, k, -1))
            feats.append(f.float().cpu())
            logits.append(lg.float().cpu())
        return torch.cat(feats), torch.cat(logits)


def combine_channel_logits(logits: torch.Tensor) -> torch.Tensor:
    """(N, k, K) per-channel logits -> (N, K**k) joint log-probabilities, channels independent.

    The joint class of channels (c0, c1, ..., c_{k-1}) is index c0*K^(k-1) + ... + c_{k-1},
    i.e. ``100 * r + 10 * g + b`` for three channels of 10 classes.
    """
    logp = logits.log_softmax(-1)
    n, k, classes = logp.shape
    joint = logp[:, 0]
    for i in range(1, k):
        joint = (joint[:, :, None] + logp[:, i, None, :]).reshape(n, -1)
    return joint


# --- loading -----------------------------------------------------------------------------------


def load_judge(name: str, data_dir: str | os.PathLike | None = None, *, log_fn: Log | None = None,
               inception_weights: str | os.PathLike | None = None,
               device: str | torch.device = "cpu") -> Judge:
    """The judge ``name``, trained and cached on first use (see the module docstring)."""
    if name == INCEPTION:
        return load_inception(inception_weights, data_dir, log_fn=log_fn, device=device)
    spec = JUDGES.get(name)
    if spec is None:
        raise JudgeError(f"unknown judge '{name}'{did_you_mean(name, judge_names())}; "
                         f"valid judges: {', '.join(judge_names())}")
    train = load_dataset(spec.dataset, split=spec.train_split, data_dir=data_dir)
    train_sha = dataset_sha256(train)
    key = cache_key(spec, train_sha)
    weights, record_path = judge_paths(name, key, data_dir)
    cached = read_cached(weights, record_path, spec)
    if cached is not None:
        net, record = cached
    else:
        test = load_dataset(spec.dataset, split=spec.test_split, data_dir=data_dir)
        if log_fn is not None:
            log_fn(f"training judge {name} on {spec.dataset}/{spec.train_split} ({len(train)} images) once; "
                   f"it is cached in {weights.parent}")
        net, stats = train_classifier(spec, train, test, log_fn)
        record = {"format": JUDGE_FORMAT, "judge": name, "key": key, "dataset": spec.dataset,
                  "train_split": spec.train_split, "test_split": spec.test_split,
                  "train_data_sha256": train_sha, "fingerprint": spec.fingerprint(), **stats,
                  "torch": torch.__version__,
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        record = write_cached(net, record, weights, record_path)
        if log_fn is not None:
            log_fn(f"judge {name}: test accuracy {record['test_accuracy']:.4f} after "
                   f"{record['train_seconds']:.0f} s")
    device = torch.device(device)
    return Judge(name=name, net=net.to(device).eval(), input_shape=spec.input_shape,
                 num_classes=spec.arch["classes"], record=record, device=device)


def load_inception(weights: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None, *,
                   log_fn: Log | None = None, device: str | torch.device = "cpu") -> Judge:
    """The FID InceptionV3 judge (pool3 features: 2048, logits: 1008), with verified weights."""
    path = fid_weights.inception_weights_path(weights, data_dir, log_fn=log_fn)
    net = inception.FIDInceptionV3()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_weights(state)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise JudgeError(f"{path} cannot be loaded as the FID Inception ({str(exc).splitlines()[0]}); "
                         f"delete it and fetch it again") from None
    device = torch.device(device)
    return Judge(name=INCEPTION, net=net.to(device).eval(), input_shape=None, num_classes=1008,
                 record={"weights": str(path), "weights_sha256": fid_weights.INCEPTION_SHA256},
                 device=device, batch_size=50)  # 299x299 activations are large


__all__ = ["DEFAULT_JUDGE", "INCEPTION", "JUDGES", "Judge", "JudgeError", "JudgeSpec", "Log", "combine_channel_logits",
           "default_judge", "judge_names", "load_inception", "load_judge"]
