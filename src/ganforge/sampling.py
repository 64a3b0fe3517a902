"""Drawing from a trained generator: open a run, pick a checkpoint, sample, convert.

Images come out as uint8 (N, C, H, W) at the training resolution, 2D points as
float32 (N, D) in data coordinates: the same forms the data registry hands out,
so samples and real data go through the same metrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.nets import NetContext, build_generator
from ganforge.training import checkpoint
from ganforge.training.rundir import read_config
from ganforge.training.sampler import sample_noise


def to_uint8(x: torch.Tensor, output_range: tuple[float, float]) -> torch.Tensor:
    lo, hi = output_range
    return ((x.float() - lo) / (hi - lo)).clamp_(0, 1).mul_(255).round_().to(torch.uint8)


def to_output(x: torch.Tensor, output_range: tuple[float, float] | None) -> np.ndarray:
    """Generator output -> the data's own form (uint8 images, float32 points)."""
    if output_range is None:
        return x.detach().float().cpu().numpy().astype(np.float32)
    return to_uint8(x.detach(), output_range).cpu().numpy()


def checkpoint_path(run_dir: Path, which: str = "latest") -> Path:
    """``latest``, ``best`` or an explicit checkpoint directory."""
    root = Path(run_dir) / "checkpoints"
    if which == "latest":
        found = checkpoint.list_checkpoints(root)
        if not found:
            raise CheckpointError(f"{run_dir} has no checkpoint yet; train longer or pass --checkpoint PATH")
        return found[-1]
    if which == "best":
        best = root / "best"
        if not (best / "manifest.json").exists():
            raise CheckpointError(f"{run_dir} has no 'best' checkpoint: it is kept only when the run evaluates "
                                  f"a metric during training; use --checkpoint latest")
        return best
    path = Path(which)
    if not (path / "manifest.json").exists():
        raise CheckpointError(f"{which} is not a checkpoint directory (no manifest.json); "
                              f"use latest, best, or a path like RUN/checkpoints/step-0001000")
    return path


def load_generator(run_dir: str | Path, which: str = "latest",
                   device: str | torch.device = "cpu") -> tuple[nn.Module, RunConfig, dict]:
    """G in eval mode with the checkpoint's weights, the run's config and the checkpoint state."""
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    path = checkpoint_path(run_dir, which)
    tensors, state = checkpoint.load(path)
    net = state["net_context"]
    ctx = NetContext(data_shape=tuple(net["data_shape"]), z_dim=cfg.model.z_dim, kind=net["kind"],
                     num_classes=net["num_classes"])
    G = build_generator(cfg.model.g, ctx)
    weights = "G_ema" if "G_ema" in tensors else "G"  # the moving average samples better when it exists
    try:
        G.load_state_dict(tensors[weights])
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not fit the generator described by {run_dir}/config.yaml "
                              f"({str(e).splitlines()[0]}); was the config edited after training?") from None
    return G.to(device).eval(), cfg, state


def is_conditional(cfg: RunConfig) -> bool:
    return cfg.model.g.conditional


@torch.no_grad()
def generate(G: nn.Module, cfg: RunConfig, n: int, seed: int = 0, batch_size: int = 1000,
             device: str | torch.device = "cpu", classes: int | list[int] | None = None,
             truncation: float | None = None, num_classes: int | None = None,
             return_labels: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """``n`` samples in the data's form, reproducible from ``seed``.

    A class-conditional G draws labels uniformly unless ``classes`` names one class or a list to
    cycle through. ``truncation`` is the truncation trick (Brock et al. 2019): noise components
    beyond the threshold are redrawn, trading variety for fidelity.
    """
    if n <= 0:
        raise GanforgeError(f"the number of samples must be positive, got {n}; pass --n 1000 for example")
    conditional = is_conditional(cfg)
    if classes is not None and not conditional:
        raise GanforgeError("this run's generator is not class-conditional, so --class has no meaning; "
                            "train a conditional preset (e.g. cgan-mnist) or drop --class")
    if conditional and num_classes is None:
        raise GanforgeError("a class-conditional generator needs the number of classes")
    wanted = [classes] if isinstance(classes, int) else classes
    if wanted is not None:
        bad = [c for c in wanted if not 0 <= c < num_classes]
        if bad:
            raise GanforgeError(f"class {bad[0]} does not exist: this run has classes 0..{num_classes - 1}")
    gen = torch.Generator(device=device).manual_seed(seed)
    chunks, labels = [], []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        z = sample_noise(m, cfg.model.z_dim, cfg.model.z_dist, device, gen, truncation=truncation)
        y = None
        if conditional:
            if wanted is None:
                y = torch.randint(0, num_classes, (m,), device=device, generator=gen)
            else:
                y = torch.tensor(wanted, device=device)[torch.arange(start, start + m, device=device) % len(wanted)]
            labels.append(y.cpu().numpy())
        chunks.append(to_output(G(z, y), G.output_range))
    samples = np.concatenate(chunks)
    if return_labels:
        return samples, (np.concatenate(labels) if labels else None)
    return samples
