"""Objectives: adversarial losses, regularisers and what D sees (augmentation, instance noise).

Every piece is a pure function of logits, networks or batches plus, for regularisers, a term
and an ``attach`` that reads its own config section (see :mod:`.registry`). No optimiser is
ever stepped here: a phase sums the terms and steps.

The imports below register the regularisers; the order their terms are added to an update (and
draw data) is declared in :data:`.registry.ORDER`, whatever the order of these imports.
:data:`READS` is every config key the objectives read (their ``register(..., reads=...)``
declarations and the input transform's): what a recipe using them declares it reads.
"""

from ganforge.objectives import (  # noqa: F401  (imported to register them; ORDER fixes the order)
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
from ganforge.objectives import augment as _augment
from ganforge.objectives.augment import DiffAugment, input_transform
from ganforge.objectives.losses import D_LOSSES, G_LOSSES, DLoss, GLoss, d_loss_for, g_loss_without_real
from ganforge.objectives.registry import ExtraPhase, TermPlan, attach_all, lazy_corrected, reads, registered

# Every config key the objectives read when a recipe attaches them all and feeds D through input_transform.
READS = {section: reads().get(section, frozenset()) | _augment.READS.get(section, frozenset())
         for section in {*reads(), *_augment.READS}}

__all__ = ["D_LOSSES", "G_LOSSES", "DLoss", "DiffAugment", "ExtraPhase", "GLoss", "READS", "TermPlan", "attach_all",
           "d_loss_for", "g_loss_without_real", "input_transform", "lazy_corrected", "reads", "registered"]
