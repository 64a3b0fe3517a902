"""What the two translation recipes share: domains, D's patch logits, the trained model that translates,
sheets.

A translation run's data is a two-domain :class:`~ganforge.data.Dataset`: ``x`` is domain A
and ``b.x`` domain B, with ``paired`` saying whether ``b.x[i]`` is the target of ``x[i]``.
The trained model translates uint8 (N, C, H, W) images A -> B (and B -> A where the recipe
has that generator); "sampling" a translation run means translating held-out inputs, and its
picture is an input | output | target sheet. Class labels mean nothing to it, so
``sample --class`` is a one-line error.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import objectives
from ganforge.config import RunConfig
from ganforge.data import Dataset, load_dataset
from ganforge.errors import ConfigError, DataError, GanforgeError, note, warn
from ganforge.memory import MEMORY_SHARE, available_memory, human_bytes
from ganforge.nets import NetContext
from ganforge.objectives.translation import patch_logits
from ganforge.recipes.base import Recipe
from ganforge import capabilities as cap
from ganforge.sampling import from_uint8, to_uint8
from ganforge.figures.drawing import save_image_grid
from ganforge.training.phases import StepContext

SHEET_ITEMS = 16  # input | output | target triples on a sheet
RANGE = (-1.0, 1.0)  # the translators' tanh output; inputs are scaled to it too
# What measures a translation run (Recipe.eval_command): its test split translated and scored against the truth.
EVAL_COMMAND = "ganforge translate {run} --eval"
# What a user runs next on a finished translation run (Recipe.next_command).
NEXT_COMMAND = "ganforge translate {run} --input X.npy|IMAGE|DIR --out OUT   (or --eval to score its test split)"


def domains(data: Dataset, recipe: str, *, need_pairs: bool) -> tuple[Dataset, Dataset]:
    """(A, B) of a two-domain dataset, or one line saying what the recipe needs."""
    b = getattr(data, "b", None)
    if b is None:
        raise ConfigError(f"recipe {recipe} needs a two-domain dataset, and '{data.name}' has one domain; use "
                          f"pairs:A_DIR,B_DIR, unpaired:A_DIR,B_DIR, an npz with a/b arrays, or a built-in task "
                          f"(mnist-edges, mnist-inverted, mnist-thick, cifar10-jpeg-colour)")
    if data.kind != "image" or b.kind != "image":
        raise ConfigError(f"recipe {recipe} translates images; '{data.name}' holds {data.kind}")
    if need_pairs and not data.paired:
        raise ConfigError(f"recipe {recipe} (pix2pix) needs paired data, and '{data.name}' is unpaired; "
                          f"use recipe cycle-translation, or give pairs:A_DIR,B_DIR")
    if data.shape[1:] != b.shape[1:]:
        raise DataError(f"domains A and B of '{data.name}' differ in size ({data.shape[1]}x{data.shape[2]} and "
                        f"{b.shape[1]}x{b.shape[2]}); resize both to one size (data.resolution)")
    return data, b


def record_for(data: Dataset, b: Dataset) -> dict[str, Any]:
    return {"data_shape": list(data.shape), "b_shape": list(b.shape), "kind": "image", "num_classes": None,
            "paired": bool(data.paired)}


def image_context(shape: list[int] | tuple[int, ...]) -> NetContext:
    """A translator's context: an image in (z_dim 0 tells the registry it takes no noise)."""
    return NetContext(data_shape=tuple(shape), z_dim=0, kind="image")


def with_out_channels(spec: Any, channels: int) -> Any:
    """The G spec with ``out_channels`` set to the target domain's, unless the config names it."""
    options = dict(spec.options)
    options.setdefault("out_channels", channels)
    return type(spec)(spec.arch, options)


class PatchForward(nn.Module):
    """D's patch logits as one ``forward``, so DDP sees the pass it averages gradients for."""

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return patch_logits(self.D, x)


def d_patches(ctx: StepContext, name: str, x: torch.Tensor) -> list[torch.Tensor]:
    """Network ``name``'s patch logits, through its DDP wrapper while it is the one being updated."""
    if ctx.training == name and name in ctx.ddp:
        return [p.float() for p in ctx.ddp[name](x)]
    return patch_logits(ctx.nets[name], x)


# Until round 21 `least-squares` meant nn.MSELoss (no 1/2) in the translation recipes only; it now means the
# LSGAN paper's form in every recipe, and the reference criterion is `mse`. A config written then (a run's own
# config.yaml, a user's file) names least-squares and would train on the halved G term without a word.
LSGAN = "least-squares"
LSGAN_CHANGED = ("{recipe}: loss least-squares is the LSGAN paper's form, with its 1/2 factors, as in every recipe; "
                 "before round 21 it meant the pix2pix/CycleGAN reference's nn.MSELoss here, now named mse (the "
                 "cyclegan presets' loss: its cycle and identity weights are set against it); set loss.d=mse "
                 "loss.g=mse for that")


class TranslationRecipe(Recipe):
    """What pix2pix and CycleGAN share in building: the loss refused before anything is built, the two
    domains checked, the networks made from the record (``rebuild``, also used to load a checkpoint),
    and what D is said on stderr. A subclass says whether its domains are paired, adds its own checks
    of them (``check_domains``) and builds its networks (``rebuild``)."""

    paired: bool = True  # image i of domain B is the target of image i of domain A
    shown_d = "D"  # the discriminator described on stderr (and whose receptive field is recorded) ...
    d_label = "D"  # ... and how the message names it
    next_command = NEXT_COMMAND
    eval_command = EVAL_COMMAND

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        objectives.g_loss_without_real(cfg.loss.g, self.name)  # refused before anything is built or printed
        if LSGAN in (cfg.loss.d, cfg.loss.g):
            warn(LSGAN_CHANGED.format(recipe=self.name))
        a, b = domains(data, self.name, need_pairs=self.paired)
        self.check_domains(cfg, data, a, b)
        record = record_for(a, b)
        nets = self.rebuild(cfg, record)
        if self.shown_d in nets:
            note_d(self.name, record, nets[self.shown_d], which=self.d_label)
        return nets, record

    def check_domains(self, cfg: RunConfig, data: Dataset, a: Dataset, b: Dataset) -> None:
        """Refuse a pair of domains this recipe cannot train on (nothing by default)."""

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        raise NotImplementedError


def note_d(recipe: str, record: dict[str, Any], D: nn.Module, which: str = "D") -> None:
    """Record D's receptive field (None: one logit per image) and say on stderr what D is."""
    field = getattr(D, "receptive_field", None)
    record["d_receptive_field"] = field
    scales = len(getattr(D, "scales", [])) or 1
    what = (f"{type(D).__name__}, one logit per image" if field is None else
            f"{type(D).__name__}, {scales} scale(s), receptive field {field}x{field} px per patch logit")
    print(f"{recipe}: {which}: {what}", file=sys.stderr, flush=True)


def scale(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in (-1, 1)."""
    return from_uint8(x, RANGE)


@contextlib.contextmanager
def test_mode(G: nn.Module, mode: str, seed: int) -> Iterator[None]:
    """G as ``translation.test_mode`` says: eval (running statistics, no dropout) or train (batch
    statistics, dropout on, seeded), leaving every weight and running statistic as it was."""
    was = G.training
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
             for m in norms]
    G.train(mode == "train")
    for m in norms:
        m.momentum = 0.0  # running statistics stay what training left
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            yield
        finally:
            G.train(was)
            for m, (momentum, tracked) in zip(norms, saved):
                m.momentum = momentum
                if tracked is not None:
                    m.num_batches_tracked.copy_(tracked)


def check_images(x: np.ndarray, channels: int, what: str) -> np.ndarray:
    """The model's input check: uint8 (N, C, H, W) with the channels the run was trained on."""
    shape = getattr(x, "shape", None)
    got = f"got {getattr(x, 'dtype', type(x).__name__)} {tuple(shape) if shape is not None else ''}".rstrip()
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8:
        raise DataError(f"{what} must be uint8 images (N, C, H, W), {got}; convert them to uint8 first")
    if x.ndim != 4:  # the fix for a uint8 array of the wrong rank is its axes, not its type
        fix = ("add the channel axis, e.g. x[:, None] for grey images" if x.ndim == 3 else
               "stack the images into one array of shape (N, C, H, W)")
        raise DataError(f"{what} must be uint8 images (N, C, H, W), {got}: {x.ndim} dimensions, not 4; {fix}")
    if x.shape[1] != channels:
        kind = {1: "grey", 3: "RGB"}
        raise DataError(f"{what} has {x.shape[1]} channel(s) ({kind.get(x.shape[1], '?')}) but this model takes "
                        f"{channels} ({kind.get(channels, '?')}); convert the images to {kind.get(channels, channels)}"
                        f" first")
    return x


# Peak memory of translating one image under no_grad, as a multiple of the generator's largest single activation
# (one layer's output, probed at the run's own size and scaled by pixels). Measured on the CPU (peak RSS growth of
# one forward pass) with the default nets: unet 5.0x at 1024x1024 and 4.1x at 2048x2048, resnet-translator 3.4x at
# both; 5 bounds both
ACTIVATION_COPIES = 5


def translation_bytes(per_pixel: float, h: int, w: int) -> int:
    """About how many bytes translating one ``h`` x ``w`` image holds at its peak, for a generator whose largest
    layer outputs ``per_pixel`` values per input pixel (:func:`largest_activation_per_pixel`): float32 values,
    times the pixels, times :data:`ACTIVATION_COPIES`."""
    return int(ACTIVATION_COPIES * 4 * per_pixel * h * w)


def largest_activation_per_pixel(G: nn.Module, probe: tuple[int, int, int]) -> float:
    """The most values one layer of ``G`` outputs, per input pixel, on a zero image of shape ``probe`` (the run's
    own size, which the net always takes)."""
    largest = [0]

    def record(module, inputs, output):
        if isinstance(output, torch.Tensor):
            largest[0] = max(largest[0], output.numel())

    leaves = [m for m in G.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    was_training = G.training
    try:
        G.eval()
        device = next((p.device for p in G.parameters()), torch.device("cpu"))
        with torch.no_grad():
            G(torch.zeros(1, *probe, device=device))
    finally:
        for hook in hooks:
            hook.remove()
        G.train(was_training)
    return largest[0] / (probe[1] * probe[2])


def _available(device: str | torch.device) -> int | None:
    """Bytes free where the translation runs: the GPU's free memory, or the host's."""
    device = torch.device(device)
    if device.type == "cuda":  # free on the device, plus what torch's allocator holds cached but unused
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(torch.cuda.mem_get_info(device)[0] + cached)
    return available_memory()


@dataclass
class TranslationModel:
    """A trained translator: ``translate`` maps uint8 images between the domains."""

    cfg: RunConfig
    record: dict[str, Any]
    nets: dict[str, nn.Module]
    directions: dict[str, str]  # "AB" -> network name (and "BA" when the recipe has it)
    capabilities = frozenset({cap.TRANSLATE})  # sample_chunks translates held-out inputs: nothing from noise
    _heldout: dict[str | None, Dataset] = field(default_factory=dict, init=False, repr=False)  # by data_dir
    _per_pixel: dict[str, float] = field(default_factory=dict, init=False, repr=False)  # by direction, probed once

    @property
    def generator(self) -> nn.Module:
        return self.nets[self.directions["AB"]]

    def input_channels(self, direction: str) -> int:
        return (self.record["data_shape"] if direction == "AB" else self.record["b_shape"])[0]

    @torch.no_grad()
    def translate(self, x: np.ndarray, direction: str = "AB", *, seed: int = 0, batch_size: int = 256,
                  device: str | torch.device = "cpu") -> np.ndarray:
        """uint8 (N, C, H, W) images of the source domain -> uint8 images of the other."""
        if direction not in self.directions:
            raise GanforgeError(f"this run translates {' and '.join(self.directions)} only, not {direction}; "
                                f"a paired (pix2pix) run has no B -> A generator")
        x = check_images(x, self.input_channels(direction), "the input")
        G = self.nets[self.directions[direction]]
        batch_size = self._images_that_fit(G, direction, x.shape[2], x.shape[3], batch_size, device)
        out = []
        with test_mode(G, self.cfg.translation.test_mode, seed):
            for start in range(0, len(x), batch_size):
                chunk = np.array(x[start:start + batch_size])  # a copy: the input may be read-only
                chunk = scale(torch.from_numpy(chunk).to(device))
                out.append(to_uint8(G(chunk), RANGE).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0,), np.uint8)

    def _images_that_fit(self, G: nn.Module, direction: str, h: int, w: int, batch_size: int,
                         device: str | torch.device) -> int:
        """How many ``h`` x ``w`` images one forward pass may take (at most ``batch_size``) within
        :data:`MEMORY_SHARE` of the memory free where it runs; one line, before any work, when not even one
        fits (a 6000x6000 photo through a 64-channel translator needs tens of GB, and the process was killed)."""
        available = _available(device)
        if available is None:
            return batch_size
        if direction not in self._per_pixel:
            probe = tuple(self.record["data_shape"] if direction == "AB" else self.record["b_shape"])
            self._per_pixel[direction] = largest_activation_per_pixel(G, probe)
        need = translation_bytes(self._per_pixel[direction], h, w)
        budget = available * MEMORY_SHARE
        if need > budget:
            halvings = 0
            while need / 4 ** halvings > budget:
                halvings += 1
            raise DataError(f"{w}x{h} images need about {human_bytes(need)} of memory each to translate, and "
                            f"{human_bytes(available)} is free; resize the input to about {w >> halvings}x"
                            f"{h >> halvings} (a side halved {halvings} time(s)), or translate on a machine with "
                            f"more memory")
        return max(1, min(batch_size, int(budget // max(need, 1))))

    def heldout(self, data_dir: str | None = None) -> Dataset:
        """The data ``sample`` translates: the test split where the dataset has one, else the run's own
        training split, with one ``ganforge: note:`` saying so (training inputs flatter the model). Loaded
        once per model: ``sample`` reads it for the samples and again for the sheet."""
        if data_dir not in self._heldout:
            name = self.cfg.data.name
            try:
                self._heldout[data_dir] = load_dataset(name, split="test", data_dir=data_dir, size=None)
            except DataError:
                self._heldout[data_dir] = load_dataset(name, split=self.cfg.data.split, data_dir=data_dir,
                                                       seed=self.cfg.seed, size=self.cfg.data.size)
                note(f"'{name}' has no test split: the inputs translated are the run's own training inputs "
                     f"(split {self.cfg.data.split}), which flatter the model; for held-out inputs use "
                     f"ganforge translate RUN --input IMAGES --out OUT")
        return self._heldout[data_dir]

    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu", classes: Any = None,
                      truncation: Any = None, batch_size: int = 256
                      ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """The first ``n`` held-out inputs translated A -> B (no labels: nothing was generated for a class)."""
        if classes is not None or truncation is not None:
            flag = "--class" if classes is not None else "--truncation"
            raise GanforgeError(f"{flag} does not apply to a translation run (it translates inputs, it does not draw "
                                f"classes from noise); drop {flag}, or use `ganforge translate RUN --input ...`")
        data = self.heldout()
        if n > len(data):
            raise GanforgeError(f"--n {n} is more than the {len(data)} held-out inputs of '{data.name}'; "
                                f"use --n {len(data)} or less")
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            yield self.translate(data.x[start:stop].numpy(), seed=seed + start, device=device), None

    def save_picture(self, path: Path, *, seed: int = 0, title: str | None = None) -> Path:
        """input | output | target sheet of the first held-out inputs (target only where paired)."""
        data = self.heldout()
        k = min(SHEET_ITEMS, len(data))
        a = data.x[:k].numpy()
        target = data.b.x[:k].numpy() if getattr(data, "b", None) is not None and data.paired else None
        return save_sheet(a, self.translate(a, seed=seed), target, path, title=title)


def as_rgb(x: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(x, channels, axis=1) if x.shape[1] == 1 and channels == 3 else x


def save_sheet(inputs: np.ndarray, outputs: np.ndarray, targets: np.ndarray | None, path: Path,
               title: str | None = None, columns: int = 4, heading: str | None = None) -> Path:
    """Rows of (input, output[, target]) triples, ``columns`` triples a row, grey shown as RGB beside colour."""
    parts = [inputs, outputs] + ([targets] if targets is not None else [])
    channels = max(p.shape[1] for p in parts)
    parts = [as_rgb(p, channels) for p in parts]
    cells = np.stack(parts, 1).reshape(-1, channels, *inputs.shape[2:])
    heading = heading or "input | output" + (" | target" if targets is not None else "")
    return save_image_grid(cells, path, nrow=len(parts) * columns,
                           title=f"{title + ': ' if title else ''}{heading}")
