"""The DP-SGD machinery both private recipes share: dp-noise-to-image and dp-tabular.

Both train D, the only network that touches real records, by DP-SGD through Opacus (Abadi et al. 2016):
every sample's gradient clipped to ``dp.max_grad_norm``, Gaussian noise of std ``dp.noise_multiplier *
dp.max_grad_norm`` added to their sum, and the RDP accountant counting each D update at the Poisson
sampling rate train.batch_size / N. What that takes is here, written once:

- :func:`make_private`: a recipe's training parts with D's updates made private (D's optimiser wrapped,
  Opacus's per-sample-gradient hooks on in D's phase only, a D term that counts the update and reports
  ``dp_epsilon`` and ``dp_delta`` at log steps, the collapse monitor off);
- :class:`DpState`: the accountant's history and the noise generator, checkpointed by name
  (:data:`DP_STATE`), so a resumed run continues bitwise and keeps counting; the export datasheet
  reads the same group to compute epsilon at the exported checkpoint;
- the ``check_*`` refusals: each setting that would void the guarantee (batch norm, a gradient penalty,
  a D that scores groups, real data reaching training outside D's updates, a batch larger than the data,
  in-training eval on the training records) is refused in one line before training.

Why apart from both recipes: neither is the other's base (dp-noise-to-image is a noise-to-image recipe,
dp-tabular a tabular one), so kept in one of them the other imported a sibling recipe for it.

Opacus is imported where it is used: it takes about a second to import, which every
``ganforge`` command would otherwise pay.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.data import Dataset
from ganforge.data.registry import dataset_splits
from ganforge.errors import ConfigError
from ganforge.metrics.families import parzen_sigma_split
from ganforge.metrics.judges import default_judge
from ganforge.metrics.registry import DatasetInfo, default_metrics, resolve
from ganforge.nets.layers import MinibatchStd, SelfAttention
from ganforge.nets.progan import Growing
from ganforge.nets.registry import PackedDiscriminator
from ganforge.objectives.losses import D_LOSSES, G_LOSSES, d_losses_where
from ganforge.recipes.base import TrainingEnv, TrainingParts, refuse_distributed
from ganforge.training import seeds
from ganforge.training.monitor import no_monitor
from ganforge.training.speed import in_layout_of


def _first_sentence(error: object) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(". ")[0].rstrip(".")[:160]


def check_private(D: nn.Module, cfg: RunConfig, recipe: str = "dp-noise-to-image") -> None:
    """One line if D or the config cannot be trained with per-sample gradients."""
    from opacus.validators import ModuleValidator

    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()):
        raise ConfigError(f"{recipe} cannot make a D with batch norm private (it mixes the samples of a "
                          "batch, so per-sample gradients do not exist); set model.d.norm=layer (or none)")
    if any(nn.utils.parametrize.is_parametrized(m) for m in D.modules()):
        raise ConfigError(f"{recipe} cannot compute per-sample gradients through spectral norm's "
                          "parametrisation; set model.d.spectral_norm=false")
    check_samples_apart(D, recipe)
    check_attention_batch(D, cfg, recipe)
    errors = ModuleValidator.validate(D, strict=False)
    if errors:
        raise ConfigError(f"{recipe} cannot make this D private ({_first_sentence(errors[0])}); use a D "
                          f"made of standard layers, e.g. dcgan with norm: layer")
    for name in ("gp", "r1"):
        if getattr(cfg.reg, name) > 0:
            raise ConfigError(f"{recipe} cannot clip per-sample gradients of a gradient penalty; "
                              f"set reg.{name}=0")
    if cfg.reg.historical > 0:  # a term on D's weights alone: its gradient is not a per-sample one
        raise ConfigError(f"{recipe} updates D by Opacus's noised sum of per-sample gradients, which replaces D's "
                          f"whole gradient, so reg.historical's pull of D towards its past weights would be dropped "
                          f"without a word (G's would apply); set reg.historical=0")
    check_per_sample_d_loss(cfg, recipe)
    check_real_only_in_d(cfg, recipe)
    if cfg.speed.graphs is True:  # speed.graphs=auto leaves the phases eager: their terms are graph_unsafe
        raise ConfigError(f"{recipe} counts every D update on the host (the privacy accountant) and switches "
                          f"Opacus's hooks between phases, which a replayed CUDA graph would skip; set "
                          f"speed.graphs=auto or false")


def check_samples_apart(D: nn.Module, recipe: str = "dp-noise-to-image") -> None:
    """One line for a D whose logit of one sample depends on the other samples of its batch, or whose layers do
    not all get a gradient in every update: DP-SGD clips each sample's gradient to bound what one record can
    change, which holds only when a sample's gradient is its own, and Opacus fails with a raw ValueError on a
    layer that got none."""
    if isinstance(D, PackedDiscriminator):  # PacGAN (model.d.pack > 1): D scores a group, clipped as one
        raise ConfigError(f"{recipe} clips each sample's gradient, and model.d.pack={D.pack} makes D score groups "
                          f"of {D.pack} samples (the guarantee would be per group); set model.d.pack=1")
    if isinstance(D, Growing):
        raise ConfigError(f"{recipe} cannot make a growing D private (the layers of the stages not yet grown get "
                          f"no per-sample gradient, which Opacus's clipping requires); choose a D that does not "
                          f"grow, e.g. set model.d.arch=dcgan with model.d.norm=layer")
    for m in D.modules():
        if isinstance(m, MinibatchStd) and m.group_size != 1:  # a group of one has std 0: a constant channel
            fix = "model.d.minibatch_std=false" if m.group_size is None else "model.d.mbstd_group=1"
            raise ConfigError(f"{recipe} cannot make a D with minibatch std private (it appends the std over a "
                              f"group of samples, so one record's logit moves with the others', as under batch "
                              f"norm); set {fix}")


# The smallest batch a private D with self-attention may draw: a Poisson draw holds no image with probability about
# e^-batch per update (1e-14 at 32), and Opacus computes self-attention's per-sample gradients with functorch's vmap,
# which fails on an empty batch (standard layers take one)
ATTENTION_MIN_BATCH = 32


def check_attention_batch(D: nn.Module, cfg: RunConfig, recipe: str = "dp-noise-to-image") -> None:
    """One line for self-attention in a private D at a batch small enough for an empty Poisson draw to be likely."""
    batch = cfg.train.batch_size
    if batch < ATTENTION_MIN_BATCH and any(isinstance(m, SelfAttention) for m in D.modules()):
        raise ConfigError(f"{recipe} draws D's real images as a Poisson sample, empty with probability about "
                          f"e^-{batch} per update, and Opacus's per-sample gradients of self-attention fail on an "
                          f"empty batch; set train.batch_size={ATTENTION_MIN_BATCH} or more, or "
                          f"model.d.attention_res=null")


def check_per_sample_d_loss(cfg: RunConfig, recipe: str = "dp-noise-to-image") -> None:
    """One line for a D loss whose per-sample gradient depends on other records of the batch: DP-SGD's noise is
    calibrated to what one record can change (2 * dp.max_grad_norm), and under the relativistic loss one record
    moved the noised sum by 23 times that. The registry declares which losses are per-sample sums
    (``DLoss.per_sample``), so a new loss is refused here until it is declared one."""
    if not D_LOSSES[cfg.loss.d].per_sample:
        allowed = ", ".join(d_losses_where(lambda loss: loss.per_sample))
        raise ConfigError(f"{recipe} clips each sample's gradient, and loss.d={cfg.loss.d} is not declared a "
                          f"per-sample sum (relativistic compares each logit with the batch's mean logit), so one "
                          f"record's gradient may depend on every other record; set loss.d= one of {allowed}")


# The checkpoint group of a private D's accountant (history, noise stream): read back by dp-tabular and the
# export datasheet, which computes epsilon at the exported checkpoint from it.
DP_STATE = "dp_D"


def check_real_only_in_d(cfg: RunConfig, recipe: str = "dp-noise-to-image") -> None:
    """One line for a setting that lets real data reach training outside D's private updates, where no clipping
    or noise covers it: the privacy argument (only D sees real data; G and its samples are post-processing) would
    not hold, and the epsilon reported would describe a run that leaks more than it says."""
    leaks = []
    if cfg.reg.feature_matching > 0:  # G's loss holds the mean of D's features on a fresh real batch
        leaks.append(("reg.feature_matching", "G's loss matches D's features of a real batch",
                      "reg.feature_matching=0"))
    if G_LOSSES[cfg.loss.g].needs_real:  # G's loss holds D's mean logit on a real batch
        leaks.append(("loss.g=relativistic", "G's loss compares its samples with D's logits on a real batch",
                      "loss.g=non-saturating"))
    if cfg.augment.ada_target is not None:  # p follows sign(D(x)) summed over real batches, with no noise
        leaks.append(("augment.ada_target", "ADA tunes its probability from D's outputs on real batches",
                      "augment.ada_target= (off; a DiffAugment augment.policy, drawn independently of the data, is allowed)"))
    if cfg.model.g.options.get("bias_from_data") is True:  # the recipe gives G no mean (data_mean): said, not ignored
        leaks.append(("model.g.bias_from_data", "G's output bias would start at the training images' mean",
                      "model.g.bias_from_data=false"))
    if leaks:
        key, why, fix = leaks[0]
        raise ConfigError(f"{recipe} keeps real data inside D's private updates, and {key} does not: {why} with "
                          f"no clipping or noise, so the reported epsilon would not cover it; set {fix}")


def check_batch_fits(cfg: RunConfig, data: Dataset, recipe: str = "dp-noise-to-image") -> None:
    """One line, before the run directory is written, when a batch is larger than the data (the accountant's
    sampling rate batch/N would exceed 1, which Opacus's RDP accountant cannot count: a math domain error), or
    when dp.delta is not below 1/N (the usual rule: a delta that large is no guarantee for a record)."""
    rows, batch = len(data), cfg.train.batch_size
    if batch > rows:
        what = "rows" if data.kind == "table" else "images" if data.kind == "image" else "samples"
        raise ConfigError(f"{recipe}: train.batch_size={batch} is more than the {rows} {what} of {cfg.data.name} "
                          f"(the privacy accountant's sampling rate batch/{what} must be at most 1); set "
                          f"--set train.batch_size={rows} or less")
    if cfg.dp.delta >= 1 / rows:  # at delta >= 1/N, publishing one whole record at random is (0, delta)-DP
        raise ConfigError(f"{recipe}: dp.delta={cfg.dp.delta:g} is not below 1/N = 1/{rows} for {cfg.data.name}, "
                          f"so (epsilon, delta) would allow a whole record to leak; set --set dp.delta="
                          f"{10 ** math.floor(math.log10(0.1 / rows)):g} or less")


def overlaps_training(split: str, trained_on: str) -> bool:
    """Whether ``split`` holds training records: the split trained on, and ``all`` (every record) on either side."""
    return split == trained_on or "all" in (split, trained_on)


def check_eval_outside_training(cfg: RunConfig, data: Dataset, recipe: str = "dp-noise-to-image",
                                defaults: list[str] | None = None) -> None:
    """One line when in-training eval would read the training records: a metric on the training split (the one
    eval.every picks on a dataset with no valid split) is a statistic of the private records with no clipping
    or noise, which stats.jsonl, checkpoints/best and the datasheet would then publish. Names resolved as the
    evaluator resolves them (``selecting``), without loading a split."""
    if cfg.eval.every <= 0:
        return
    splits = dataset_splits(cfg.data.name)
    info = DatasetInfo(name=data.name, kind=data.kind, splits=splits, default_judge=default_judge(data.name),
                       num_classes=data.num_classes, meta=data.meta, selecting=True)
    for name in cfg.eval.metrics or defaults or default_metrics(info):
        spec = resolve(name, info, n=cfg.eval.n)
        read = [] if spec.ref is None else [(spec.ref, "on")]
        if spec.family == "parzen" and spec.ref is not None:
            read.append((parzen_sigma_split(splits, spec.ref), "chooses its sigma on"))
        for split, how in read:
            if overlaps_training(split, cfg.data.split):
                raise ConfigError(f"{recipe}: eval.every measures {spec.name} {how} {data.name}/{split}, which holds "
                                  f"the training records (trained on {cfg.data.split}): a statistic of the private "
                                  f"data with no clipping or noise; use a dataset with a valid split, or set "
                                  f"eval.every=0 and measure the samples against held-out data with ganforge eval")


def epsilon_after(history: list[tuple[float, float, int]], delta: float) -> float:
    """Epsilon at ``delta`` after the D updates in an RDP accountant's ``history`` ((noise multiplier, sample
    rate, updates) entries): 0 before any update, infinite once an update had no noise. The one computation of
    it: training logs it (:meth:`DpState.epsilon`) and an export's datasheet recomputes it from the
    checkpoint's history, and the two must agree."""
    from opacus.accountants import RDPAccountant  # deferred: ~1 s, paid only by private runs and their exports

    if not history:
        return 0.0
    if any(sigma == 0 for sigma, _, _ in history):
        return math.inf
    accountant = RDPAccountant()
    accountant.history = list(history)
    return float(accountant.get_epsilon(delta))


class DpState:
    """The accountant's history and the noise generator: what a checkpoint keeps as ``dp_D``."""

    enabled_by = "dp.*"  # the config that adds it (named when a resume would add it: engine/state.py)

    def __init__(self, cfg: RunConfig, data_size: int, batch_size: int, device: torch.device):
        from opacus.accountants import RDPAccountant

        self.cfg, self.device = cfg, device
        self.sample_rate = batch_size / data_size
        self.accountant = RDPAccountant()
        # On the training device: Opacus draws the noise where the gradients are, with this generator.
        self.generator = torch.Generator(device=device).manual_seed(seeds.stream(cfg.seed, seeds.DP_NOISE))

    def epsilon(self) -> float:
        return epsilon_after(self.accountant.history, self.cfg.dp.delta)

    def term(self, ctx) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Counts the D update about to happen (adding nothing to the loss)."""
        self.accountant.step(noise_multiplier=self.cfg.dp.noise_multiplier, sample_rate=self.sample_rate)
        return torch.zeros((), device=self.device), {}

    def figures(self) -> dict[str, float]:
        """(epsilon, delta) after every update counted so far: a record's ``TrainingParts.log_figures``. Read
        when the record is written, never averaged with the interval's statistics: a leg that ended between
        log steps once left its epsilon in the checkpointed sums, and the resumed run's next record showed the
        mean of two epsilons, lower than the run's."""
        return {"dp_epsilon": self.epsilon(), "dp_delta": float(self.cfg.dp.delta)}

    # A replayed CUDA graph runs no Python: the accountant would not count the update (engine/graphs.py)
    term.graph_unsafe = "the privacy accountant counts each D update on the host"

    def state_tensors(self) -> dict[str, torch.Tensor]:
        history = torch.tensor([list(h) for h in self.accountant.history], dtype=torch.float64).reshape(-1, 3)
        return {"history": history, "noise_rng": self.generator.get_state()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.accountant.history = [(float(a), float(b), int(c)) for a, b, c in tensors["history"].tolist()]
        self.generator.set_state(tensors["noise_rng"])


def _hooks_switch(hooks, on: bool, device: torch.device):
    """A term that turns the per-sample-gradient hooks on (D's update) or off (any other), adding nothing."""

    def term(ctx) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        hooks.enable_hooks() if on else hooks.disable_hooks()
        return torch.zeros((), device=device), {}

    term.graph_unsafe = "Opacus's per-sample-gradient hooks are switched on the host between D's and G's updates"
    return term


def _dp_optimizer(optimizer: torch.optim.Optimizer, **kwargs: Any) -> torch.optim.Optimizer:
    """Opacus's DPOptimizer, with every noised gradient laid out like its parameter.

    Opacus builds ``p.grad`` contiguous; a channels_last conv weight (speed.channels_last, on by
    default on CUDA) then gets a gradient with other strides, which the fused CUDA Adam/SGD kernels
    refuse ("params, grads, exp_avgs, and exp_avg_sqs must have same dtype, device, and layout").
    """
    from opacus.optimizers import DPOptimizer

    class LayoutDPOptimizer(DPOptimizer):
        def add_noise(self) -> None:
            super().add_noise()
            for p in self.params:
                if p.grad is not None:
                    p.grad = in_layout_of(p.grad, p)

    return LayoutDPOptimizer(optimizer, **kwargs)


def make_private(env: TrainingEnv, parts: TrainingParts, recipe: str) -> TrainingParts:
    """The recipe's training parts with D's updates made private (DP-SGD through Opacus): D's optimiser
    wrapped, the per-sample-gradient hooks on in D's phase only, (epsilon, delta) reported by a D term and
    the accountant checkpointed as ``dp_D``. Shared by every recipe with a private D (dp-noise-to-image,
    dp-tabular)."""
    from opacus import GradSampleModule

    refuse_distributed(env, recipe, "Opacus's per-sample clipping is not wired into DDP here")
    cfg = env.cfg
    state = DpState(cfg, len(env.data), env.local_batch, env.device)
    # Hooks on D's layers record per-sample gradients; the wrapper itself is never called. torch warns
    # that the first layer's hook fires with no input gradient (the inputs need none): expected here.
    warnings.filterwarnings("ignore", message="Full backward hook is firing when gradients are computed",
                            category=UserWarning)
    try:
        hooks = GradSampleModule(env.nets["D"], batch_first=True, loss_reduction="mean", strict=True)
    except NotImplementedError as e:
        raise ConfigError(f"{recipe} cannot compute per-sample gradients for this D "
                          f"({_first_sentence(e)}); use a D made of standard layers") from None
    env.optimizers["D"] = _dp_optimizer(env.optimizers["D"], noise_multiplier=cfg.dp.noise_multiplier,
                                        max_grad_norm=cfg.dp.max_grad_norm, expected_batch_size=env.local_batch,
                                        loss_reduction="mean", generator=state.generator)
    for phase in parts.phases:
        # Opacus's backward hooks must run only in D's own update: in G's, gradients flow through
        # D's layers with no per-sample activations recorded, and the hooks would fail.
        own = phase.net == "D" and phase.name == "D"
        phase.terms.insert(0, _hooks_switch(hooks, own, env.device))
        if own:
            phase.terms.append(state.term)
    parts.stateful[DP_STATE] = state
    # A monitor reads training records (through D, or decoded for a score) at every log step: a statistic
    # of private data that the accountant does not count, so a private run logs none.
    parts.monitor = no_monitor
    parts.log_figures = state.figures
    return parts
