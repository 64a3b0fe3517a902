"""28-px stand-ins for MNIST digits (scikit-learn's 8x8 digits, enlarged), for tests that cannot download MNIST."""

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def fake_mnist(n: int) -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    x = np.stack([np.asarray(Image.fromarray(np.uint8(im * 255 / 16)).resize((20, 20), Image.BILINEAR))
                  for im in d.images[:n]])
    return np.pad(x, ((0, 0), (4, 4), (4, 4)))[:, None].astype(np.uint8), d.target[:n].astype(np.int64)
