"""The StyleGAN2 figures in docs/: a truncation sweep, a style-mixing grid and truncation towards centres.

    python benchmarks/style_figures.py RUN_DIR --out docs/img/stylegan [--layer K] [--n 8] [--centres 64]

Truncation sweep: the same ``n`` z (seed 0) in every row, psi = 1, 0.7, 0.5, 0 from top to
bottom (the last row is the mean-w image, the same for every z). Style mixing: the top row
holds ``n`` sources B (seed 2) and the left column sources A (seed 1); the cell in row i and
column j has A_i's coarse styles (style inputs below ``K``, default half of them) and B_j's
fine styles (K and above). Truncation towards centres: the same z, rows psi = 1, psi 0.5 towards
the mean w, psi 0.5 towards the nearest of ``--centres`` K image clusters, and psi 0 towards them
(each z's own cluster centre; compare the sweep's last row, one image for every z).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganforge import sampling
from ganforge.recipes.truncation_centres import DEFAULT_CENTRES
from ganforge.runs.run import load_run
from ganforge.figures.drawing import save_image_grid

PSIS = (1.0, 0.7, 0.5, 0.0)


def truncation_sweep(run, n: int) -> np.ndarray:
    return np.concatenate([run.sample_with_labels(n, 0, truncation=psi)[0] for psi in PSIS])


def centres_sweep(run, n: int, k: int) -> np.ndarray:
    rows = [run.sample_with_labels(n, 0)[0], run.sample_with_labels(n, 0, truncation=0.5)[0]]
    rows += [run.sample_with_labels(n, 0, truncation=psi, truncation_centres=k)[0] for psi in (0.5, 0.0)]
    return np.concatenate(rows)


@torch.no_grad()
def mixing_grid(run, n: int, layer: int) -> np.ndarray:
    G, model = run.generator, run.model
    wa, wb = next(model.styles(n, 1, "cpu", None)), next(model.styles(n, 2, "cpu", None))
    image = lambda ws: sampling.to_output(G.synthesis(ws), G.output_range)  # noqa: E731
    a, b = image(wa), image(wb)
    rows = [np.concatenate([np.full_like(a[:1], 255), b])]
    for i in range(n):
        mixed = image(torch.cat([wa[i:i + 1, :layer].expand(n, -1, -1), wb[:, layer:]], 1))
        rows.append(np.concatenate([a[i:i + 1], mixed]))
    return np.concatenate(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", required=True, help="folder for truncation.png and mixing.png")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--layer", type=int, help="first style input taken from B (default: half of them)")
    parser.add_argument("--centres", type=int, default=DEFAULT_CENTRES, help="K of the truncation-centres figure")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    layer = args.layer or run.generator.num_ws // 2
    out = Path(args.out)
    save_image_grid(truncation_sweep(run, args.n), out / "truncation.png", nrow=args.n,
                    title=f"step {run.step}: rows psi = 1, 0.7, 0.5, 0")
    save_image_grid(mixing_grid(run, args.n, layer), out / "mixing.png", nrow=args.n + 1,
                    title=f"step {run.step}: rows A (coarse, inputs < {layer}), columns B (fine)")
    save_image_grid(centres_sweep(run, args.n, args.centres), out / "truncation-centres.png", nrow=args.n,
                    title=f"step {run.step}: psi 1; 0.5 to mean w; 0.5 and 0 to {args.centres} centres")
    print(out / "truncation.png", out / "mixing.png", out / "truncation-centres.png")


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
