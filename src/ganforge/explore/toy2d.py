"""The live 2D view's model: a small GAN on ring8 or grid25, trained one step at a time, GAN Lab style.

The explorer steps it on demand (play, pause, one D step, one G step) and changes lr, k (D steps
per G step) and the loss while it trains, so it cannot be an engine run (those fix their config
when they start, and ``engine/`` must not grow a branch for a viewer). It is a few lines over
ganforge's own parts instead: the datasets (``data``), the MLP nets (``nets``: the 2014 GAN's
``mlp`` G and D at toy widths) and the D/G losses (``objectives.losses``).

Each :meth:`ToyGAN.frame` is what the page draws: D's output on a grid over the data (the
heatmap), real and fake points, G's gradient arrows (the direction each fake point is pushed by
G's loss), and the loss and coverage curves. Coverage is counted as ``mode_coverage`` counts it
(:mod:`ganforge.metrics.modes`) at two radii: the protocol's 3 std (``modes3std``, what the
benchmarks report) and, named apart, a looser ``LIVE_RADIUS`` around each centre, so that the
chart moves during the first few hundred steps instead of sitting at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ganforge.config.schema import NetSpec
from ganforge.data import load_dataset
from ganforge.metrics.modes import mode_coverage
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.objectives.losses import D_LOSSES, G_LOSSES

DATASETS = ("ring8", "grid25")
LOSSES = {"minimax": ("minimax", "non-saturating"), "hinge": ("hinge", "hinge"),
          "least-squares": ("least-squares", "least-squares")}  # one name on the page -> (D loss, G loss)
LIVE_RADIUS = 0.1  # coverage radius of the live chart, in data units (ring8's ring has radius 1)
BATCH = 256  # points per step, and real and fake points drawn
HEAT = 40  # heatmap cells a side
ARROWS = 64  # fake points that get a gradient arrow
Z_DIM = 8
HIDDEN = [64, 64]


@dataclass
class Settings:
    dataset: str = "ring8"
    lr: float = 1e-3  # Adam (beta1 0.5): a toy GAN covers ring8's modes in a few hundred steps at this rate
    k: int = 1  # D steps per G step
    loss: str = "minimax"
    seed: int = 0


@dataclass
class ToyGAN:
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        s = self.settings
        torch.manual_seed(s.seed)
        data = load_dataset(s.dataset, split="train", seed=s.seed, size=20_000)
        self.real, self.centers, self.std = data.x, np.asarray(data.meta["centers"]), float(data.meta["std"])
        ctx = NetContext(data_shape=(2,), z_dim=Z_DIM, kind="points")
        # BN in G, as the PacGAN/VEEGAN 2D G: without it this toy covers 2-3 of ring8's modes by step 200, with
        # it 6-8 (3 seeds each, measured). G stays in training mode: the view shows the model as it trains.
        self.G = build_generator(NetSpec("mlp", {"hidden": HIDDEN, "batch_norm": True}), ctx)
        self.D = build_discriminator(NetSpec("maxout", {"hidden": HIDDEN, "pieces": 2, "input_dropout": 0.0,
                                                       "hidden_dropout": 0.0, "irange": 0.05}), ctx)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=s.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=s.lr, betas=(0.5, 0.999))
        self.gen = torch.Generator().manual_seed(s.seed)
        self.fixed_z = torch.randn(BATCH, Z_DIM, generator=torch.Generator().manual_seed(s.seed + 1))
        self.step = 0  # G steps
        self.d_steps = 0
        self.history: list[dict] = []
        lim = float(np.abs(self.centers).max()) * 1.5 + 0.2
        self.extent = (-lim, lim)
        self.record()

    def set(self, lr: float | None = None, k: int | None = None, loss: str | None = None) -> None:
        """Live changes: the optimisers keep their moments, only their learning rate moves."""
        if lr is not None:
            self.settings.lr = lr
            for opt in (self.opt_g, self.opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
        if k is not None:
            self.settings.k = k
        if loss is not None:
            self.settings.loss = loss

    def _batch(self) -> torch.Tensor:
        return self.real[torch.randint(0, len(self.real), (BATCH,), generator=self.gen)]

    def _z(self) -> torch.Tensor:
        return torch.randn(BATCH, Z_DIM, generator=self.gen)

    def step_d(self) -> float:
        d_loss = D_LOSSES[LOSSES[self.settings.loss][0]]
        with torch.no_grad():
            fake = self.G(self._z())
        loss = d_loss(self.D(self._batch()).flatten(), self.D(fake).flatten())
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.d_steps += 1
        self.last_d = loss.item()
        return self.last_d

    def step_g(self) -> float:  # the mirror of step_d, deliberately plain: the page shows these two updates
        g_loss = G_LOSSES[LOSSES[self.settings.loss][1]]
        loss = g_loss(self.D(self.G(self._z())).flatten())
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.step += 1
        self.last_g = loss.item()
        return self.last_g

    def train(self, steps: int) -> None:
        """``steps`` G steps, each after ``k`` D steps; a point on the curves every 10 G steps.

        On one thread: nets this small are dominated by thread hand-offs, ten times over on a busy machine."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for _ in range(steps):
                for _ in range(self.settings.k):
                    self.step_d()
                self.step_g()
                if self.step % 10 == 0:
                    self.record()
        finally:
            torch.set_num_threads(threads)

    @torch.no_grad()
    def record(self) -> None:
        fake = self.G(self.fixed_z).numpy()
        # A live view goes on drawing a G that diverged: its NaN points count as covering no mode.
        live = mode_coverage(fake, self.centers, LIVE_RADIUS / 3.0, nonfinite="low_quality")
        strict = mode_coverage(fake, self.centers, self.std, nonfinite="low_quality")
        self.history.append({"step": self.step, "d_loss": getattr(self, "last_d", None),
                             "g_loss": getattr(self, "last_g", None), "modes_live": live["modes"],
                             "modes3std": strict["modes"]})

    def frame(self) -> dict:
        """Everything the page draws, as plain lists (JSON)."""
        lo, hi = self.extent
        axis = torch.linspace(lo, hi, HEAT)
        grid = torch.stack(torch.meshgrid(axis, axis.flip(0), indexing="xy"), -1).reshape(-1, 2)
        with torch.no_grad():
            d = self.D(grid).flatten()
            shows_probability = D_LOSSES[LOSSES[self.settings.loss][0]].shows_probability
            heat = torch.sigmoid(d) if shows_probability else torch.sigmoid(d - d.mean())
            real = self._batch().numpy()
        fake = self.G(self.fixed_z).detach().requires_grad_(True)
        G_LOSSES[LOSSES[self.settings.loss][1]](self.D(fake).flatten()).backward()
        push = -fake.grad[:ARROWS]  # the way G's loss moves each point
        push = push / (push.norm(dim=1, keepdim=True).max() + 1e-12)
        last = self.history[-1]
        return {"step": self.step, "d_steps": self.d_steps, "extent": [lo, hi], "heat_size": HEAT,
                "heat": [round(float(v), 3) for v in heat], "real": np.round(real, 3).tolist(),
                "fake": np.round(fake.detach().numpy(), 3).tolist(), "arrows": np.round(push.numpy(), 3).tolist(),
                "history": self.history[-200:], "num_modes": len(self.centers), "modes_live": last["modes_live"],
                "modes3std": last["modes3std"], "live_radius": LIVE_RADIUS, "settings": vars(self.settings).copy(),
                "centers": self.centers.tolist(), "std": self.std, "ok": math.isfinite(last["d_loss"] or 0.0)}
