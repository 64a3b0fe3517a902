"""A trained D as a classifier and as a representation: what a GAN learns from unlabelled data.

``classification``: class predictions of a semi-supervised run's D and its test accuracy, named
with its protocol (``acc_test_100labels_seed0``). ``features``: any run's D features, max-pooled
per the DCGAN paper, for a linear probe (``benchmarks/linear_probe.py``). Sits beside ``api``:
it opens runs and reads datasets, and ``cli`` uses it.
"""

from ganforge.representation.classification import accuracy_name, evaluate_classifier, label_protocol, predict
from ganforge.representation.features import d_features, feature_layers, to_d_input

__all__ = ["accuracy_name", "d_features", "evaluate_classifier", "feature_layers", "label_protocol", "predict", "to_d_input"]
