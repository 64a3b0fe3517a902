"""Judges: the networks that feature-based metrics look through.

A *judge* maps uint8 images (N, C, H, W) to penultimate-layer features (for FID,
KID, precision/recall, density/coverage) and class logits (for the Inception-Score
style score and for counting modes). Two kinds exist:

* **Dataset classifiers** that ganforge trains itself, once, on a dataset's
  training split: ``lenet`` (MNIST, 28x28) and ``lenet8`` (scikit-learn digits,
  8x8). A trained judge is cached under ``<data dir>/judges/`` as safetensors
  plus a JSON record; the file name carries a content key, the sha256 of the
  exact training pixels and labels together with the judge's architecture and
  training recipe, so different data or a different recipe can never silently
  reuse old weights. The record holds the test accuracy and the training time,
  and every metric computed through the judge reports that accuracy.
* The **FID InceptionV3** (``inception``): the 2015 TensorFlow Inception with the
  pytorch-fid weights file ``pt_inception-2015-12-05-6726825d.pth``, the network
  behind every published FID. Its weights are never bundled: they come from
  ``--inception-weights PATH``, the data dir, torch's hub cache, or a download
  checked against a pinned sha256.

Numbers from different judges are different metrics: that is why the judge is
part of every metric's name (``fid10k_test_lenet`` is not an FID that can be
compared with a paper's FID; ``fid10k_test_inception`` is).

A judge trained on 1-channel images also judges images with more channels one
channel at a time (Stacked MNIST): the features are concatenated and the class
log-probabilities combined, so a 3-channel image gets one of 10^3 classes,
``100 * r + 10 * g + b``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data import load_dataset, resolve_data_dir
from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError, did_you_mean

log = logging.getLogger(__name__)

JUDGE_FORMAT = 1
JUDGE_DIR = "judges"
Log = Callable[[str], None]


class JudgeError(GanforgeError):
    """A judge (feature network) cannot be found, trained, loaded or applied to these images."""


# --- the classifier architecture -----------------------------------------------------------


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
INCEPTION = "inception"
# The judge a dataset is measured with when a metric name does not say.
DEFAULT_JUDGE: dict[str, str] = {"mnist": "lenet", "stacked-mnist": "lenet", "digits": "lenet8"}


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


# --- training and the cache -----------------------------------------------------------------


def dataset_sha256(ds: Dataset) -> str:
    """sha256 of a dataset's exact samples and labels (shapes and dtypes included)."""
    h = hashlib.sha256()
    for name, t in (("x", ds.x), ("y", ds.y)):
        if t is None:
            continue
        a = np.ascontiguousarray(t.numpy())
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def cache_key(spec: JudgeSpec, train_sha256: str) -> str:
    blob = json.dumps({"judge": spec.fingerprint(), "train_data_sha256": train_sha256}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            correct += int((net(x[start:start + batch_size]).argmax(1) == y[start:start + batch_size]).sum())
    return correct / max(len(x), 1)


def train_classifier(spec: JudgeSpec, train: Dataset, test: Dataset,
                     log_fn: Log | None = None) -> tuple[ConvJudge, dict]:
    """Train ``spec`` on ``train`` with its recipe (deterministic, global RNG untouched)."""
    r = spec.recipe
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    # One thread by default: small convolutions gain little from more, a fixed count keeps the
    # trained weights the same on every machine, and on a busy CPU OpenMP threads can slow each
    # other down by an order of magnitude (measured here: 2 threads, 13x slower on a loaded 2-core box).
    torch.set_num_threads(r.get("threads", 1))
    try:
        net, loss = _fit(spec, train, log_fn, t0)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - t0
    acc = _accuracy(net, test.x, test.y)
    net.eval()
    return net, {"test_accuracy": acc, "train_seconds": round(seconds, 2), "train_size": len(train),
                 "test_size": len(test), "final_loss": round(loss, 5)}


def _fit(spec: JudgeSpec, train: Dataset, log_fn: Log | None, t0: float) -> tuple[ConvJudge, float]:
    r = spec.recipe
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(r["seed"])
        net = spec.build()
        x, y = train.x, train.y
        steps_per_epoch = max(1, len(x) // r["batch_size"])
        total = steps_per_epoch * r["epochs"]
        opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=total)
        order = torch.Generator().manual_seed(r["seed"])
        for epoch in range(r["epochs"]):
            net.train()
            perm = torch.randperm(len(x), generator=order)
            for i in range(steps_per_epoch):
                idx = perm[i * r["batch_size"]:(i + 1) * r["batch_size"]]
                loss = F.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            if log_fn is not None and ((epoch + 1) % max(1, r["epochs"] // 3) == 0 or epoch + 1 == r["epochs"]):
                log_fn(f"judge {spec.name}: epoch {epoch + 1}/{r['epochs']} done "
                       f"({time.perf_counter() - t0:.0f} s, last loss {loss.item():.3f})")
    return net, float(loss.item())


def judge_paths(name: str, key: str, data_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    root = resolve_data_dir(data_dir) / JUDGE_DIR
    return root / f"{name}-{key}.safetensors", root / f"{name}-{key}.json"


def _read_cached(weights: Path, record_path: Path, spec: JudgeSpec) -> tuple[ConvJudge, dict] | None:
    """The cached judge, or None (with a log line) when it is missing or damaged."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not (weights.is_file() and record_path.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text())
        if _file_sha256(weights) != record["weights_sha256"]:
            raise ValueError("weights do not match the sha256 in the record")
        net = spec.build()
        net.load_state_dict(load_file(str(weights)))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        log.warning("cached judge %s is unusable (%s); training it again", weights, exc)
        return None
    return net.eval(), record


def _write_cached(net: nn.Module, record: dict, weights: Path, record_path: Path) -> dict:
    from safetensors.torch import save_file

    weights.parent.mkdir(parents=True, exist_ok=True)
    tmp_w = weights.with_name(f".{weights.name}.{os.getpid()}.part")
    tmp_r = record_path.with_name(f".{record_path.name}.{os.getpid()}.part")
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}, str(tmp_w))
        record = {**record, "weights_sha256": _file_sha256(tmp_w)}
        tmp_r.write_text(json.dumps(record, indent=1))
        os.replace(tmp_w, weights)  # weights first: a record never points at missing weights
        os.replace(tmp_r, record_path)
    except OSError as exc:
        tmp_w.unlink(missing_ok=True)
        tmp_r.unlink(missing_ok=True)
        raise JudgeError(f"cannot write the judge cache in {weights.parent} ({exc.strerror or exc}); "
                         f"point GANFORGE_DATA or --data-dir at a writable directory") from None
    return record


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
    cached = _read_cached(weights, record_path, spec)
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
        record = _write_cached(net, record, weights, record_path)
        if log_fn is not None:
            log_fn(f"judge {name}: test accuracy {record['test_accuracy']:.4f} after "
                   f"{record['train_seconds']:.0f} s")
    device = torch.device(device)
    return Judge(name=name, net=net.to(device).eval(), input_shape=spec.input_shape,
                 num_classes=spec.arch["classes"], record=record, device=device)


# --- the FID InceptionV3 ------------------------------------------------------------------------

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + INCEPTION_FILE
# The "6726825d" in the file name is the start of its sha256 (torch.hub's convention); the full
# digest is as recorded by projects that pin this file.
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
DOWNLOAD_TIMEOUT_S = 60


def fetch_url(url: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> bytes:
    """Module-level so tests can replace it."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https URL
        return resp.read()


def _offline() -> bool:
    return os.environ.get("GANFORGE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


_VERIFIED: set[tuple[str, float]] = set()  # (path, mtime) already hashed in this process


def _verified(path: Path) -> bool:
    stamp = (str(path.resolve()), path.stat().st_mtime)
    if stamp in _VERIFIED:
        return True
    ok = _file_sha256(path) == INCEPTION_SHA256
    if ok:
        _VERIFIED.add(stamp)
    return ok


def inception_weights_path(weights: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                           *, log_fn: Log | None = None) -> Path:
    """A verified copy of the FID Inception weights: the given file, else a cached one, else a download."""
    fix = (f"download {INCEPTION_URL} (sha256 {INCEPTION_SHA256[:12]}...) and pass --inception-weights PATH "
           f"(Python: inception_weights=PATH), or place it in {resolve_data_dir(data_dir) / JUDGE_DIR}/")
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise JudgeError(f"the Inception weights file {path} does not exist; {fix}")
        if not _verified(path):
            raise JudgeError(f"{path} is not the FID Inception weights file (its sha256 differs from "
                             f"{INCEPTION_SHA256[:12]}...); {fix}")
        return path
    cached = resolve_data_dir(data_dir) / JUDGE_DIR / INCEPTION_FILE
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    for path in (cached, hub):
        if path.is_file() and _verified(path):
            return path
    if _offline():
        raise JudgeError(f"the FID Inception weights are not in {cached.parent} and GANFORGE_OFFLINE is set; {fix}")
    if log_fn is not None:
        log_fn(f"downloading the FID Inception weights (95 MB) from {INCEPTION_URL}")
    try:
        data = fetch_url(INCEPTION_URL)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise JudgeError(f"cannot download the FID Inception weights ({getattr(exc, 'reason', exc)}); {fix}") from None
    if hashlib.sha256(data).hexdigest() != INCEPTION_SHA256:
        raise JudgeError(f"the downloaded FID Inception weights do not match the pinned sha256; {fix}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, cached)
    return cached


def load_inception(weights: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None, *,
                   log_fn: Log | None = None, device: str | torch.device = "cpu") -> Judge:
    """The FID InceptionV3 judge (pool3 features: 2048, logits: 1008), with verified weights."""
    from ganforge.metrics.inception import FIDInceptionV3

    path = inception_weights_path(weights, data_dir, log_fn=log_fn)
    net = FIDInceptionV3()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_weights(state)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise JudgeError(f"{path} cannot be loaded as the FID Inception ({str(exc).splitlines()[0]}); "
                         f"delete it and fetch it again") from None
    device = torch.device(device)
    return Judge(name=INCEPTION, net=net.to(device).eval(), input_shape=None, num_classes=1008,
                 record={"weights": str(path), "weights_sha256": INCEPTION_SHA256}, device=device,
                 batch_size=50)  # 299x299 activations are large


__all__ = ["ConvJudge", "DEFAULT_JUDGE", "INCEPTION", "JUDGES", "Judge", "JudgeError", "JudgeSpec",
           "cache_key", "combine_channel_logits", "dataset_sha256", "default_judge", "inception_weights_path",
           "judge_names", "load_inception", "load_judge", "train_classifier"]
