"""The run configuration: typed, every default written once, unknown keys rejected.

A run is resolved in three layers, each only stating what differs from the one
below: the defaults in the dataclasses here (the 2014 paper's hyperparameters,
with the embedded ``digits`` data), a preset YAML (which may ``extends:``
another preset), then ``--set key=value`` overrides. The result is a
:class:`RunConfig` that is saved as ``config.yaml`` in the run directory.

Network options are free-form in YAML (``model.g: {arch: mlp, hidden: [..]}``)
but validated here against the builder's signature, so a misspelt option fails
before any training starts.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml

from ganforge.errors import ConfigError, did_you_mean


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``2e-4`` as a string (it wants ``2.0e-4``); here it is a float, as users mean it."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$|^[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$|"""
               r"""^[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"""),
    list("-+0123456789."),
)


def load_yaml(text: str):
    """Parse YAML text the way config files and ``--set`` values are read."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


@dataclass
class DataConfig:
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


@dataclass
class NetSpec:
    """An architecture name plus its builder's keyword options (validated by nets.registry)."""

    arch: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        """Whether the network's realness (or sample) depends on class labels."""
        return self.options.get("conditioning", "none") not in (None, "none")


@dataclass
class ModelConfig:
    # Dimensionality of the generator's input noise (100 in the 2014 paper).
    z_dim: int = 100
    # "uniform": U[-sqrt(3), sqrt(3)] per dimension (unit variance, the paper's code);
    # "normal": N(0, 1).
    z_dist: str = "uniform"
    # Generator: the 2014 MLP (ReLU 1200-1200, sigmoid output) unless a preset says otherwise.
    g: NetSpec = field(default_factory=lambda: NetSpec("mlp"))
    # Discriminator: the 2014 maxout MLP (240x5, 240x5, dropout) unless a preset says otherwise.
    d: NetSpec = field(default_factory=lambda: NetSpec("maxout"))


@dataclass
class LossConfig:
    # Discriminator objective: "minimax" maximises log D(x) + log(1 - D(G(z))).
    d: str = "minimax"
    # Generator objective: "non-saturating" minimises -log D(G(z)) (the paper code's choice);
    # "minimax" minimises log(1 - D(G(z))) as in the paper's equation.
    g: str = "non-saturating"
    # One-sided label smoothing (Salimans et al. 2016): D's target for real samples; 0.9 smooths,
    # 1.0 is off. Fake targets stay 0. Only the minimax and least-squares D losses have targets.
    real_label: float = 1.0


@dataclass
class RegConfig:
    # WGAN-GP (Gulrajani et al. 2017): weight of (||grad D(x_hat)|| - 1)^2 at random real/fake
    # interpolates; 10 in the paper, 0 = off.
    gp: float = 0.0
    # R1 (Mescheder et al. 2018): weight gamma of gamma/2 * ||grad D(x)||^2 on real data; 0 = off.
    r1: float = 0.0
    # Lazy R1 (StyleGAN2): apply it every N steps, scaled by N, in its own D phase.
    r1_every: int = 1
    # WGAN weight clipping (Arjovsky et al. 2017): D's parameters clamped to [-c, c] after each
    # update; 0.01 in the paper; null = off.
    clip: float | None = None
    # BigGAN's orthogonal regularisation of G: beta * ||W W^T * (1 - I)||_F^2 summed over G's
    # weight matrices; 1e-4 in the paper; 0 = off.
    ortho: float = 0.0
    # Feature matching (Salimans et al. 2016): weight of ||mean f(x) - mean f(G(z))||^2 on D's
    # penultimate features, added to G's loss; 0 = off.
    feature_matching: float = 0.0
    # Historical averaging (Salimans et al. 2016): weight of ||theta - running mean of theta||^2,
    # for both networks; 0 = off.
    historical: float = 0.0
    # Instance noise (Sonderby et al. 2016): std of Gaussian noise added to every input of D (real
    # and fake), annealed linearly to 0 over instance_noise_steps; 0 = off.
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


@dataclass
class AugmentConfig:
    # DiffAugment (Zhao et al. 2020): comma-separated differentiable augmentations applied to real
    # and fake images alike, in D's and G's phases: color, translation, cutout. "" = off.
    policy: str = ""


@dataclass
class EmaConfig:
    # Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019), used for
    # samples, grids and evaluation: G_ema = beta * G_ema + (1 - beta) * G after each G update.
    # e.g. 0.999; null = off.
    beta: float | None = None
    # Steps before averaging starts; until then G_ema simply copies G.
    start: int = 0


@dataclass
class OptimConfig:
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
    # The learning rate is divided by this after every update (pylearn2 ExponentialDecay); 1 = constant.
    lr_decay: float = 1.000004
    # Floor of the decayed learning rate.
    lr_min: float = 1e-6
    # Momentum rises linearly to this, from epoch 1 to momentum_ramp_epochs (pylearn2
    # MomentumAdjustor); None keeps it constant.
    momentum_final: float | None = 0.7
    # Epoch at which momentum reaches momentum_final.
    momentum_ramp_epochs: int = 250


@dataclass
class OptimPair:
    g: OptimConfig = field(default_factory=OptimConfig)
    d: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class TrainConfig:
    # Training length in iterations; one iteration = d_steps D updates then one G update.
    steps: int = 10_000
    # Minibatch size for real and generated samples (100 in the paper).
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
class SpeedConfig:
    """How fast a step runs, never what it computes (bf16 changes only its rounding).

    "auto" turns a switch on where it pays: on a CUDA GPU. On the CPU every switch can be
    forced on, which is how the tests check each one against the plain path.
    """

    # Matrix precision inside G and D: "fp32", or "bf16" autocast (weights, optimiser state and
    # losses stay fp32). auto: bf16 on a CUDA GPU that supports it, fp32 elsewhere (CPU bf16 is slow).
    precision: str = "auto"
    # channels_last memory layout for image nets and batches (what tensor-core convolutions read).
    # auto: on for image data on CUDA.
    channels_last: bool | str = "auto"
    # Optimiser kernels: "fused" (one kernel for all parameters, Adam and SGD), "foreach" (batched
    # ops), or "for-loop" (one parameter at a time, the reference). auto: fused on CUDA where the
    # optimiser has it, else foreach on CUDA, for-loop on the CPU.
    optimizer: str = "auto"
    # torch.compile G's forward and D's features/head: false, or a mode: "default", "reduce-overhead"
    # (adds CUDA graphs) or "max-autotune". Off by default: compiling costs a minute at start-up and
    # has not been measured against eager on a GPU here. If compiling fails, training goes on eagerly.
    compile: bool | str = False
    # TF32 matmuls/convolutions for fp32 work on Ampere+ GPUs. auto: on for CUDA.
    tf32: bool | str = "auto"
    # cudnn.benchmark: time the convolution algorithms once per shape and keep the fastest. auto: on for CUDA.
    cudnn_benchmark: bool | str = "auto"


@dataclass
class LogConfig:
    # Losses and D outputs go to stats.jsonl, TensorBoard and the progress bar every N steps
    # (values are gathered from the device only then, so the hot loop never waits on it).
    every: int = 100
    # A sample grid from a fixed z is written every N steps (and at the end).
    sample_every: int = 1000
    # Samples in each grid (a square number fills the grid).
    sample_count: int = 100
    # A checkpoint is written every N steps (and at the end).
    checkpoint_every: int = 1000
    # Older checkpoints beyond this many are deleted.
    keep_checkpoints: int = 3
    # Write TensorBoard event files under tb/.
    tensorboard: bool = True
    # Show a progress bar (also off automatically when stderr is not a terminal).
    progress: bool = True


@dataclass
class EvalConfig:
    # Evaluate during training every N steps: metrics go to stats.jsonl and TensorBoard, and the
    # checkpoint that scores best on the first metric is kept in checkpoints/best. 0 = off.
    every: int = 0
    # Metric names or families, e.g. [fid, pr] or [modes2500_3std]; empty = the dataset's defaults
    # (see `ganforge eval --list-metrics`).
    metrics: list[str] = field(default_factory=list)
    # Samples per evaluation for metrics whose name gives no count; null = each protocol's default.
    n: int | None = None


@dataclass
class GuardConfig:
    # What happens when a loss or weight becomes NaN/inf, or the collapse signal below fires:
    # "stop" ends the run with a message (the last good checkpoint stays); "rollback" reloads the
    # last good checkpoint and retries with the changes below.
    action: str = "stop"
    # With rollback: retries before the run stops for good.
    max_retries: int = 3
    # With rollback: both learning rates are multiplied by this at each retry (1 = unchanged).
    lr_factor: float = 0.5
    # With rollback: draw new noise and dropout streams at each retry, so the retry differs.
    reseed: bool = True
    # Collapse signal: fires when mean D(G(z)) < collapse_d_fake and the D loss < collapse_d_loss
    # over collapse_steps consecutive steps (checked at log intervals). null disables it: a
    # healthy run can pass through such phases, so the threshold is the user's call.
    collapse_d_fake: float | None = None
    collapse_d_loss: float = 0.05
    collapse_steps: int = 2000


@dataclass
class RunConfig:
    # Fixes data order, initialisation, noise and dropout: the same seed gives the same run.
    seed: int = 0
    # What kind of model the run is (ganforge.recipes): which networks it has, its phases and what
    # sampling means. Every preset so far is a noise-to-image GAN, G(z) against D(x).
    recipe: str = "noise-to-image"
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

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------------------
# dict <-> dataclass


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


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against annotation ``tp``; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path} must be a list, got {value!r}; write it as [a, b]")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{path} must have {len(args)} items, got {len(value)}: {value!r}")
            return tuple(_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        out = [_coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported type {_type_name(tp)}")


def _build(cls: type, raw: Any, path: str) -> Any:
    if cls is NetSpec:
        if not isinstance(raw, dict) or "arch" not in raw:
            raise ConfigError(f"{path} must be a mapping with an 'arch' key, e.g. {{arch: mlp}}")
        options = {k: v for k, v in raw.items() if k != "arch"}
        return NetSpec(arch=_coerce(raw["arch"], str, f"{path}.arch"), options=options)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'config'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            where = f"{path}.{key}" if path else key
            raise ConfigError(f"unknown config key '{where}'{did_you_mean(key, names)}; "
                              f"valid keys here: {', '.join(names)}")
    kwargs = {}
    for name in names:
        if name not in raw:
            continue
        sub = f"{path}.{name}" if path else name
        tp = hints[name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, raw[name], sub)
        else:
            kwargs[name] = _coerce(raw[name], tp, sub)
    return cls(**kwargs)


def _merge(base: dict, update: dict) -> dict:
    """Recursive dict merge; a net spec whose ``arch`` changes is replaced whole,
    so options of the old architecture never leak into the new one."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            if "arch" in value and value["arch"] != out[key].get("arch"):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=4e-4"`` -> (["train", "lr"], 0.0004); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value, e.g. train.steps=2000")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{text}' has no key; write it as key=value")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def _nest(keys: list[str], value: Any) -> dict:
    out: Any = value
    for key in reversed(keys):
        out = {key: out}
    return out


def resolve(preset: dict | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Defaults <- preset dict <- ``key=value`` overrides, validated into a RunConfig."""
    raw = RunConfig().to_dict()
    if preset:
        raw = _merge(raw, preset)
    for text in overrides:
        keys, value = parse_override(text)
        raw = _merge(raw, _nest(keys, value))
    cfg = from_dict(raw)
    return cfg


def from_dict(raw: dict) -> RunConfig:
    """Build and fully validate a RunConfig (keys, types, ranges, net options)."""
    cfg = _build(RunConfig, raw, "")
    validate(cfg)
    return cfg


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def validate(cfg: RunConfig) -> None:
    """Range and choice checks that types alone cannot express."""
    from ganforge.nets import registry
    from ganforge.objectives import losses

    t, lg = cfg.train, cfg.log
    _check(t.steps >= 0, f"train.steps must be >= 0, got {t.steps}")
    _check(t.batch_size >= 1, f"train.batch_size must be >= 1, got {t.batch_size}")
    _check(t.d_steps >= 1, f"train.d_steps must be >= 1, got {t.d_steps}")
    for name in ("every", "sample_every", "checkpoint_every", "sample_count", "keep_checkpoints"):
        value = getattr(lg, name)
        _check(value >= 1, f"log.{name} must be >= 1, got {value}")
    _check(cfg.eval.every >= 0, f"eval.every must be >= 0 (0 = off), got {cfg.eval.every}")
    if cfg.eval.n is not None:
        _check(cfg.eval.n >= 2, f"eval.n must be >= 2 or null, got {cfg.eval.n}")
    r = cfg.reg
    for name in ("gp", "r1", "ortho", "feature_matching", "historical", "instance_noise", "aux_weight"):
        _check(getattr(r, name) >= 0, f"reg.{name} must be >= 0, got {getattr(r, name)}")
    _check(r.r1_every >= 1, f"reg.r1_every must be >= 1, got {r.r1_every}")
    _check(r.instance_noise_steps >= 1, f"reg.instance_noise_steps must be >= 1, got {r.instance_noise_steps}")
    if r.clip is not None:
        _check(r.clip > 0, f"reg.clip must be > 0 or null, got {r.clip}")
    _check(0 < cfg.loss.real_label <= 1, f"loss.real_label must be in (0, 1], got {cfg.loss.real_label}")
    _check(cfg.loss.real_label == 1.0 or cfg.loss.d in ("minimax", "least-squares"),
           f"loss.real_label (label smoothing) needs a loss with targets (minimax or least-squares), "
           f"not '{cfg.loss.d}'; set loss.real_label=1.0")
    from ganforge.objectives import augment

    augment.parse_policy(cfg.augment.policy)
    if cfg.ema.beta is not None:
        _check(0 < cfg.ema.beta < 1, f"ema.beta must be in (0, 1) or null, got {cfg.ema.beta}")
    _check(cfg.ema.start >= 0, f"ema.start must be >= 0, got {cfg.ema.start}")
    g = cfg.guard
    _check(g.action in ("stop", "rollback"), f"guard.action must be stop or rollback, got '{g.action}'")
    _check(g.max_retries >= 0, f"guard.max_retries must be >= 0, got {g.max_retries}")
    _check(0 < g.lr_factor <= 1, f"guard.lr_factor must be in (0, 1], got {g.lr_factor}")
    _check(g.collapse_steps >= 1, f"guard.collapse_steps must be >= 1, got {g.collapse_steps}")
    _check(cfg.model.z_dim >= 1, f"model.z_dim must be >= 1, got {cfg.model.z_dim}")
    z_dists = ("uniform", "normal")
    _check(cfg.model.z_dist in z_dists,
           f"model.z_dist must be one of {', '.join(z_dists)}, got '{cfg.model.z_dist}'"
           f"{did_you_mean(cfg.model.z_dist, z_dists)}")
    for role, names in (("d", losses.D_LOSSES), ("g", losses.G_LOSSES)):
        value = getattr(cfg.loss, role)
        _check(value in names, f"loss.{role} '{value}' is not a known loss{did_you_mean(value, names)}; "
                               f"choose one of {', '.join(sorted(names))}")
    for role in ("g", "d"):
        o: OptimConfig = getattr(cfg.optim, role)
        opts = ("sgd", "adam", "rmsprop")
        _check(o.name in opts, f"optim.{role}.name must be one of {', '.join(opts)}, got '{o.name}'"
                               f"{did_you_mean(o.name, opts)}")
        _check(o.lr > 0, f"optim.{role}.lr must be > 0, got {o.lr}")
        _check(o.lr_decay >= 1.0, f"optim.{role}.lr_decay must be >= 1 (1 = constant), got {o.lr_decay}")
        _check(0 <= o.momentum < 1, f"optim.{role}.momentum must be in [0, 1), got {o.momentum}")
        _check(o.momentum_ramp_epochs >= 2,
               f"optim.{role}.momentum_ramp_epochs must be >= 2, got {o.momentum_ramp_epochs}")
    if cfg.data.channels is not None:
        _check(cfg.data.channels in (1, 3), f"data.channels must be 1, 3 or null, got {cfg.data.channels}")
    if cfg.data.resolution is not None:
        _check(cfg.data.resolution >= 1, f"data.resolution must be >= 1, got {cfg.data.resolution}")
    sp = cfg.speed
    _check(sp.precision in ("auto", "fp32", "bf16"),
           f"speed.precision must be auto, fp32 or bf16, got '{sp.precision}'{did_you_mean(sp.precision, ('bf16', 'fp32'))}")
    impls = ("auto", "fused", "foreach", "for-loop")
    _check(sp.optimizer in impls, f"speed.optimizer must be one of {', '.join(impls)}, got '{sp.optimizer}'"
                                  f"{did_you_mean(sp.optimizer, impls)}")
    modes = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
    _check(sp.compile in (True, False) or sp.compile in modes,
           f"speed.compile must be true, false or a torch.compile mode ({', '.join(modes)}), got {sp.compile!r}")
    for name in ("channels_last", "tf32", "cudnn_benchmark"):
        value = getattr(sp, name)
        _check(value in (True, False, "auto"), f"speed.{name} must be true, false or auto, got {value!r}")
    registry.check_spec("generator", cfg.model.g, "model.g")
    registry.check_spec("discriminator", cfg.model.d, "model.d")


def diff(a: RunConfig, b: RunConfig) -> list[str]:
    """Human-readable differences between two configs, as 'key: old -> new' lines."""
    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                walk(x.get(key), y.get(key), f"{path}.{key}" if path else key)
        elif x != y:
            out.append(f"{path}: {x!r} -> {y!r}")

    walk(a.to_dict(), b.to_dict(), "")
    return out
