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

Why D's penultimate features by default: every noise-to-image recipe has them (the G/D protocol's
``D.features``), for points, digits and colour images at any size and at every growth level, and
they cost one forward pass with nothing to load. Their limit, measured on collapsed StyleGAN2 runs
(docs/metrics.md): a G that draws one digit in many styles still spreads in D's features, so the
figure catches near-identical samples, not a lost class. A dataset judge sees classes, but exists
only for MNIST-like data and CIFAR at one resolution and is trained on first use (about 100 s for
LeNet, minutes for CIFAR), so it is a switch, ``log.diversity_judge``: then the engine passes the
judge in and the same ratio in its features (``diversity_judge``) and the share of the most common
class (``top_class_share``) are logged too.

The engine calls the monitor between steps, with the sampling networks (G's moving average in
G's place) in eval mode and under a forked RNG, like the evaluation in ``engine/periodic.py``:
nothing here draws from a training stream or updates a buffer, so a run trains bitwise the same
with the monitor on or off. The figure is what the guard (:mod:`.guard`) warns and can stop on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ganforge.sampling import to_output

# A dataset judge as ganforge.metrics.judges.Judge is called: uint8 images -> (features, class logits).
Judge = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]

KEY = "diversity_dfeat"  # the figure's name in stats.jsonl: diversity in D-feature space


def mean_pairwise_distance(features: torch.Tensor) -> torch.Tensor:
    """The mean L2 distance over all pairs of rows (``torch.pdist``: n(n-1)/2 distances, no n x n matrix)."""
    return torch.pdist(features.flatten(1).float()).mean()


class DiversityMonitor:
    """The diversity of a fixed batch of G's samples against a fixed real batch, in D's features.

    ``sample(nets)`` draws the fixed fake batch (the recipe knows how its G is called: labels for a
    conditional G, the fixed z); ``real`` is the fixed real batch in G's output range; ``critic`` is the
    network whose ``features`` are the space distances are measured in; ``output_range``, G's, turns
    samples into uint8 images for a judge (None: points, which no judge reads).
    """

    def __init__(self, sample: Callable[[dict[str, nn.Module]], torch.Tensor], real: torch.Tensor,
                 critic: str = "D", output_range: tuple[float, float] | None = None):
        self.sample, self.real, self.critic, self.output_range = sample, real, critic, output_range

    @torch.no_grad()
    def __call__(self, nets: dict[str, nn.Module], judge: Judge | None = None) -> dict[str, float]:
        features = nets[self.critic].features
        samples = self.sample(nets).to(self.real.dtype)
        real = mean_pairwise_distance(features(self.real))
        fake = mean_pairwise_distance(features(samples))
        real, fake = torch.stack([real, fake]).tolist()  # one read-back
        out = {KEY: fake / real} if real > 1e-12 else {}  # else D maps every real sample to one point
        if judge is not None and self.output_range is not None:  # a judge reads images, not points
            out |= judge_figures(judge, samples, self.real, self.output_range)
        return out


def judge_figures(judge: Judge, samples: torch.Tensor, real: torch.Tensor,
                  output_range: tuple[float, float]) -> dict[str, float]:
    """With ``log.diversity_judge``: the same ratio in a dataset judge's features (``diversity_judge``), and
    the share of the samples in the judge's most common class (``top_class_share``: about 1/classes for a G
    that covers them evenly, 1 for one class). D's features can miss a G that draws one class in many
    styles (docs/metrics.md has the measurements); a judge that knows the classes does not."""
    (f_fake, logits), (f_real, _) = judge(to_output(samples, output_range)), judge(to_output(real, output_range))
    spread = mean_pairwise_distance(f_real).item()
    counts = torch.bincount(logits.argmax(1), minlength=logits.shape[1])
    return {**({"diversity_judge": mean_pairwise_distance(f_fake).item() / spread} if spread > 1e-12 else {}),
            "top_class_share": counts.max().item() / len(samples)}


def no_monitor(nets: dict[str, nn.Module], judge: Judge | None = None) -> dict[str, float]:
    """What a recipe without G(z) (translation, super-resolution, GANomaly) reports: nothing."""
    return {}


def fixed_real(x: torch.Tensor, n: int, seed: int, scale: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``n`` samples of ``x`` (all of it when smaller), chosen once by ``seed`` and scaled as training
    batches are (``RealBatches.scale``): the monitor's fixed real batch."""
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n].to(x.device)
    return scale(x[idx])
