"""The seed arithmetic: one run seed, distinct reproducible streams derived from it.

Every random stream a run uses is ``seed + offset``; the offsets live here once, because
changing any of them changes every run (tests/benchmarks/golden_samples.py would say so). Samples drawn
from a trained run are not a training stream: their seed is hashed (``ganforge.sampling.for_sampling``).
"""

from __future__ import annotations


REAL_BATCHES = 1  # the order of real minibatches
NOISE = 2  # z, fake class labels, the gradient penalty's interpolation weights
PREVIEW = 3  # the fixed z of the sample grids, so grids at different steps are comparable
MONITOR = 4  # the collapse monitor's fixed z and fixed real batch (training/monitor.py)
RANK = 7919  # added per process under torchrun, so dropout masks differ between processes
# Added per divergence-guard retry, for fresh streams after a rollback: a prime (the millionth) above
# RANK x 1955, so no retry's seed is a process's first one (RETRY was RANK, and retry k of process 0 drew
# process k's streams), and prime to RETRY_RANK, so no two (retry, process) pairs share one (for_retry_rank).
RETRY = 15_485_863
RETRY_RANK = 104729  # per process within a retry
REAL_B = 11  # the order of domain-B minibatches (translation recipes; A uses REAL_BATCHES)
IMAGE_POOL = 12  # the image pools' swap draws (CycleGAN); pool of D_B uses IMAGE_POOL + 1
DP_NOISE = 14  # the Gaussian noise DP-SGD adds to D's clipped gradients (dp-noise-to-image)
LABEL_SPLIT = 15  # which training images keep their labels (semi-supervised; data.label_seed overrides)
LABELLED = 16  # the order of labelled minibatches (semi-supervised)
UNLABELLED_G = 17  # the second unlabelled stream, the real side of G's feature matching (semi-supervised)
G_INIT = 18  # the z batch of G's data-dependent weight-norm init (semi-supervised's ssgan-conv G)
CROPS = 101  # crop positions and flips of super-resolution batches (training/crops.py), added to the REAL_BATCHES seed


def stream(seed: int, offset: int) -> int:
    return seed + offset


def for_rank(seed: int, rank: int) -> int:
    """The global-RNG seed of process ``rank`` (rank 0 keeps the run seed)."""
    return seed + RANK * rank


def for_retry(seed: int, retry: int) -> int:
    """The base seed of the streams after the ``retry``-th rollback."""
    return seed + RETRY * retry


def for_retry_rank(seed: int, retry: int, rank: int) -> int:
    """The global-RNG seed of process ``rank`` after the ``retry``-th rollback (``retry`` >= 1).

    With :func:`for_rank` (retry 0) these are all distinct for fewer than RETRY // RANK = 1955 processes
    and RETRY_RANK retries: retry k >= 1 starts at RETRY x k, above every first seed, and RETRY x k +
    RETRY_RANK x r repeats only when both primes divide the differences (tests/training/test_training_seeds.py).
    """
    return for_retry(seed, retry) + RETRY_RANK * rank
