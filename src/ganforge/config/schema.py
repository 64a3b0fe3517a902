"""The run configuration's schema: every section as a dataclass, every default written once.

The defaults are the 2014 paper's hyperparameters with the embedded ``digits``
data, so ``RunConfig()`` is a runnable configuration; each field carries a
comment that says what it does and where its default comes from. Presets and
``--set`` overrides only state differences from these (see ``loading``), and
``RunConfig.to_dict``/``to_yaml`` give the form saved as a run's ``config.yaml``.

Network options are free-form here (``NetSpec.options``) because each
architecture has its own; ``validation`` checks them against the builder.

Every section has the same shape (a comment, then ``name: type = default``), here, in
``recipe_sections`` and in ``run_sections`` (how a run is carried out: speed, log, eval, guard): a
deliberate mirror, which a copy finder reports as repeated lines.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from ganforge.config.recipe_sections import (AnomalyConfig, DpConfig, GrowthConfig, SemiSupervisedConfig,
                                             SuperresConfig, TabularConfig, TranslationConfig)
from ganforge.config.run_sections import EvalConfig, GuardConfig, LogConfig, SpeedConfig
from ganforge.nets import registry as net_registry


@dataclass
class DataConfig:
    """The ``data`` section: which dataset a run trains on and how it is cut (split, size, labels, table
    columns); read by :func:`ganforge.data.registry.run_data_options` when the run is built.
    """

    # Registry name (ring8, grid25, digits, mnist) or folder:PATH / npz:PATH.
    # digits ships inside scikit-learn, so the default needs no download.
    name: str = "digits"
    # Which split to train on; "train" is the 2014 paper's 50k MNIST split.
    split: str = "train"
    # Pixel size images are resized/cropped to; None keeps the dataset's own size.
    resolution: int | None = None
    # 1 (grey) or 3 (RGB); None keeps the dataset's own channels.
    channels: int | None = None
    # Number of points drawn for the 2D mixtures; None uses the dataset's default.
    size: int | None = None
    # Unreadable images are an error unless this is true (then they are listed and skipped).
    skip_unreadable: bool = False
    # The digit an anomaly protocol is about (mnist-one-normal: the normal class; mnist-one-anomalous:
    # the anomalous class); null for every other dataset. No default digit: a protocol needs one named.
    digit: int | None = None
    # Semi-supervised learning (recipe semi-supervised): keep the labels of this many training images per
    # class, drawn class-balanced, and use the rest without labels; null = every label (other recipes
    # ignore it). The paper's MNIST setting is 10 (100 labels).
    labels_per_class: int | None = None
    # Train on only this many images of the split (a random subset, the same for every run seed, so seeds
    # vary the init and not the data): the small-data setting ADA is for, e.g. 1000 MNIST digits. null = all.
    limit: int | None = None
    # The seed of that labelled draw; null = the run's seed, so seeds 0..4 vary the split and the init
    # together (the paper's protocol). Set it to hold the split fixed while the init varies.
    label_seed: int | None = None
    # Tables (csv:PATH, parquet:PATH): columns learned as categories whatever their values (integer codes
    # such as 1/2/3 would otherwise be numbers); empty = the inferred kinds (printed when the table loads).
    # A list, or one string of comma-separated names (--set data.discrete=a,b).
    discrete: list[str] | str = field(default_factory=list)
    # Tables: the column a downstream model predicts (learned as a category); null = none.
    target: str | None = None
    # Tables: row identifiers, not learned and regenerated unique; empty = those inferred (unique text on
    # every row, or unique integers in a column named like an ID). A list or "a,b", as data.discrete.
    ids: list[str] | str = field(default_factory=list)


@dataclass
class NetSpec:
    """An architecture name plus its builder's keyword options (validated by nets.registry)."""

    arch: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        """Whether the network's realness (or sample) depends on class labels (its ``conditioning``, stated or
        its builder's default)."""
        default = net_registry.option_default(self.arch, "conditioning")
        return self.options.get("conditioning", default) not in (None, "none")


@dataclass
class ModelConfig:
    """The ``model`` section: the noise G reads (``z_dim``, ``z_dist``) and the two networks' architectures
    with their builder options, built through :mod:`ganforge.nets.registry`.
    """

    # Dimensionality of the generator's input noise (100 in the 2014 paper).
    z_dim: int = 100
    # "uniform": U[-sqrt(3), sqrt(3)] per dimension (unit variance);
    # "normal": N(0, 1), what the 2014 paper's code (goodfeli/adversarial's Generator) draws by default.
    z_dist: str = "uniform"
    # Generator: the 2014 MLP (ReLU 1200-1200, sigmoid output) unless a preset says otherwise.
    g: NetSpec = field(default_factory=lambda: NetSpec("mlp"))
    # Discriminator: the 2014 maxout MLP (240x5, 240x5, dropout) unless a preset says otherwise.
    d: NetSpec = field(default_factory=lambda: NetSpec("maxout"))


@dataclass
class LossConfig:
    """The ``loss`` section: D's and G's adversarial losses by name (:mod:`ganforge.objectives.losses`) and
    one-sided label smoothing; read by the recipes that build adversarial terms.
    """

    # Discriminator objective: "minimax" maximises log D(x) + log(1 - D(G(z))).
    d: str = "minimax"
    # Generator objective: "non-saturating" minimises -log D(G(z)) (the paper code's choice);
    # "minimax" minimises log(1 - D(G(z))) as in the paper's equation.
    g: str = "non-saturating"
    # One-sided label smoothing (Salimans et al. 2016): D's target for real samples; 0.9 smooths,
    # 1.0 is off. Fake targets stay 0. Only D losses with targets (DLoss.has_targets: minimax, least-squares, mse) take it.
    real_label: float = 1.0


@dataclass
class RegConfig:
    """The ``reg`` section: the weights (and lazy intervals) of the extra loss terms in :mod:`ganforge.objectives`;
    each is off at its default except ACGAN's, which acts only on a D built with a classifier.
    """

    # WGAN-GP (Gulrajani et al. 2017): weight of (||grad D(x_hat)|| - 1)^2 at random real/fake
    # interpolates; 10 in the paper, 0 = off.
    gp: float = 0.0
    # R1 (Mescheder et al. 2018): weight gamma of gamma/2 * ||grad D(x)||^2 on real data; 0 = off. At
    # r1_every 1 a term of D's own update (the paper's L_D + gamma/2 * R1), else a lazy phase (objectives/r1.py).
    r1: float = 0.0
    # Lazy R1 (StyleGAN2): apply it every N steps in its own D phase. In steps (iterations), not D updates:
    # with train.d_steps k it runs once per N*k D updates (StyleGAN2's 16 assumes k = 1), is weighted by
    # N*k, and D's lr and betas are corrected by c = N*k / (N*k + 1) (N > 1 only).
    r1_every: int = 1
    # WGAN weight clipping (Arjovsky et al. 2017): D's parameters clamped to [-c, c] after each
    # update; 0.01 in the paper; null = off.
    clip: float | None = None
    # BigGAN's orthogonal regularisation of G: beta * ||W W^T * (1 - I)||_F^2 summed over G's
    # weight matrices; 1e-4 in the paper (BigGAN-PyTorch's gradient is half this loss's: its 1e-4 is 5e-5
    # here); 0 = off.
    ortho: float = 0.0
    # Feature matching (Salimans et al. 2016): weight of ||mean f(x) - mean f(G(z))||^2 on D's
    # penultimate features, added to G's loss; 0 = off.
    feature_matching: float = 0.0
    # Historical averaging (Salimans et al. 2016): weight of ||theta - running mean of theta||^2,
    # for both networks; 0 = off.
    historical: float = 0.0
    # Instance noise (Sonderby et al. 2016): std of Gaussian noise added to every input of D (real
    # and fake), annealed linearly to 0 over instance_noise_steps (steps, i.e. iterations); 0 = off.
    instance_noise: float = 0.0
    instance_noise_steps: int = 10_000
    # ACGAN (Odena et al. 2017): weight of the auxiliary classification loss, used when D is built
    # with an auxiliary classifier.
    aux_weight: float = 1.0
    # ACGAN trains D's classifier on generated samples too (with the labels G was asked for). That
    # lets G and D agree on a label code a judge cannot see (measured: the classifier read 92% of
    # real test digits right, and G's samples matched their requested class only 11% of the time by
    # the LeNet judge). false: D's classifier learns from real data only; G is still trained to be
    # classified as its requested class.
    aux_on_fake: bool = True
    # Path-length regularisation (StyleGAN2, Karras et al. 2020): weight of (|J_w^T y| - a)^2 in
    # its own G phase; the paper's 2; 0 = off. Needs a style-based G (model.g.arch stylegan2).
    path_length: float = 0.0
    # Lazy path-length regularisation: every N steps (one G update each), scaled by N (the paper's 4).
    path_length_every: int = 4
    # Decay of the running mean a of the path lengths, per path-length phase (the paper's 0.01).
    path_length_decay: float = 0.01
    # ProGAN's drift penalty (Karras et al. 2018): epsilon * mean(D(x_real)^2) added to D's loss,
    # keeping a Wasserstein critic's outputs near 0; the paper's 0.001; 0 = off.
    drift: float = 0.0


@dataclass
class AugmentConfig:
    """The ``augment`` section: DiffAugment's policy and ADA's adaptive probability, applied to D's inputs by
    :mod:`ganforge.objectives.augment` and :mod:`ganforge.objectives.ada`.
    """

    # DiffAugment (Zhao et al. 2020): comma-separated differentiable augmentations applied to real
    # and fake images alike, in D's and G's phases: color, translation, cutout. "" = off.
    policy: str = ""
    # ADA (Karras et al. 2020, objectives/ada.py): the r_t = E[sign(D(real))] that p is tuned towards;
    # 0.6 is the paper's value; null = off (a big dataset does not need it).
    ada_target: float | None = None
    # D updates between two adjustments of p (the paper's 4: r_t averages over them).
    ada_interval: int = 4
    # Thousands of images over which p can go from 0 to 1 (the paper's 500: slow enough to track D).
    ada_kimg: float = 500.0


@dataclass
class EmaConfig:
    """The ``ema`` section: whether G keeps a moving average and how fast it forgets; turned into an
    :class:`~ganforge.training.ema.EmaSchedule` when the run is built.
    """

    # Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019), used for
    # samples, grids and evaluation: G_ema = beta * G_ema + (1 - beta) * G after each step's G update.
    # Say how fast it forgets with half_life_images or with beta, never both; both null = off (the
    # 2014 paper kept none). "Images" are steps x train.batch_size (the global batch, all processes).
    # The half-life in images: after this many an old weight's share has halved, so beta per step is
    # 0.5 ** (batch / half_life_images) and the average means the same at any batch size
    # (stylegan2-ada's ema_kimg; its default is 10,000 images per 32 of batch, 500k for CIFAR-10).
    half_life_images: int | None = None
    # With half_life_images: the half-life is min(half_life_images, rampup x images seen), so early on
    # the average follows G instead of holding on to the random init (ada's ema_rampup, 0.05 where it
    # uses one); null = the full half-life from step 0.
    rampup: float | None = None
    # A beta per step, for papers that state it so (ProGAN's 0.999, BigGAN's 0.9999): at a larger
    # batch the same beta averages over more images (half-life = batch x ln 0.5 / ln beta images).
    beta: float | None = None
    # Steps (G updates) before averaging starts; until then G_ema copies G (BigGAN-PyTorch's
    # ema_start). 0: from the first step.
    start: int = 0


@dataclass
class OptimConfig:
    """One network's optimiser and its learning-rate and momentum schedule; read by
    :func:`~ganforge.training.schedules.make_optimizer` and :class:`~ganforge.training.schedules.OptimSchedule`.
    """

    # "sgd" (with momentum), "adam" or "rmsprop".
    name: str = "sgd"
    # Initial learning rate (0.1 in the 2014 MNIST setup).
    lr: float = 0.1
    # SGD momentum at the start (0.5 in the paper).
    momentum: float = 0.5
    # Adam's (beta1, beta2); unused by SGD.
    betas: tuple[float, float] = (0.5, 0.999)
    # L2 weight decay.
    weight_decay: float = 0.0
    # The learning rate is divided by this after every update of this network (pylearn2 ExponentialDecay,
    # per update as the 2014 paper sets it: D takes train.d_steps updates a step); 1 = constant.
    lr_decay: float = 1.000004
    # Floor of the decayed learning rate.
    lr_min: float = 1e-6
    # Momentum rises linearly to this, from epoch 1 to momentum_ramp_epochs (pylearn2
    # MomentumAdjustor); None keeps it constant.
    momentum_final: float | None = 0.7
    # Epoch at which momentum reaches momentum_final.
    momentum_ramp_epochs: int = 250
    # pix2pix/CycleGAN's reference schedule: the learning rate stays constant for this many updates of
    # this network, then falls linearly to 0 over linear_decay_steps more (the papers: 100 epochs + 100
    # epochs, at batch 1 and one D update a step). null = off (then lr_decay applies).
    linear_decay_start: int | None = None
    # Updates of this network (= steps for G; train.d_steps per step for D) over which the linear decay
    # takes the learning rate from lr to 0.
    linear_decay_steps: int = 1


@dataclass
class OptimPair:
    """The ``optim`` section: G's and D's :class:`OptimConfig`; each recipe says which of its networks takes
    which (an encoder takes G's, CycleGAN's two Gs and two Ds share them).
    """

    g: OptimConfig = field(default_factory=OptimConfig)
    d: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class TrainConfig:
    """The ``train`` section: how long a run trains, its global batch, D updates per step and the device;
    read by the training loop, the recipes and the build.
    """

    # Training length in iterations; one iteration = d_steps D updates then one G update.
    steps: int = 10_000
    # Minibatch size for real and generated samples (100 in the paper), across all processes under
    # torchrun. Schedules stated in images (ema.half_life_images, growth.*_images) count steps x this.
    batch_size: int = 100
    # k in Algorithm 1: discriminator updates per generator update (the paper used 1).
    d_steps: int = 1
    # "auto" picks CUDA when present, else the CPU; or any torch device string.
    # Under torchrun each process takes the GPU of its LOCAL_RANK.
    device: str = "auto"
    # Under torchrun (DDP): replace G's and D's BatchNorm by SyncBatchNorm, so batch statistics are
    # taken over the global batch rather than each process's share (CUDA only; costs a sync per BN layer).
    sync_batchnorm: bool = False


@dataclass
class RunConfig:
    """A whole run's configuration, one field per section; ``RunConfig()`` is the runnable default (the 2014
    paper on ``digits``), and :meth:`to_dict` / :meth:`to_yaml` give the form saved as the run's config.yaml.
    """

    # Fixes data order, initialisation, noise and dropout: the same seed gives the same run.
    seed: int = 0
    # What kind of model the run is (ganforge.recipes): which networks it has, its phases and what
    # sampling means. noise-to-image is G(z) against D(x); `ganforge presets` shows each preset's.
    recipe: str = "noise-to-image"
    # Auto configuration (config/auto.py): batch, widths, R1 gamma, EMA half-life and mapping depth picked
    # from the resolution and the device count for a dcgan or stylegan2 run, as stylegan2-ada's cfg=auto;
    # a --set of one of those keys wins. Off by default: a preset's numbers are its paper's.
    auto: bool = False
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimPair = field(default_factory=OptimPair)
    train: TrainConfig = field(default_factory=TrainConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    growth: GrowthConfig = field(default_factory=GrowthConfig)
    # The sections read by one family of recipes each (config/recipe_sections.py).
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    superres: SuperresConfig = field(default_factory=SuperresConfig)
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    dp: DpConfig = field(default_factory=DpConfig)
    semi: SemiSupervisedConfig = field(default_factory=SemiSupervisedConfig)
    tabular: TabularConfig = field(default_factory=TabularConfig)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, NetSpec):
        return {"arch": obj.arch, **{k: _to_plain(v) for k, v in obj.options.items()}}
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj


__all__ = ["AnomalyConfig", "AugmentConfig", "DataConfig", "DpConfig", "EmaConfig", "EvalConfig", "GrowthConfig",
           "GuardConfig", "LogConfig", "LossConfig", "ModelConfig", "NetSpec", "OptimConfig", "OptimPair",
           "RegConfig", "RunConfig", "SemiSupervisedConfig", "SpeedConfig", "SuperresConfig", "TrainConfig",
           "TranslationConfig"]
