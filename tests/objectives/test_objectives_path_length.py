"""Lazy regularisers' intervals (R1 every 16 D steps, path length every 4 G steps) and the path-length term's effect."""

import torch

from ganforge import config, presets
from ganforge.config import NetSpec
from ganforge.engine.loop import Trainer
from ganforge.nets import NetContext, build_generator
from ganforge.objectives.path_length import PathLengthMean, path_lengths

TINY = ["data.name=digits", "model.g.channels=4", "model.g.w_dim=8", "model.d.channels=4", "model.z_dim=8",
        "train.batch_size=4", "log.progress=false", "log.tensorboard=false", "log.every=8",
        "log.checkpoint_every=1000", "log.sample_every=1000"]


def test_r1_runs_every_16_d_steps_and_path_length_every_4_g_steps_each_scaled_by_its_interval(tmp_path):
    cfg = config.resolve(presets.load_preset("stylegan2-mnist-paper")[0], [*TINY, "train.steps=32"])
    assert (cfg.reg.r1_every, cfg.reg.path_length_every) == (16, 4)
    tr = Trainer(cfg, tmp_path / "run")
    ran: dict[str, list[int]] = {}
    for phase in tr.built.phases:
        def counted(ctx, run=phase.run, name=phase.name):
            ran.setdefault(name, []).append(ctx.step)
            return run(ctx)
        phase.run = counted
    tr.fit()
    assert ran["D_r1"] == [0, 16] and ran["G_pl"] == list(range(0, 32, 4)) and len(ran["D"]) == len(ran["G"]) == 32
    # The lazy term is weighted by its interval, so its average strength is the configured one.
    term = next(p for p in tr.built.phases if p.name == "G_pl").terms[0]
    r1 = next(p for p in tr.built.phases if p.name == "D_r1").terms[0]
    assert term.args[:2] == (2.0, 4) and r1.args == (0.01, 16)


def test_the_path_length_mean_is_checkpointed_and_resumed(tmp_path):
    cfg = config.resolve(presets.load_preset("stylegan2-mnist-paper")[0], [*TINY, "train.steps=8"])
    tr = Trainer(cfg, tmp_path / "run")
    tr.fit()
    mean = tr.built.parts.stateful["path_length_G"].mean.item()
    assert mean > 0
    again = Trainer(config.resolve(presets.load_preset("stylegan2-mnist-paper")[0], [*TINY, "train.steps=8"]),
                    tmp_path / "run", resume=True)
    assert again.built.parts.stateful["path_length_G"].mean.item() == mean


def test_the_penalty_makes_path_lengths_more_uniform_across_w():
    torch.manual_seed(0)
    G = build_generator(NetSpec("stylegan2", {"channels": 8, "w_dim": 8, "mapping_layers": 2, "mixing": 0.0}),
                        NetContext(data_shape=(1, 8, 8), z_dim=8)).train()
    state, opt = PathLengthMean(torch.device("cpu")), torch.optim.Adam(G.parameters(), lr=1e-2)
    z = torch.randn(32, 8)

    def spread() -> float:
        """Spread over z of each z's expected length (averaged over 16 random directions y)."""
        torch.manual_seed(1)
        lengths = path_lengths(G, z.repeat(16, 1)).detach().view(16, 32).mean(0)
        return (lengths.std() / lengths.mean()).item()

    before = spread()
    for _ in range(40):
        lengths = path_lengths(G, torch.randn(32, 8))
        state.mean.lerp_(lengths.mean().detach(), 0.1)
        opt.zero_grad()
        (lengths - state.mean).pow(2).mean().backward()
        opt.step()
    assert spread() < 0.75 * before, (before, spread())
