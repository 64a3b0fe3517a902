"""Objectives: adversarial losses, regularisers and what D sees (augmentation, instance noise).

Every piece is a pure function of logits, networks or batches plus, for regularisers, a term
and an ``attach`` that reads its own config section (see :mod:`.registry`). No optimiser is
ever stepped here: a phase sums the terms and steps.

The imports below register the regularisers; their order is the order their terms are added
to an update (and draw data), so it is part of what a seed reproduces.
"""

from ganforge.objectives import (  # noqa: F401  (registration order matters: see above)
    gradient_penalty,
    aux_classifier,
    feature_matching,
    orthogonal,
    historical,
    weight_clipping,
    r1,
    path_length,
    drift,
    ada,
)
from ganforge.objectives.augment import DiffAugment, input_transform
from ganforge.objectives.losses import D_LOSSES, G_LOSSES, DLoss
from ganforge.objectives.registry import ExtraPhase, TermPlan, attach_all, lazy_corrected, registered

__all__ = ["D_LOSSES", "G_LOSSES", "DLoss", "DiffAugment", "ExtraPhase", "TermPlan", "attach_all", "input_transform",
           "lazy_corrected", "registered"]
