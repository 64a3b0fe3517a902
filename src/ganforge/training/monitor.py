"""The collapse monitor: how varied G's samples are, measured while the run trains.

A collapsing G draws the same few images whatever its z. The losses do not say so (D can be
fooled by one good image), so every ``log.every`` steps the engine asks the recipe's monitor for
one figure, ``diversity_dfeat``:

    mean pairwise L2 distance of D.features(G(z_fixed))  /  the same of D.features(x_fixed)

over a fixed batch of ``log.diversity_n`` noise vectors and as many fixed real samples, both
drawn once from the run seed (``seeds.MONITOR``), so every reading of a run, and of its resumed
continuation, looks at the same z and the same real images. About 1 is a G whose samples spread
as much as real data does; towards 0 they all look alike to D. Dividing by the real batch's
spread under the *same* D removes the scale of D's features, which drifts as D trains.

Why D's penultimate features, and no judge: every noise-to-image recipe has them (the G/D
protocol's ``D.features``), for points, digits and colour images at any size and at every growth
level, and they cost one forward pass with nothing to load. A dataset judge (LeNet) exists only for
MNIST-like data and CIFAR at one resolution and is trained on first use (minutes for CIFAR), so it
would make the monitor absent or slow exactly where it is needed least predictably; the judge's
view of coverage (classes and their shares) is measured after training (``ganforge eval``'s
``modes`` metrics, benchmarks/learns.py). The caveat of D's view: it sees what D has learnt to
tell apart, so early in training, before D has features worth the name, the figure is noisy.

The engine calls the monitor between steps, with the sampling networks (G's moving average in
G's place) in eval mode and under a forked RNG, like the evaluation in ``engine/outputs.py``:
nothing here draws from a training stream or updates a buffer, so a run trains bitwise the same
with the monitor on or off. The figure is what the guard (:mod:`.guard`) warns and can stop on.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

KEY = "diversity_dfeat"  # the figure's name in stats.jsonl: diversity in D-feature space


def mean_pairwise_distance(features: torch.Tensor) -> torch.Tensor:
    """The mean L2 distance over all pairs of rows (``torch.pdist``: n(n-1)/2 distances, no n x n matrix)."""
    return torch.pdist(features.flatten(1).float()).mean()


class DiversityMonitor:
    """The diversity of a fixed batch of G's samples against a fixed real batch, in D's features.

    ``sample(nets)`` draws the fixed fake batch (the recipe knows how its G is called: labels for a
    conditional G, the fixed z); ``real`` is the fixed real batch in G's output range; ``critic`` is the
    network whose ``features`` are the space distances are measured in.
    """

    def __init__(self, sample: Callable[[dict[str, nn.Module]], torch.Tensor], real: torch.Tensor,
                 critic: str = "D"):
        self.sample, self.real, self.critic = sample, real, critic

    @torch.no_grad()
    def __call__(self, nets: dict[str, nn.Module]) -> dict[str, float]:
        features = nets[self.critic].features
        real = mean_pairwise_distance(features(self.real))
        fake = mean_pairwise_distance(features(self.sample(nets).to(self.real.dtype)))
        real, fake = torch.stack([real, fake]).tolist()  # one read-back
        if not real > 1e-12:  # D maps every real sample to one point (dead features): nothing to compare
            return {}
        return {KEY: fake / real}


def no_monitor(nets: dict[str, nn.Module]) -> dict[str, float]:
    """What a recipe without G(z) (translation, super-resolution, GANomaly) reports: nothing."""
    return {}


def fixed_real(x: torch.Tensor, n: int, seed: int, scale: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``n`` samples of ``x`` (all of it when smaller), chosen once by ``seed`` and scaled as training
    batches are (``RealBatches.scale``): the monitor's fixed real batch."""
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n].to(x.device)
    return scale(x[idx])
