"""Anomaly-detection protocols: which images are normal, which are anomalies, and who may see them.

Two MNIST protocols are mixed up in the literature, so they are two dataset names here:

- ``mnist-one-normal`` (Deep SVDD, OCGAN and most later work): digit ``data.digit`` is the
  normal class. Training uses the official training images of that digit only; the test
  split is the official 10,000 test images, every other digit an anomaly. Reported as AUROC.
- ``mnist-one-anomalous`` (GANomaly, EGBAD): digit ``data.digit`` is the anomaly. The other
  nine digits of all 70,000 images are pooled and split 80/20; the 20% go to the test split
  together with every image of the anomalous digit. Reported as AUROC and PR-AUC.

Each also has a ``valid`` split of *normal* images only, held out of the training images,
because model selection and thresholds must never look at the test split (the GANomaly
reference code keeps the checkpoint with the best test AUC; this is what that avoids).
The splits come from one fixed permutation (:data:`PROTOCOL_SEED`), the same for every run
seed, so seeds vary the model and never the data.

``anomaly-folder:PATH`` is the same for a user's own images, laid out as MVTec AD is:
``PATH/train/`` holds normal images only, ``PATH/test/good/`` (or ``test/normal/``) normal
test images and every other ``PATH/test/<kind>/`` folder anomalies of that kind.

Every split is a :class:`Dataset` whose ``meta`` says which classes are anomalous
(:func:`is_anomaly` reads it); the test splits keep the per-image class, so results can be
broken down per class.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.registry import load_dataset, register
from ganforge.errors import DataError

SPLITS = ("train", "valid", "test")
# One permutation for every run: the protocol's splits are part of its definition, not of a run.
PROTOCOL_SEED = 20180
# Share of the normal training images held out as the validation split (normal data only): 10%.
VALID_FRACTION = 0.1
# mnist-one-anomalous: share of the pooled normal images that go to the test split (GANomaly's 80/20).
TEST_FRACTION = 0.2
PROTOCOLS = ("mnist-one-normal", "mnist-one-anomalous")
NORMAL_FOLDERS = ("good", "normal")


def is_protocol(name: str) -> bool:
    """Whether the dataset ``name`` is an anomaly protocol: its test split mixes normal images and anomalies,
    so it is a reference for anomaly scores (``ganforge anomaly eval``), not for sample quality."""
    return name in PROTOCOLS or name.partition(":")[0] == "anomaly-folder"


def _split_off(indices: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(the rest, the first ceil(fraction * n)) of ``indices`` after the protocol's fixed shuffle."""
    perm = np.random.default_rng(PROTOCOL_SEED).permutation(len(indices))
    cut = math.ceil(fraction * len(indices))
    return np.sort(indices[perm[cut:]]), np.sort(indices[perm[:cut]])


def split_indices(protocol: str, digit: int, labels: np.ndarray, official_test: np.ndarray) -> dict[str, np.ndarray]:
    """Indices into the pooled images (60k official training then 10k test) for each split.

    ``labels`` are the pooled digit labels; ``official_test`` marks the pooled images that come
    from the official test set. Pure (no data read), so the tests check it on any labels.
    """
    normal = labels != digit if protocol == "mnist-one-anomalous" else labels == digit
    everything = np.arange(len(labels))
    if protocol == "mnist-one-normal":
        train, valid = _split_off(everything[normal & ~official_test], VALID_FRACTION)
        return {"train": train, "valid": valid, "test": everything[official_test]}
    if protocol == "mnist-one-anomalous":
        rest, test_normal = _split_off(everything[normal], TEST_FRACTION)
        train, valid = _split_off(rest, VALID_FRACTION)
        return {"train": train, "valid": valid, "test": np.sort(np.concatenate([test_normal, everything[~normal]]))}
    raise DataError(f"unknown anomaly protocol '{protocol}'; valid protocols: {', '.join(PROTOCOLS)}")


def anomalous_classes(protocol: str, digit: int) -> list[int]:
    return [digit] if protocol == "mnist-one-anomalous" else [d for d in range(10) if d != digit]


def is_anomaly(data: Dataset) -> np.ndarray:
    """Per image: True where it is an anomaly under the dataset's protocol (needs labels and the protocol's meta)."""
    if data.y is None or "anomalous_classes" not in data.meta:
        raise DataError(f"dataset '{data.name}' does not say which images are anomalies; evaluate on an anomaly "
                        f"protocol (mnist-one-normal, mnist-one-anomalous or anomaly-folder:PATH), whose test "
                        f"split is labelled")
    return np.isin(data.y.numpy(), data.meta["anomalous_classes"])


def _mnist_protocol(req: LoadRequest, protocol: str) -> Dataset:
    req.reject("size", why="its size is fixed by the protocol")
    if req.digit is None:
        raise DataError(f"dataset '{protocol}' needs the digit it is about; set data.digit to 0-9 "
                        f"(e.g. --set data.digit=3)")
    opts = {"resolution": req.resolution, "channels": req.channels, "data_dir": req.data_dir}
    train, test = load_dataset("mnist", split="train60k", **opts), load_dataset("mnist", split="test", **opts)
    x, y = torch.cat([train.x, test.x]), torch.cat([train.y, test.y])
    official_test = np.arange(len(y)) >= len(train)
    chosen = split_indices(protocol, req.digit, y.numpy(), official_test)
    index = torch.from_numpy(chosen[req.split])
    return Dataset(name=req.name, kind="image", x=x[index].contiguous(), y=y[index].contiguous(), num_classes=10,
                   meta={"protocol": protocol, "digit": req.digit, "split": req.split,
                         "anomalous_classes": anomalous_classes(protocol, req.digit),
                         "class_names": [str(d) for d in range(10)],
                         "split_sizes": {k: len(v) for k, v in chosen.items()},
                         "mnist_sha256": train.meta.get("sha256")})


@register("mnist-one-normal", splits=SPLITS, takes_digit=True)
def load_mnist_one_normal(req: LoadRequest) -> Dataset:
    """One digit is normal (train on it), the official test set is the test split: AUROC."""
    return _mnist_protocol(req, "mnist-one-normal")


@register("mnist-one-anomalous", splits=SPLITS, takes_digit=True)
def load_mnist_one_anomalous(req: LoadRequest) -> Dataset:
    """One digit is the anomaly; the nine others pooled and split 80/20: AUROC and PR-AUC."""
    return _mnist_protocol(req, "mnist-one-anomalous")


@register("anomaly-folder:PATH", splits=SPLITS)
def load_anomaly_folder(req: LoadRequest) -> Dataset:
    """MVTec-style folders: train/ (normal), test/good or test/normal, test/<anomaly kind>/."""
    req.reject("size", why="it holds every image in its folders")
    root = Path(req.path).expanduser()
    fix = "lay it out as PATH/train/ (normal images), PATH/test/good/ and PATH/test/<anomaly>/"
    for part in ("train", "test"):
        if not (root / part).is_dir():
            raise DataError(f"{root / part} is not a folder; an anomaly folder needs train/ and test/: {fix}")
    opts = {"resolution": req.resolution, "channels": req.channels, "skip_unreadable": req.skip_unreadable}
    if req.split == "test":
        test = load_dataset(f"folder:{root / 'test'}", **opts)
        classes = test.meta.get("classes") or []
        normal = [i for i, c in enumerate(classes) if c.lower() in NORMAL_FOLDERS]
        if len(normal) != 1 or len(classes) < 2:
            raise DataError(f"{root / 'test'} must hold one folder of normal images (good/ or normal/) and at least "
                            f"one folder of anomalies, with every image inside one of them; {fix}")
        return Dataset(name=req.name, kind="image", x=test.x, y=test.y, num_classes=test.num_classes,
                       meta={**test.meta, "protocol": "anomaly-folder", "class_names": classes,
                             "anomalous_classes": [i for i in range(len(classes)) if i != normal[0]]})
    train = load_dataset(f"folder:{root / 'train'}", **opts)
    if len(train) < 2:
        raise DataError(f"{root / 'train'} holds {len(train)} image; it needs at least 2 (one is held out for "
                        f"validation)")
    rest, valid = _split_off(np.arange(len(train)), VALID_FRACTION)
    index = torch.from_numpy(valid if req.split == "valid" else rest)
    return Dataset(name=req.name, kind="image", x=train.x[index].contiguous(), y=None, num_classes=None,
                   meta={**train.meta, "split": req.split, "protocol": "anomaly-folder", "anomalous_classes": []})


