"""How long a discriminator's initialisation keeps it on the ln 4 plateau: D trained alone against
a fixed pool of the initial G's samples, its real-fake logit gap logged as it grows.

Why D alone: while D's outputs sit at 0.5 for every image, G's gradients are as small as D's, so G
stays where it started and the only thing that decides when the game begins is how fast D leaves
its init. Training D alone against the initial G's samples reproduces that phase at a third of a
full step's cost (no G update, no G forward per step). Written for ``gan2014-cifar10-conv``, whose
yaml init (U(-0.005, 0.005) on five weight layers) never left the plateau in 3,919 H200 steps;
works for any unconditional noise-to-image preset.

    python benchmarks/d_plateau.py gan2014-cifar10-conv --set data.name=cifar10-jpeg \\
        --set model.d.irange=0.02 --minutes 15 --out d002.jsonl

D sees the run's own shuffled real batches and is trained on the preset's own D loss (for the 2014
presets the sum of the real and fake cross-entropies, ln 4 at the plateau). Each line of ``--out``:
step, seconds, that loss, the mean logits of 512 held real images and 512 pool samples with
dropout off, their gap, and the norm of every weight matrix. The optimiser is the preset's own D
optimiser at its initial learning rate and momentum, held constant (for ``gan2014-cifar10-conv`` the
schedules would change them by under 1% over the steps this runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from ganforge import recipes
from ganforge.api import resolve_config
from ganforge.engine.build import build
from ganforge.training import distributed


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget")
    p.add_argument("--steps", type=int, default=None, help="stop after this many D steps (default: none)")
    p.add_argument("--every", type=int, default=25, help="log every N steps (and step 1)")
    p.add_argument("--pool", type=int, default=20, help="batches of initial-G samples to draw fakes from")
    p.add_argument("--out", required=True, help="JSON lines written here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    cfg, _ = resolve_config(a.preset, a.set)
    built = build(cfg, recipes.get(cfg.recipe), distributed.SINGLE, None)
    ctx = built.parts.context  # the run's own real-batch stream, noise and D loss
    if ctx.labels_to_g or ctx.labels_to_d:
        print(f"d_plateau.py: {a.preset} is class-conditional; pass an unconditional preset", file=sys.stderr)
        return 2
    G, D, opt = built.nets["G"], built.nets["D"], built.optimizers["D"]
    torch.manual_seed(1)
    with torch.no_grad():
        G.eval()
        fakes = torch.cat([G(ctx.noise(ctx.batch_size)) for _ in range(a.pool)])
    x = built.data.x
    held_real = ctx.real.scale(x[torch.randperm(len(x))[:512]])
    held_fake = fakes[:512]
    start, step = time.time(), 0
    with open(a.out, "w") as log:
        while time.time() - start < a.minutes * 60 and (a.steps is None or step < a.steps):
            real, _ = ctx.real.next()
            fake = fakes[torch.randint(len(fakes), (ctx.batch_size,))]
            D.train()
            loss = ctx.d_loss(D(real), D(fake))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % a.every == 0 or step == 1:
                D.eval()
                with torch.no_grad():
                    r, f = D(held_real), D(held_fake)
                weights = [m.weight for m in D.modules() if getattr(m, "weight", None) is not None]
                record = {"step": step, "t": round(time.time() - start, 1), "loss": loss.item(),
                          "logit_real": r.mean().item(), "logit_fake": f.mean().item(),
                          "gap": (r.mean() - f.mean()).item(),
                          "wnorm": [round(w.norm().item(), 4) for w in weights if w.dim() > 1]}
                log.write(json.dumps(record) + "\n")
                log.flush()
    print(f"{step} D steps in {time.time() - start:.0f} s; log in {a.out}")
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
