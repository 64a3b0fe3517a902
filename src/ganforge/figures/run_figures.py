"""The figures of a run, written to ``RUN_DIR/figures/`` by ``ganforge figures``.

* ``nearest_neighbours.png`` — a 4x4 grid of 16 pairs "sample | its nearest training image" (pixel
  L2), the distance under each pair: does G copy its training set? (``--n`` below 16: that many pairs.)
* ``nn_distances.png`` — histogram of each sample's distance to its nearest
  training image beside the same for held-out real images. If samples sit much
  closer to the training set than unseen real images do, G is memorising; the
  two medians are printed.
* ``interp_linear.png`` / ``interp_slerp.png`` — rows of G along straight lines
  and great circles between pairs of latent vectors.
* ``curves.png`` — losses, D outputs and any metrics over training steps, from
  ``stats.jsonl`` and ``eval/*.json`` (drawn by :mod:`ganforge.figures.curves`).

2-D point runs get the equivalents that make sense for points: a scatter of
samples over the mode centres, the same distance histogram (in data units) and
interpolation paths drawn in the plane; there is no image sheet.
Distances are Euclidean on pixels scaled to [0, 1] (uint8 / 255), flattened.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge import capabilities as cap
from ganforge import outputs, progress
from ganforge.data import load_dataset, registry
from ganforge.errors import CheckpointError, GanforgeError
from ganforge.run_layout import FIGURES
from ganforge.sampling import collect, sample_generator, sample_noise, to_output
from ganforge.figures.curves import curves_title, plot_curves, read_curves
from ganforge.figures.drawing import nn_sheet, save_image_grid, save_points_plot
from ganforge.plotting import pyplot

SHEET_ROWS = 16
INTERP_ROWS, INTERP_STEPS = 8, 10
BLOCK = 512


def _flat(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x))
    t = t.float() / 255.0 if t.dtype == torch.uint8 else t.float()
    return t.reshape(len(t), -1)


def nearest_neighbours(queries, pool, desc: str = "nearest neighbours") -> tuple[np.ndarray, np.ndarray]:
    """(distance, index) of each query's nearest item of ``pool`` (Euclidean; images in [0, 1])."""
    q, p = _flat(queries), _flat(pool)
    p_sq = (p * p).sum(1)
    dist, idx = np.empty(len(q)), np.empty(len(q), dtype=np.int64)
    for s in progress.track(range(0, len(q), BLOCK), total=len(q), desc=desc, size=lambda s: min(BLOCK, len(q) - s)):
        qb = q[s:s + BLOCK]
        d2 = ((qb * qb).sum(1, keepdim=True) + p_sq[None] - 2 * qb @ p.T).clamp_(min=0)
        best = d2.min(1).indices
        # the distance itself is recomputed directly: exact copies come out at exactly 0
        dist[s:s + BLOCK] = (qb.double() - p[best].double()).norm(dim=1).numpy()
        idx[s:s + BLOCK] = best.numpy()
    return dist, idx


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of z0 and z1 at fractions t: (rows, len(t), dim).

    The direction moves along the great circle between the two directions, the norm
    linearly between the two norms (so unequal or nearly opposite endpoints stay
    bounded; with equal norms this is the textbook slerp). Parallel endpoints fall
    back to a straight line.
    """
    n0, n1 = z0.norm(dim=1, keepdim=True), z1.norm(dim=1, keepdim=True)
    u0, u1 = z0 / n0.clamp_min(1e-12), z1 / n1.clamp_min(1e-12)
    omega = torch.arccos((u0 * u1).sum(1, keepdim=True).clamp(-1, 1))[:, None]  # (rows, 1, 1)
    so = torch.sin(omega)
    t = t.reshape(1, -1, 1)
    direction = (torch.sin((1 - t) * omega) * u0[:, None] + torch.sin(t * omega) * u1[:, None]) / so.clamp_min(1e-12)
    sph = direction * ((1 - t) * n0[:, None] + t * n1[:, None])
    return torch.where(so.abs() < 1e-6, lerp(z0, z1, t.reshape(-1)), sph)


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.reshape(1, -1, 1)
    return (1 - t) * z0[:, None] + t * z1[:, None]


DECADES_FOR_LOG = 2  # distances spanning more than 100x get log-spaced bins and a log axis


def histogram_bins(distances: np.ndarray) -> tuple[np.ndarray, bool]:
    """Bins for non-negative distances, and whether they are log-spaced (when the positive values span
    more than :data:`DECADES_FOR_LOG` decades, linear bins would crush all but the largest into one)."""
    positive = distances[distances > 0]
    hi = float(distances.max()) if len(distances) else 1.0
    if len(positive) and np.log10(positive.max() / positive.min()) > DECADES_FOR_LOG:
        return np.geomspace(positive.min() * 0.98, positive.max() * 1.02, 50), True
    return np.linspace(0, hi * 1.02 + 1e-9, 50), False


def plot_nn_histogram(sample_d: np.ndarray, real_d: np.ndarray | None, path: Path, unit: str,
                      title: str | None = None) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    both = np.concatenate([sample_d, real_d]) if real_d is not None else sample_d
    bins, log = histogram_bins(both)

    def label(name: str, d: np.ndarray) -> str:
        zeros = int((d == 0).sum())
        exact = f", {zeros} exact copies at 0 (not drawn)" if log and zeros else ""
        return f"{name} (n={len(d)}, median {np.median(d):.3g}{exact})"

    ax.hist(sample_d[sample_d > 0] if log else sample_d, bins=bins, alpha=0.6, density=True,
            label=label("samples", sample_d))
    if real_d is not None:
        ax.hist(real_d[real_d > 0] if log else real_d, bins=bins, alpha=0.6, density=True,
                label=label("held-out real", real_d))
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(f"distance to the nearest training item ({unit}{', log scale' if log else ''})")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    heading = "memorisation check: samples much closer than held-out data = copying"
    ax.set_title(f"{title}\n{heading}" if title else heading, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _interp_points_plot(paths: np.ndarray, samples: np.ndarray, centers, path: Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if centers is not None:  # under the samples, so an empty mode stays visible
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], marker="o", s=160, facecolors="none", edgecolors="red", zorder=1,
                   label="mode centres")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.2, color="grey", zorder=2, label="samples")
    for row in paths:
        ax.plot(row[:, 0], row[:, 1], "-o", ms=2, lw=1, zorder=3)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


IMAGE_FIGURES = ("curves.png", "nn_distances.png", "interp_linear.png", "interp_slerp.png", "nearest_neighbours.png")
POINT_FIGURES = ("curves.png", "nn_distances.png", "interp_linear.png", "interp_slerp.png", "samples.png")


def check_out_dir(out: Path, *, force: bool, user_given: bool) -> None:
    """Before any work: the figures' folder must be writable, and (for a folder the user named with
    ``--out``) files of the same names are kept unless ``--force``. The run's own ``figures/`` is the
    run's to redraw."""
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file, not a folder; choose a folder for the figures")
    outputs.check_dir_writable(out, flag="--out")
    if user_given and not force:
        clash = sorted({n for n in (*IMAGE_FIGURES, *POINT_FIGURES) if (out / n).exists()})
        if clash:
            raise GanforgeError(f"{out / clash[0]} already exists; pass --force to overwrite the figures in {out} "
                                f"or choose another --out")


def _same_place(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b) or (a.exists() and b.exists() and os.path.samefile(a, b))


def _save(path: Path, draw: Callable[[Path], object]) -> Path:
    """Draw into a temporary file beside ``path`` and move it into place (see :mod:`ganforge.outputs`)."""
    with outputs.atomic(path, flag="--out") as (temp,):
        draw(temp)
    return path


def figure_title(run_dir: Path, step: int | None, checkpoint: str | os.PathLike) -> str:
    """"run · step N · checkpoint": what every grid, strip and sheet says about itself."""
    return f"{Path(run_dir).resolve().name} · step {step} · checkpoint {Path(checkpoint).name}"


def make_figures(run_dir: str | os.PathLike, open_run: Callable[[], Any], *, n: int = 1000, seed: int = 0,
                 data_dir: str | os.PathLike | None = None, log_fn: Callable[[str], None] | None = print,
                 out: str | os.PathLike | None = None, force: bool = False, none_saved: bool = True,
                 check_memory: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write the run's figures (see the module docstring) to ``out`` (default ``RUN_DIR/figures``);
    returns their paths.

    ``open_run()`` gives the run opened at a checkpoint (``ganforge.load_run``): its ``config``,
    ``state``, ``generator``, ``num_classes`` and ``sample_with_labels``. It is called before anything is
    drawn; a run with no checkpoint yet (``none_saved``, said by the caller) still gets its curves.
    ``check_memory(n, bytes_per_sample)`` (the CLI's ``memory.check_memory``) may refuse ``n`` once the data's
    shape is known, before anything is drawn.
    """
    say = log_fn or (lambda _: None)
    run_dir = Path(run_dir)
    own = run_dir / FIGURES
    if out is not None and _same_place(Path(out), own):
        out = None  # the run's own figures/ named explicitly: the default
    out_dir = Path(out) if out is not None else own
    if out is not None:  # a run's records and folders are ganforge's: only the run's own figures/ takes figures
        outputs.check_not_record(out_dir, flag="--out")
    check_out_dir(out_dir, force=force, user_given=out is not None)
    # The run is opened before anything is drawn: a damaged checkpoint, or a run that draws no samples,
    # is one line with nothing written, never a curves.png left behind by a command that then failed.
    try:
        run, missing = open_run(), None
    except CheckpointError as exc:
        if not none_saved:
            raise  # damaged, or not the checkpoint asked for: an error in every command
        run, missing = None, exc  # none saved yet: the curves so far are still worth drawing
    data = None
    if run is not None:
        check_drawable(run, run_dir)
        if cap.TABLE not in cap.capabilities_of(run.model):  # the data first: --n is checked before any drawing
            data = _load_data(run.config, data_dir)
            if check_memory is not None:
                check_memory(n, bytes_per_sample(data[0]))
    written: list[Path] = []
    series = read_curves(run_dir)
    if series:
        written.append(_save(out_dir / "curves.png",
                             lambda p: plot_curves(series, p, title=curves_title(run_dir, series))))
    else:
        say("curves: skipped (stats.jsonl has no records yet)")
    if run is None:
        if not written:
            raise missing
        say(f"sample figures: skipped ({missing})")
        return written
    if cap.TABLE in cap.capabilities_of(run.model):  # rows of a table: its own report draws them
        say(f"sample figures: skipped (a table run: `{cap.USES[cap.TABLE].replace('RUN', str(run_dir))}` then "
            f"`ganforge table-report REAL.csv synthetic.csv --html report.html`)")
        return written
    cfg, state = run.config, run.state
    title = figure_title(run_dir, state.get("step"), run.checkpoint)
    train, held, held_split = data
    samples, _ = collect(progress.chunks(run.sample_chunks(n, seed), n, "sampling"))
    train_x = train.x.numpy()

    # memorisation check
    sample_d, sample_i = nearest_neighbours(samples, train_x)
    real_d = None
    if held is not None:
        held_x = held.x.numpy()[:n]
        real_d, _ = nearest_neighbours(held_x, train_x, desc="held-out neighbours")
    unit = "pixel L2, pixels in [0, 1]" if train.kind == "image" else "data units"
    written.append(_save(out_dir / "nn_distances.png",
                         lambda p: plot_nn_histogram(sample_d, real_d, p, unit, title=title)))
    med = f"median distance to the nearest training item: samples {np.median(sample_d):.4g}"
    if real_d is not None:
        med += f", held-out real ({held_split}) {np.median(real_d):.4g}"
    else:
        med += f" (no held-out split in {cfg.data.name} to compare with)"
    say(med)

    centers = train.meta.get("centers")
    written += _interpolations(run, train.kind, samples, centers, out_dir, seed, title)
    if train.kind == "image":
        k = min(SHEET_ROWS, len(samples))
        if k < SHEET_ROWS:
            say(f"nearest_neighbours.png: {k} pair{'s' * (k != 1)} of sample and nearest training image, not "
                f"{SHEET_ROWS}: --n {n} draws only {len(samples)} sample{'s' * (len(samples) != 1)}")
        sheet = nn_sheet(samples[:k], train_x[sample_i[:k]], sample_d[:k], title=title)
        written.append(_save(out_dir / "nearest_neighbours.png", sheet.save))
    else:
        say("nearest_neighbours.png: skipped (2-D points have no image sheet; see samples.png and nn_distances.png)")
        written.append(_save(out_dir / "samples.png", lambda p: save_points_plot(
            samples, p, centers=centers, real=train_x, std=train.meta.get("std"),
            title=f"{title}\n{n} samples over the real data")))
    return written


def _load_data(cfg: Any, data_dir: str | os.PathLike | None) -> tuple[Any, Any, str | None]:
    """(the training split, a held-out split or None, its name), with the run's own data options (an anomaly
    protocol's digit among them), as training read them."""
    opts = {**registry.run_data_options(cfg.data, cfg.seed), "data_dir": data_dir}
    train = load_dataset(cfg.data.name, split=cfg.data.split, **opts)
    held_split = None if cfg.data.split == "all" else next(
        (s for s in ("test", "valid") if s != cfg.data.split and _has_split(cfg.data.name, s)), None)
    held = load_dataset(cfg.data.name, split=held_split, **opts) if held_split else None
    return train, held, held_split


PLOT_BYTES = 64  # matplotlib's copies of one scattered point (offsets, colours, the rasterised path)


def bytes_per_sample(train: Any) -> int:
    """What the figures hold per sample drawn, for the memory check before sampling: the samples twice (the
    drawn chunks and their concatenation), their float32 copy for the nearest-neighbour search, the distance
    and index found, and for 2-D points samples.png's mode count (N x K x D float64 differences to the K
    centres, and the N x K distances) and matplotlib's copies of the scatter."""
    values = int(np.prod(train.shape))
    per = 2 * values * (1 if train.kind == "image" else 4) + 4 * values + 16
    if train.kind != "image":
        centers = train.meta.get("centers")
        modes = 0 if centers is None else len(centers)
        per += 8 * (modes * (values + 1) + values) + PLOT_BYTES
    return per


def check_drawable(run: Any, run_dir: Path) -> None:
    """One line for a run drawing no samples from noise (translation, SR): every figure but curves is of them."""
    caps = cap.capabilities_of(run.model)
    if cap.GENERATE in caps or cap.TABLE in caps:
        return
    main = [c for c in cap.ORDER if c in caps]
    hint = f"; use `{cap.USES[main[0]].replace('RUN', str(run_dir))}` instead" if main else ""
    raise GanforgeError(f"{run_dir} is a {run.config.recipe} run, which draws no samples from noise, so figures "
                        f"cannot draw its nn_distances.png, interp_linear.png, interp_slerp.png or "
                        f"nearest_neighbours.png; nothing was written{hint}")


def _interpolations(run: Any, kind: str, samples: np.ndarray, centers, out_dir: Path, seed: int,
                    title: str) -> list[Path]:
    """Rows of G along straight lines and great circles between pairs of latent vectors."""
    cfg, G, device = run.config, run.generator, run.device
    gen = sample_generator(seed + 1, device)
    z0, z1 = (sample_noise(INTERP_ROWS, cfg.model.z_dim, cfg.model.z_dist, device, gen) for _ in range(2))
    t = torch.linspace(0, 1, INTERP_STEPS, device=device)
    y = None  # a class-conditional G gets one class per row (row i: class i mod K)
    if cfg.model.g.conditional:
        k = run.num_classes or 1
        y = (torch.arange(INTERP_ROWS, device=device) % k).repeat_interleave(INTERP_STEPS)
    written = []
    for name, fn in (("linear", lerp), ("slerp", slerp)):
        z = fn(z0, z1, t).reshape(-1, cfg.model.z_dim)
        with torch.no_grad():
            x = to_output(G(z) if y is None else G(z, y), G.output_range)
        heading = f"{title} · {name} interpolation"
        if kind == "image":
            written.append(_save(out_dir / f"interp_{name}.png",
                                 lambda p: save_image_grid(x, p, nrow=INTERP_STEPS, title=heading)))
        else:
            written.append(_save(out_dir / f"interp_{name}.png", lambda p: _interp_points_plot(
                x.reshape(INTERP_ROWS, INTERP_STEPS, -1), samples, centers, p,
                f"{heading}\nG along {name} latent paths ({INTERP_ROWS} pairs)")))
    return written


def _has_split(name: str, split: str) -> bool:
    try:
        entry, _, _ = registry._lookup(name)
    except GanforgeError:
        return False
    return split in entry.splits
