"""Datasets for ganforge: every dataset is a name in one registry, loaded whole into memory.

``load_dataset("mnist")``, ``load_dataset("folder:/photos", resolution=64)``, ... all
return a :class:`Dataset`; every user mistake raises :class:`ganforge.errors.DataError`.
Importing the loader modules below is what fills the registry.
"""

from ganforge.data import cifar10, digits, folder, mnist, npz, pairs, stacked_mnist, toy2d  # noqa: F401  (registers the datasets)
from ganforge.data import translation_tasks  # noqa: F401  (mnist-edges, mnist-inverted, mnist-thick, colourisation)
from ganforge.data import superres  # noqa: F401  (registers skimage-photos)
from ganforge.data import anomaly_protocols  # noqa: F401  (registers the anomaly protocols)
from ganforge.data import store_loaders  # noqa: F401  (store:PATH, and folder:PATH through a cached store)
from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.paths import resolve_data_dir
from ganforge.data.registry import list_datasets, load_dataset, register

__all__ = ["Dataset", "LoadRequest", "list_datasets", "load_dataset", "register", "resolve_data_dir"]
