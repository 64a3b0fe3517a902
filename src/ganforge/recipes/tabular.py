"""The ``tabular`` recipe: CTGAN (Xu et al., NeurIPS 2019) on a table's transformed rows.

What the paper puts together, and where each piece lives:

- mode-specific normalisation and the one-hot categories: the data (``csv:PATH``,
  ``parquet:PATH``: :mod:`ganforge.tabular.transform`) arrive as float rows with their spans;
- the conditional vector with training-by-sampling (log frequency):
  :class:`ganforge.tabular.batches.TableBatches`, a checkpointed stream over
  :class:`ganforge.tabular.conditional.ConditionalSampler`;
- G's residual blocks, Gumbel-softmax outputs, D's PacGAN packing: :mod:`ganforge.nets.ctgan`
  and the registry's generic ``pack`` option;
- WGAN-GP on packed inputs and the conditional cross-entropy: :mod:`ganforge.objectives.tabular`.

Beyond the paper: sampling always runs G in eval mode (batch norm's running statistics), so a
row never depends on the batch it was drawn in; every random draw of sampling comes from the
seed (z, conditions, Gumbel noise, the inverse transform), so the same seed writes the same
CSV; and at every log step the run logs a convergence figure, ``column_shapes_1000syn_vs_1000train``
(the mean over columns of 1 - KS for numeric and datetime columns and 1 - TV for categorical
ones, 1000 generated rows against 1000 fixed training rows; fewer when the table is smaller, and
the name says how many). Nothing in the engine names this recipe.

``dp-tabular`` (:class:`DpTabular`) trains D by DP-SGD and so draws D's real rows by Poisson sampling
(:class:`ganforge.tabular.batches.PoissonTableBatches`), the sampling its accountant counts; only G's conditions keep
training-by-sampling there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ganforge import capabilities as cap
from ganforge import objectives
from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets import registry as net_registry
from ganforge.objectives import tabular as terms
from ganforge.objectives.adversarial import d_loss_of_draw
from ganforge.recipes.base import DdpModule, Recipe, TrainingEnv, TrainingParts, refuse_distributed
from ganforge.recipes.private import DP_STATE, check_batch_fits, check_private, make_private
from ganforge.tabular.batches import Draw, PoissonTableBatches, TableBatches
from ganforge.tabular.conditional import ConditionalSampler
from ganforge.tabular.sampling import TableModel, column_shapes, save_table_preview
from ganforge.tabular.transform import TableTransformer
from ganforge.training import seeds
from ganforge.training.batches import Noise
from ganforge.training.monitor import no_monitor
from ganforge.training.phases import Phase, StepContext
from ganforge.training.poisson import MIN_FAKE

Tensor = torch.Tensor


def score_name(n: int) -> str:
    """The convergence figure's name in stats.jsonl, which states its protocol: n generated against n training rows."""
    return f"column_shapes_{n}syn_vs_{n}train"


class TrainedTable(TableModel):
    """The trained model of a table run: it declares the one capability front ends read (``table``), so
    ``sample --out x.csv``, ``audit`` and ``downstream`` treat it as a table and image verbs refuse it."""

    capabilities = frozenset({cap.TABLE})


def private_d_term(ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """dp-tabular's D term: :func:`ganforge.objectives.tabular.d_term` on a Poisson draw, real row i paired
    with fake row i (one per-sample gradient each; G makes at least ``MIN_FAKE`` fake rows, the extra ones are
    dropped); an empty draw is a noise-only update (:func:`~ganforge.objectives.adversarial.d_loss_of_draw`)."""
    draw = ctx.draw()
    k = len(draw.real)
    with torch.no_grad():
        fake = ctx.generate(draw.cond)[:k]
    cond = draw.cond[:k]
    real_in, fake_in = ctx.with_cond(draw.real, draw.real_cond), ctx.with_cond(fake, cond)
    return d_loss_of_draw(ctx, ctx.critic(real_in), ctx.critic(fake_in))


private_d_term.graph_unsafe = "a Poisson draw's batch size changes from one D update to the next"


@dataclass
class TableContext(StepContext):
    """A CTGAN step: the conditional stream, z, the losses, D's packing and the CE's blocks."""

    shared: terms.TableShared = field(default_factory=terms.TableShared)
    batches: TableBatches | None = None
    noise: Noise | None = None
    batch_size: int = 0  # this process's share of the batch
    pack: int = 1
    cond_blocks: tuple[tuple[int, int], ...] = ()  # (start, width) in G's output of each conditioned column
    d_loss: objectives.DLoss | None = None
    g_loss: Any = None

    @property
    def epoch(self) -> int:
        return int(self.batches.epochs_done)

    def draw(self, real: bool = True) -> Draw:
        return self.batches.draw(self.batch_size, real)

    def generate(self, cond: Tensor, with_logits: bool = False):
        return self.forward_net("G")(torch.cat([self.noise(len(cond)), cond], dim=1), with_logits=with_logits)

    @staticmethod
    def with_cond(x: Tensor, cond: Tensor) -> Tensor:
        return torch.cat([x, cond], dim=1)

    def critic(self, x: Tensor) -> Tensor:
        return self.forward_net("D")(x).float()


def _spans(transformer: TableTransformer) -> tuple[tuple[int, int, str], ...]:
    return tuple((int(s.start), int(s.width), str(s.activation)) for s in transformer.spans)


def _record(data: Dataset, sampler: ConditionalSampler, transformer: TableTransformer) -> dict[str, Any]:
    """What sampling needs without the data: the transform, the spans, the conditioned blocks and the
    categories' counts (conditions for unconditional sampling are drawn by their real frequency)."""
    blocks = [(int(s.start), int(s.width)) for s in transformer.discrete_spans]
    counts = [np.asarray(c, dtype=np.int64).tolist() for c in sampler.counts]  # rows per slot, in block order
    return {"data_shape": [int(data.x.shape[1])], "kind": data.kind, "num_classes": None,
            "cond_dim": int(sampler.cond_dim), "spans": [list(s) for s in _spans(transformer)],
            "cond_blocks": [list(b) for b in blocks],
            "cond_columns": [s.column for s in transformer.discrete_spans], "category_counts": counts,
            "transformer": data.meta["transformer"], "columns": data.meta.get("columns")}


def _pack(cfg: RunConfig) -> int:
    """How many rows D scores as one (``model.d.pack``, stated or the registry's default)."""
    return net_registry.resolved_options("discriminator", cfg.model.d)["pack"]


def _check(cfg: RunConfig, data: Dataset) -> None:
    if data.kind != "table":
        raise ConfigError(f"recipe tabular trains on tables, and '{cfg.data.name}' is {data.kind} data; "
                          f"set data.name=csv:PATH or parquet:PATH")
    # tabular.cond, epochs and score_rows are range-checked with the config (config/validation.py)
    pack = _pack(cfg)
    if cfg.train.batch_size % pack:
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} must be a multiple of model.d.pack={pack} "
                          f"(D scores groups of {pack} rows); e.g. set train.batch_size="
                          f"{max(pack, cfg.train.batch_size // pack * pack)}")


class Tabular(Recipe):
    """CTGAN: a conditional G of table rows against a packed WGAN-GP D, on a table's transformed rows.

    Its own recipe because a table is not an image: its rows arrive mode-normalised and one-hot (the
    transform is part of the record, to decode samples), G is conditioned on a category drawn by
    training-by-sampling, its outputs are Gumbel-softmax spans, and the trained model writes CSV rows.
    """

    name = "tabular"
    description = "CTGAN on a table (csv:PATH, parquet:PATH): conditional G, packed WGAN-GP D"
    next_command = "ganforge sample {run} --n 1000 --out synthetic.csv"
    eval_command = "ganforge sample {run} --n 1000 --out synthetic.csv && ganforge table-report REAL.csv synthetic.csv"
    reads = config_reads.union({"model": {"z_dim", "g", "d"}, "loss": config_reads.every("loss"),
                                "train": {"d_steps"}, "optim": {"g", "d"}, "reg": {"gp"},
                                "data": {"discrete", "target", "ids"},
                                "tabular": config_reads.every("tabular")}, config_reads.D_COLLAPSE)

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        _check(cfg, data)
        transformer = TableTransformer.from_state_dict(data.meta["transformer"])
        x = data.x.numpy() if isinstance(data.x, Tensor) else np.asarray(data.x)
        sampler = ConditionalSampler(x, transformer, log_frequency=cfg.tabular.log_frequency)
        if cfg.tabular.epochs is not None:  # the paper's unit: resolved here, the first place the rows are known
            per_epoch = max(len(x) // cfg.train.batch_size, 1)
            given, cfg.train.steps = cfg.train.steps, cfg.tabular.epochs * per_epoch
            replaced = (f"; this replaces train.steps={given} (--steps)" if given is not None and given != cfg.train.steps
                        else "")
            print(f"tabular.epochs={cfg.tabular.epochs}: {cfg.train.steps} steps ({per_epoch} per epoch of "
                  f"{len(x)} rows at batch {cfg.train.batch_size}){replaced}; set tabular.epochs=null to give "
                  f"train.steps", flush=True)
        record = _record(data, sampler, transformer)
        return self.rebuild(cfg, record), record

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        width, cond = record["data_shape"][0], record["cond_dim"]
        spans = tuple(tuple(s) for s in record["spans"])
        g_ctx = NetContext(data_shape=(width,), z_dim=cfg.model.z_dim + cond, kind="table", spans=spans)
        d_ctx = NetContext(data_shape=(width + cond,), z_dim=cfg.model.z_dim, kind="table")
        G = build_generator(cfg.model.g, g_ctx)  # G first, then D: the order fixes their initial weights
        return {"G": G, "D": build_discriminator(cfg.model.d, d_ctx)}

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {"G": cfg.optim.g, "D": cfg.optim.d}

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> TrainedTable:
        return TrainedTable(nets, record, z_dim=cfg.model.z_dim)

    _d_term = staticmethod(terms.d_term)

    def _batches(self, env: TrainingEnv, x: Tensor, sampler: ConditionalSampler) -> TableBatches:
        return TableBatches(x, sampler, seeds.stream(env.cfg.seed, seeds.REAL_BATCHES), env.device,
                            rank=env.world.rank, world_size=env.world.size)

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, world, device = env.cfg, env.data, env.world, env.device
        transformer = TableTransformer.from_state_dict(data.meta["transformer"])
        x = data.x if isinstance(data.x, Tensor) else torch.as_tensor(np.asarray(data.x))
        sampler = ConditionalSampler(x.numpy(), transformer, log_frequency=cfg.tabular.log_frequency)
        batches = self._batches(env, x, sampler)
        noise = Noise(cfg.model.z_dim, "normal", device, seed=seeds.stream(cfg.seed, seeds.NOISE), rank=world.rank,
                      world_size=world.size)  # z ~ N(0, I), as the paper's code draws it
        D = env.nets["D"]
        ctx = TableContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules, batches=batches,
                           noise=noise, batch_size=env.local_batch, pack=_pack(cfg),
                           cond_blocks=tuple((int(s.start), int(s.width)) for s in transformer.discrete_spans),
                           d_loss=objectives.d_loss_for(cfg.loss.d, cfg.loss.real_label),
                           g_loss=objectives.g_loss_without_real(cfg.loss.g, self.name))
        if env.local_batch % ctx.pack:
            raise ConfigError(f"each process's batch ({env.local_batch}) must be a multiple of model.d.pack={ctx.pack}")
        d_terms = [self._d_term] + ([partial(terms.gp_term, cfg.reg.gp)] if cfg.reg.gp > 0 else [])
        g_terms = [terms.g_term] + ([partial(terms.cond_term, cfg.tabular.cond)] if cfg.tabular.cond > 0 else [])
        phases = [Phase("D", "D", d_terms, repeat=cfg.train.d_steps), Phase("G", "G", g_terms)]
        record = _record(data, sampler, transformer)
        watch = _Score(cfg, record, x, transformer, device)

        def save_preview(nets: dict[str, nn.Module], path: Path, step: int) -> Path:
            return save_table_preview(watch.real, watch.synthetic(nets), path, title=f"{cfg.data.name}, step {step}",
                                      columns=record.get("columns"))

        return TrainingParts(context=ctx, phases=phases, streams={"real": batches, "noise": noise},
                             epochs_done=lambda: batches.epochs_done, save_preview=save_preview,
                             ddp=lambda: {"G": DdpModule(env.nets["G"]), "D": DdpModule(D)},
                             reseed=lambda base: (noise.reseed(seeds.stream(base, seeds.NOISE)),
                                                  batches.reseed(seeds.stream(base, seeds.REAL_BATCHES))),
                             monitor=watch if cfg.tabular.score_rows else no_monitor)


class DpTabular(Tabular):
    """CTGAN with D trained by DP-SGD (Opacus), through the machinery it shares with dp-noise-to-image
    (:func:`~ganforge.recipes.private.make_private`).

    D's real rows are a Poisson sample of the table at rate q = train.batch_size / rows in every D update
    (:class:`PoissonTableBatches`), each with a conditional vector read from the row itself, and Opacus's
    RDP accountant counts exactly that: sigma = dp.noise_multiplier, rate q, one step per D update.
    Opacus's optimiser averages the noised sum of clipped per-sample gradients over the expected batch
    (train.batch_size), whatever the drawn size. Training-by-sampling (rows picked through their category,
    with replacement, so a rare row would be in almost every batch, several times) is not used for real
    rows; it still draws G's conditions, from category frequencies fitted outside the accountant.

    The guarantee is per row only when D scores one row at a time (``model.d.pack`` 1: a packed group's
    gradient is clipped as one, which would protect groups, not rows) and without a gradient penalty
    (no per-sample gradients through its double backward). One process only: the Poisson sample is of the
    whole table, not shared out under torchrun. What the epsilon does not cover, stated in docs/tabular.md:
    the transform (modes, categories, ranges) and the category frequencies are fitted on the real table
    outside the accountant.
    """

    name = "dp-tabular"
    description = "tabular (CTGAN) with D trained by DP-SGD (Opacus); (epsilon, delta) in stats.jsonl"
    reads = config_reads.union(Tabular.reads, {"dp": config_reads.every("dp")})

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        pack = _pack(cfg)
        if pack != 1:
            raise ConfigError(f"dp-tabular clips each row's gradient, and model.d.pack={pack} makes D score groups "
                              f"of {pack} rows (the guarantee would be per group); set model.d.pack=1")
        _check(cfg, data)  # a table first: the batch is then measured against its rows
        check_batch_fits(cfg, data, self.name)
        nets, record = super().networks(cfg, data)
        check_private(nets["D"], cfg, self.name)
        return nets, record

    _d_term = staticmethod(private_d_term)

    def _batches(self, env: TrainingEnv, x: Tensor, sampler: ConditionalSampler) -> TableBatches:
        return PoissonTableBatches(x, sampler, seeds.stream(env.cfg.seed, seeds.REAL_BATCHES), env.device,
                                   sample_rate=env.local_batch / len(env.data), min_fake=MIN_FAKE)

    def training(self, env: TrainingEnv) -> TrainingParts:
        refuse_distributed(env, self.name, "D's rows are one Poisson sample of the whole table per update, the "
                                           "sampling its accountant counts, and it is not shared out between processes")
        parts = make_private(env, super().training(env), self.name)
        rate = parts.stateful[DP_STATE].sample_rate
        assert parts.context.batches.sample_rate == rate, (parts.context.batches.sample_rate, rate)
        return parts


class _Score:
    """The convergence figure: column shapes of ``tabular.score_rows`` rows sampled from a fixed seed against
    as many fixed training rows (decoded once), at every log step (the engine calls it in eval mode)."""

    def __init__(self, cfg: RunConfig, record: dict[str, Any], x: Tensor, transformer: TableTransformer,
                 device: torch.device):
        n = min(cfg.tabular.score_rows or 1000, len(x))
        rows = np.random.default_rng(seeds.stream(cfg.seed, seeds.MONITOR)).choice(len(x), n, replace=False)
        self.real: pd.DataFrame = transformer.inverse(x[np.sort(rows)].numpy(),
                                                      rng=np.random.default_rng(seeds.stream(cfg.seed, seeds.MONITOR)))
        self.record, self.z_dim, self.n, self.seed, self.device = record, cfg.model.z_dim, n, cfg.seed, device

    def synthetic(self, nets: dict[str, nn.Module]) -> pd.DataFrame:
        return TableModel(nets, self.record, z_dim=self.z_dim).sample_table(self.n, seed=self.seed, device=self.device)

    def __call__(self, nets: dict[str, nn.Module], judge: Any = None) -> dict[str, float]:
        return {score_name(self.n): column_shapes(self.real, self.synthetic(nets), self.record.get("columns"))}


__all__ = ["DpTabular", "TableContext", "Tabular", "TrainedTable", "score_name", "private_d_term"]
