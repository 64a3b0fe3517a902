"""Learns to draw: does a preset's generator cover the data at its budget, by an independent judge?

For each preset: train it (or open a run already trained), draw ``--n`` samples from the sampling
generator (the moving average where the run keeps one) and let the dataset's judge (LeNet for
MNIST, trained once and cached) read them:

- ``fid{n}_test_{judge}``: the Frechet distance between the samples' and the test split's judge
  features (a judge-feature FID, not Inception's; lower is better);
- the share of samples in each class and how many classes hold at least 5% of them;
- the confident share: samples the judge gives one class with probability above 0.9 (real test
  digits: about 0.98);
- the collapse flag: fewer than ten classes at 5% or more, or one class above 30%;
- wall time of the training, and a grid of 100 samples (copied to ``--grid-dir``).

A row passes when all ten classes hold at least 5% of the samples. Style-based runs add two checks
of what makes StyleGAN StyleGAN: **style mixing** (the coarse styles of seed A with the fine styles
of seed B: the judge should read A's class in at least 70% of cases) and **truncation** (psi 0.5
should raise the confident share over psi 1 by at least 2 points; its defining effect, precision
up and recall down in the judge's features (Kynkaenniemi et al. 2019, k = 3, against as many test
images), is reported beside it, as is ``truncation_keeps_class``, the share of the same z that the
judge reads as the same class at psi 0.5 and at psi 1, and ``shares_psi05``, the class shares at psi
0.5); the same figures, suffixed ``_centres``, for psi 0.5 towards the nearest of 64 clusters of the
generator's own images instead of the one mean w (multi-modal truncation, Mokady et al. 2022:
``ganforge.recipes.truncation_centres``; ``truncation_pass_centres`` asks it the same 2 points), and
how the styles w = mapping(z) spread, trained and at freshly drawn initial weights
(``w_directions``: the participation ratio of w's covariance, the number of directions the styles
fill; ``w_cosine``: how alike two independent samples' w are), which showed why a deep mapping fails
on a short budget (docs/stylegan.md, 'The fourth limit'). Progressive runs are trained stage by
stage (resume is bitwise, so this is the same run) and leave a grid at the end of each stage.

    python benchmarks/learns.py stylegan2-mnist progan-mnist --out /tmp/learns --seed 0 \\
        --grid-dir docs/img/learns --markdown /tmp/learns/table.md

``--run DIR`` measures a run trained elsewhere (a GPU run, say) instead of training one.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge import api, recipes
from ganforge.data import load_dataset
from ganforge.errors import ConfigError
from ganforge.metrics.judges import default_judge, load_judge
from ganforge.metrics.modes import format_count
from ganforge.metrics.prdc import precision_recall
from ganforge.recipes.truncation_centres import DEFAULT_CENTRES
from ganforge.runs.run import Run, load_run
from ganforge.figures.drawing import save_image_grid

CONFIDENT = 0.9  # judge probability above which a sample counts as confidently one class
MIN_SHARE = 0.05  # a class is covered when it holds at least this share of the samples
MAX_SHARE = 0.30  # one class above this share flags a collapse even when all ten are covered
MIXING_PASS = 0.70  # style mixing must keep the coarse seed's class this often
# Truncation must raise the confident share by at least this much (2 points): a share measured on 1,000
# samples moves by about 1.4 points from sampling alone, so a smaller rise shows nothing.
TRUNCATION_GAIN = 0.02
# Multi-modal truncation's K (ganforge.recipes.truncation_centres): image clusters psi pulls towards.
TRUNCATION_CENTRES = DEFAULT_CENTRES


def judge_read(judge, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """The judge's class and its probability for every image, and its features (one pass)."""
    features, logits = judge(images)
    p = logits.softmax(1)
    conf, cls = p.max(1)
    return cls.numpy(), conf.numpy(), features


def coverage(cls: np.ndarray, conf: np.ndarray, num_classes: int) -> dict:
    shares = np.bincount(cls, minlength=num_classes) / len(cls)
    covered = int((shares >= MIN_SHARE).sum())
    return {"shares": [round(float(s), 4) for s in shares], "classes_at_5pct": covered,
            "max_share": round(float(shares.max()), 4), "confident": round(float((conf > CONFIDENT).mean()), 4),
            "collapse": bool(covered < num_classes or shares.max() > MAX_SHARE)}


def _spread(w: torch.Tensor) -> tuple[float, float]:
    """(participation ratio of w's covariance, mean cosine between the first and second half's w)."""
    ev = torch.linalg.eigvalsh(torch.cov((w - w.mean(0)).T.double())).clamp_min(0)
    unit = nn.functional.normalize(w, dim=1)
    half = w.shape[0] // 2
    return float(ev.sum() ** 2 / (ev ** 2).sum()), float((unit[:half] * unit[half:2 * half]).sum(1).mean())


@torch.no_grad()
def style_spread(trained: nn.Module, initial: nn.Module, seed: int, n: int = 4096) -> dict:
    """How w = mapping(z) spreads for ``n`` fixed z (drawn from ``seed``), for the trained generator and
    for the same generator at ``initial`` weights: at lr x0.01 a short run barely moves the mapping, so
    the two agree and the initial map's geometry is what the synthesis network gets. Read in eval mode
    on copies, so neither generator's running mean of w moves."""
    trained, initial = (copy.deepcopy(g).cpu().eval() for g in (trained, initial))
    z = torch.randn(n, trained.z_dim, generator=torch.Generator().manual_seed(seed))
    (d, c), (d0, c0) = _spread(trained.map(z)), _spread(initial.map(z))
    return {"mapping_layers": len(trained.mapping), "w_directions": round(d, 1), "w_cosine": round(c, 3),
            "w_directions_initial": round(d0, 1), "w_cosine_initial": round(c0, 3)}


def initial_generator(run: Run, seed: int) -> nn.Module:
    """The run's generator at freshly drawn initial weights, built by its recipe as a checkpoint is."""
    torch.manual_seed(seed)
    return recipes.get(run.config.recipe).rebuild(run.config, dict(run.state.get("net_context") or {}))["G"]


def truncation_reading(model, judge, n: int, seed: int, real_f: torch.Tensor, cls1: np.ndarray,
                       confident1: float, **options) -> dict:
    """What psi 0.5 (with ``options``: towards centres) does against psi 1: the confident share, the class
    each z keeps, the class shares, and precision/recall against the test images' features."""
    x = np.concatenate([c for c, _ in model.sample_chunks(n, seed=seed, truncation=0.5, **options)])
    cls, conf, feat = judge_read(judge, x)
    pr = precision_recall(real_f, feat)
    confident = float((conf > CONFIDENT).mean())
    return {"precision_psi05": round(pr["precision"], 4), "recall_psi05": round(pr["recall"], 4),
            "confident_psi05": round(confident, 4), "truncation_keeps_class": round(float((cls == cls1).mean()), 4),
            "shares_psi05": coverage(cls, conf, judge.num_classes)["shares"],
            "truncation_pass": bool(confident - confident1 >= TRUNCATION_GAIN)}


def style_checks(run: Run, judge, n: int, seed: int, data_dir: str | None = None) -> dict:
    """Style mixing keeps the coarse seed's class; truncation psi 0.5 raises the confident share, and
    (its defining effect) raises precision and lowers recall against ``n`` test images; the same
    reading for psi 0.5 towards the nearest of TRUNCATION_CENTRES image clusters (``*_centres``)."""
    model = run.model
    coarse = np.concatenate([c for c, _ in model.sample_chunks(n, seed=seed)])
    layer = max(1, model.num_ws // 2)
    mixed = np.concatenate([c for c, _ in model.sample_chunks(n, seed=seed, mix_seed=seed + 1, mix_layer=layer)])
    fine = np.concatenate([c for c, _ in model.sample_chunks(n, seed=seed + 1)])
    c_cls, conf1, c_feat = judge_read(judge, coarse)
    m_cls, _, _ = judge_read(judge, mixed)
    f_cls, _, _ = judge_read(judge, fine)
    differ = c_cls != f_cls  # only pairs whose sources differ say anything about which styles won
    keeps = float((m_cls[differ] == c_cls[differ]).mean()) if differ.any() else float("nan")
    data = run.config.data
    reals = load_dataset(data.name, split="test", resolution=data.resolution, channels=data.channels,
                         data_dir=data_dir).x[:n].numpy()
    real_f = judge(reals)[0]
    pr1 = precision_recall(real_f, c_feat)
    confident1 = float((conf1 > CONFIDENT).mean())
    towards_mean = truncation_reading(model, judge, n, seed, real_f, c_cls, confident1)
    towards_centres = truncation_reading(model, judge, n, seed, real_f, c_cls, confident1,
                                         truncation_centres=TRUNCATION_CENTRES)
    return {"precision_psi1": round(pr1["precision"], 4), "recall_psi1": round(pr1["recall"], 4),
            "mix_layer": layer, "mixing_keeps_coarse_class": round(keeps, 4),
            "mixing_pairs_with_different_classes": int(differ.sum()),
            "confident_psi1": round(confident1, 4), **towards_mean,
            "truncation_centres": TRUNCATION_CENTRES,
            **{f"{key}_centres": value for key, value in towards_centres.items()},
            **style_spread(run.generator, initial_generator(run, seed), seed),
            "mixing_pass": bool(keeps >= MIXING_PASS)}


def stage_end_steps(levels: int, fade_images: int, stable_images: int, batch: int, total: int) -> list[int]:
    """The steps at which each of ``levels`` growth stages has finished (stage 0 after
    ``stable_images``, each later one after its fade and its stable images), cut at ``total``,
    which always ends the list."""
    ends = [-(-(stable_images + k * (fade_images + stable_images)) // batch) for k in range(levels)]
    return sorted({e for e in ends if e < total} | {total})


def train(preset: str, out: Path, seed: int, sets: list[str], stage_grids: bool) -> tuple[Run, float, list[Path]]:
    """Train ``preset`` into ``out``; a progressive preset in stages, a grid saved at each stage end."""
    cfg, _ = api.resolve_config(preset, [*sets, f"seed={seed}"])
    grids: list[Path] = []
    t0 = time.perf_counter()
    if stage_grids and cfg.recipe == "progressive":
        g, batch, total = cfg.growth, cfg.train.batch_size, cfg.train.steps
        ends = stage_end_steps(1, g.fade_images, g.stable_images, batch, total)
        while ends:
            end = ends.pop(0)
            run = api.train(preset, out=out, set=[*sets, f"seed={seed}", f"train.steps={end}"], resume=bool(grids))
            if not grids:  # the number of stages is the generator's, known once it is built
                ends = stage_end_steps(run.generator.growth_levels, g.fade_images, g.stable_images, batch,
                                       total)[1:]
            level = float(run.generator.level)
            x = run.sample(100, seed=seed)
            grids.append(save_image_grid(x, out / "stage_grids" / f"step-{end:07d}.png",
                                         title=f"{preset} step {end} (level {level:.2f})"))
    else:
        run = api.train(preset, out=out, set=[*sets, f"seed={seed}"])
    return run, time.perf_counter() - t0, grids


def measure(run: Run, n: int, seed: int, data_dir: str | None) -> dict:
    cfg = run.config
    judge_name = default_judge(cfg.data.name)
    if judge_name is None:
        raise SystemExit(f"no judge for dataset '{cfg.data.name}': learns.py measures datasets with a judge")
    judge = load_judge(judge_name, data_dir)
    x, labels = run.sample_with_labels(n, seed=seed)
    cls, conf, _ = judge_read(judge, x)
    row = {"step": run.step, "judge": judge_name, **coverage(cls, conf, judge.num_classes)}
    if labels is not None:  # a conditional G: covering the classes is given, drawing the asked-for one is not
        row["label_match"] = round(float((cls == np.asarray(labels)).mean()), 4)
    fid_name = f"fid{format_count(n)}_test_{judge_name}"
    row[fid_name] = round(float(api.evaluate(x, fid_name, dataset=cfg.data.name, data_dir=data_dir)[fid_name]), 2)
    row["fid_name"] = fid_name
    if hasattr(run.model, "num_ws"):
        row.update(style_checks(run, judge, min(n, 1000), seed, data_dir))
    return row


def _wall(seconds: float | None) -> str:
    """The wall column: minutes of training, or n/a for a run trained elsewhere (a run does not record it)."""
    return "n/a" if seconds is None else f"{seconds / 60:.1f} min"


def markdown(rows: list[dict]) -> str:
    head = ("| preset | seed | steps | wall | judge-FID | classes >= 5% | max share | confident | collapse | "
            "mixing keeps A | conf psi 0.5 / 1 | conf psi 0.5 to centres | grid |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        mix = f"{r['mixing_keeps_coarse_class']:.0%}" if "mixing_keeps_coarse_class" in r else "-"
        trunc = f"{r['confident_psi05']:.0%} / {r['confident_psi1']:.0%}" if "confident_psi05" in r else "-"
        centres = f"{r['confident_psi05_centres']:.0%}" if "confident_psi05_centres" in r else "-"
        lines.append(f"| {r['name']} | {r['seed']} | {r['step']:,} | {_wall(r['wall_s'])} | "
                     f"{r[r['fid_name']]:.1f} ({r['fid_name']}) | {r['classes_at_5pct']} | {r['max_share']:.0%} | "
                     f"{r['confident']:.0%} | {'yes' if r['collapse'] else 'no'} | {mix} | {trunc} | {centres} | "
                     f"{r.get('grid', '-')} |")
    return head + "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("presets", nargs="*", help="presets to train and measure")
    p.add_argument("--run", action="append", default=[], metavar="DIR", help="measure a trained run instead")
    p.add_argument("--out", required=True, help="folder for the runs and results.json")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the presets' training and of the samples (default 0; with --run: the run's own)")
    p.add_argument("--n", type=int, default=2000, help="samples the judge reads (default 2000)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="overrides for every preset")
    p.add_argument("--grid-dir", default=None, help="copy each run's grid here as <preset>-seed<S>.png")
    p.add_argument("--markdown", default=None, help="write the table here")
    p.add_argument("--data-dir", default=None)
    a = p.parse_args(argv)
    if not a.presets and not a.run:
        p.error("nothing to measure: name a preset or pass --run DIR")
    if a.n < 2:
        p.error(f"--n must be at least 2 (a Frechet distance needs a covariance), got {a.n}")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    # Every input is checked before anything trains: a preset name or --set that ganforge refuses, a --run
    # directory that is no run, or a --seed that is not the run's (its row, grid and style checks would carry
    # a seed the run was never trained with) is one line, not a traceback an hour in.
    for preset in a.presets:
        api.resolve_config(preset, a.set)
    trained = {r: load_run(r) for r in a.run}
    for r, run in trained.items():
        if a.seed is not None and a.seed != run.config.seed:
            raise ConfigError(f"--seed {a.seed} is not the seed of --run {r} (it was trained with seed "
                              f"{run.config.seed}); leave --seed out to use the run's")
    seed = 0 if a.seed is None else a.seed
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    rows = []
    jobs = [(p, None) for p in a.presets] + [(Path(r).name, r) for r in a.run]
    for name, existing in jobs:
        if existing is None:
            run_seed = seed
            run, wall, stage_grids = train(name, out / f"{name}-seed{run_seed}", run_seed, a.set, stage_grids=True)
        else:  # a run trained elsewhere: its own seed; its training time is not recorded in the run, so no wall
            run = trained[existing]
            run_seed, wall, stage_grids = run.config.seed, None, []
        row = {"name": name, "seed": run_seed, "wall_s": wall, **measure(run, a.n, run_seed, a.data_dir),
               "stage_grids": [str(g) for g in stage_grids]}
        grid = save_image_grid(run.sample(100, seed=run_seed), out / f"{name}-seed{run_seed}.png",
                               title=f"{name} seed {run_seed}, step {run.step}")
        if a.grid_dir:
            Path(a.grid_dir).mkdir(parents=True, exist_ok=True)
            row["grid"] = str(shutil.copy(grid, Path(a.grid_dir) / grid.name))
            for g in stage_grids:
                shutil.copy(g, Path(a.grid_dir) / f"{name}-seed{run_seed}-{g.name}")
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    table = markdown(rows)
    command = "python benchmarks/learns.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = f"{command}\n\n{table}"
    print(text)
    if a.markdown:
        Path(a.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
