"""28-px stand-ins for MNIST digits (scikit-learn's 8x8 digits, enlarged), for tests that cannot download MNIST,
and a stand-in for the MNIST judge that reads them."""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn

from ganforge.metrics.judges import Judge


def fake_mnist(n: int) -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    x = np.stack([np.asarray(Image.fromarray(np.uint8(im * 255 / 16)).resize((20, 20), Image.BILINEAR))
                  for im in d.images[:n]])
    return np.pad(x, ((0, 0), (4, 4), (4, 4)))[:, None].astype(np.uint8), d.target[:n].astype(np.int64)


class CentroidReader(nn.Module):
    """Reads a 28-px digit as the class whose mean (4x4-pooled pixels) is nearest: most of these stand-ins
    right, and inverted digits mostly wrong, so a test can tell whether the judge read the right view."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        super().__init__()
        f, y = self.embed(torch.from_numpy(x)), torch.from_numpy(y)
        self.register_buffer("centres", torch.stack([f[y == k].mean(0) for k in range(10)]))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x.float() / 255, 4).flatten(1)

    def classify(self, f: torch.Tensor) -> torch.Tensor:
        return -torch.cdist(f, self.centres)


def stand_in_lenet(n: int = 300) -> Judge:
    """A judge named "lenet" (the MNIST judge's name and input shape) that needs no MNIST: nearest class mean
    over the first ``n`` :func:`fake_mnist` digits, its accuracy measured on the next 200."""
    x, y = fake_mnist(n + 200)
    net = CentroidReader(x[:n], y[:n]).eval()
    accuracy = float((net.classify(net.embed(torch.from_numpy(x[n:]))).argmax(1).numpy() == y[n:]).mean())
    return Judge(name="lenet", net=net, input_shape=(1, 28, 28), num_classes=10,
                 record={"test_accuracy": accuracy, "key": "stand-in"})
