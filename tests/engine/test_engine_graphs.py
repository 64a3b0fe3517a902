"""The whole-step graph path (engine/graphs.py), exercised on the CPU as far as it goes without CUDA.

With ``speed.graphs=true`` on the CPU every phase runs through :class:`GraphedPhase` with the
eager recorder: warm-up, capture, "replay" (the captured function called again), streams in their
static, device-position form, host bookkeeping between replays, statistics summed in a static
buffer. Only the recording itself is not a CUDA graph. Each test holds that path to the plain
one, bit for bit, or checks a fallback and its single warning.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn
from warned import warned

from ganforge import config, presets
from ganforge.engine.loop import Trainer
from ganforge.runs import checkpoint
from ganforge.engine import graphs
from ganforge.training import speed
from ganforge.training.batches import RealBatches
from ganforge.engine.stats_log import RunningSums, StatsAccumulator
from ganforge.training.phases import Phase, StepContext
from ganforge.training.schedules import OptimSchedule

QUIET = ["log.tensorboard=false", "log.progress=false", "log.every=5", "log.sample_every=1000",
         "log.checkpoint_every=1000", "train.batch_size=16", "model.g={arch: dcgan, base_channels: 8}",
         "model.d={arch: dcgan, base_channels: 8}"]
HERE = Path(__file__).resolve().parent.parent / "recipes"


def _dcgan(tmp_path, name, *extra):
    cfg = config.resolve(presets.load_preset("dcgan-digits")[0], [*QUIET, *extra])
    return Trainer(cfg, tmp_path / name)


def _fit(make, *args):
    """(trainer, its warnings) after training."""
    with warned() as caught:
        tr = make(*args)
        tr.fit()
    return tr, [m for m in caught if "speed.graphs" in m]


def _weights(obj):
    """Every network's and moving average's tensors, of a Trainer or its Built."""
    built = getattr(obj, "built", obj)
    out = {f"{n}.{k}": v for n, net in built.nets.items() for k, v in net.state_dict().items()}
    out |= {f"{n}.{k}": v for n, ema in built.emas.items() for k, v in ema.model.state_dict().items()}
    return out


def _stats(run: Path):
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def _same_run(plain, fast, run_plain: Path, run_fast: Path):
    a, b = _weights(plain), _weights(fast)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    for x, y in zip(_stats(run_plain), _stats(run_fast), strict=True):
        x.pop("img_per_s"), y.pop("img_per_s")
        assert x == y  # static-buffer sums equal the eager sums, bit for bit


CPU_NOTE = "CUDA graphs need a CUDA device"


def test_the_graph_path_trains_bitwise_what_the_plain_path_trains(tmp_path):
    """DCGAN with lazy R1 every 3 steps and an EMA that starts at step 7 (its graph is captured again
    then), over an epoch boundary: every weight, moving average and logged statistic is the same."""
    extra = ["train.steps=30", "train.batch_size=32", "reg.r1=1.0", "reg.r1_every=3", "ema.beta=0.9", "ema.start=7",
             "train.d_steps=2"]
    plain, said = _fit(_dcgan, tmp_path, "plain", *extra, "speed.graphs=false")
    assert said == []
    fast, said = _fit(_dcgan, tmp_path, "fast", *extra, "speed.graphs=true")
    assert len(said) == 1 and CPU_NOTE in said[0]
    phases = fast.built.phases
    assert [p.name for p in phases] == ["D", "D_r1", "G", "G_ema"]
    assert all(isinstance(p, graphs.GraphedPhase) and p.key is not None and p.eager_reason is None for p in phases)
    assert fast.built.parts.streams["real"].epoch >= 1  # 1500 digits / 32 = 46 batches; 70 drawn
    assert phases[0].running.count == 0  # flushed at the last log step
    _same_run(plain, fast, tmp_path / "plain", tmp_path / "fast")


def test_the_graph_path_runs_the_cycle_recipe(tmp_path, monkeypatch):
    """Four networks, two streams, a moving average: the second recipe through the graph path."""
    monkeypatch.syspath_prepend(str(HERE))
    settings = ["recipe=cycle_recipe:CycleRecipe", "data.name=ring8", "train.batch_size=64", "optim.g.name=adam",
                "optim.d.name=adam", "optim.g.lr_decay=1.0", "optim.d.lr_decay=1.0", "ema.beta=0.9", "log.every=10", "log.checkpoint_every=1000",
                "log.sample_every=1000", "log.tensorboard=false", "log.progress=false", "train.steps=20"]

    def make(name, flag):
        return Trainer(config.resolve(None, [*settings, f"speed.graphs={flag}"]), tmp_path / name)

    plain, _ = _fit(make, "plain", "false")
    fast, said = _fit(make, "fast", "true")
    assert len(said) == 1 and CPU_NOTE in said[0]
    assert [p.name for p in fast.built.phases] == ["D_A", "D_B", "G_AB", "G_BA", "G_AB_ema"]
    assert all(p.key is not None for p in fast.built.phases)
    _same_run(plain, fast, tmp_path / "plain", tmp_path / "fast")


def test_the_graph_path_resumes_bitwise(tmp_path):
    """Stream positions (host and device), the noise generator and the optimisers come back exactly."""
    extra = ["speed.graphs=true", "log.checkpoint_every=10"]
    straight, _ = _fit(_dcgan, tmp_path, "straight", "train.steps=20", *extra)
    _fit(_dcgan, tmp_path, "split", "train.steps=10", *extra)

    def resumed():
        cfg = config.resolve(presets.load_preset("dcgan-digits")[0], [*QUIET, "train.steps=20", *extra])
        return Trainer(cfg, tmp_path / "split", resume=True)

    split, _ = _fit(resumed)
    assert split.built.parts.streams["real"]._static is not None  # resumed into the static form
    a, b = _weights(straight), _weights(split)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _stats(tmp_path / "straight")[-1]["loss_D"] == _stats(tmp_path / "split")[-1]["loss_D"]


def test_static_batches_draw_the_same_batches_and_restore_in_place():
    x = torch.arange(10 * 2, dtype=torch.float32).view(10, 2)
    plain = RealBatches(x, None, 3, seed=5, device=torch.device("cpu"), output_range=None)
    static = RealBatches(x, None, 3, seed=5, device=torch.device("cpu"), output_range=None)
    static.to_static()
    perm, position = static._perm, static._static
    for _ in range(7):  # three batches an epoch: over two boundaries
        assert torch.equal(plain.next()[0], static.next()[0])
    assert static.room() == 2 and static.epoch == 2
    saved = plain.state_dict()
    static.load_state_dict(saved)
    assert static._perm is perm and static._static is position  # a graph reads these addresses
    assert int(position) == static.position == 1
    assert torch.equal(plain.next()[0], static.next()[0])


@dataclass
class _TwoDraws(StepContext):
    """A context whose one update draws two batches from one stream (so an update can straddle epochs)."""

    real: RealBatches | None = None

    @property
    def epoch(self) -> int:
        return self.real.epoch


def _two_draw_term(ctx):
    a, _ = ctx.real.next()
    b, _ = ctx.real.next()
    loss = (ctx.nets["N"](a) - b).pow(2).mean()
    return loss, {"err": loss.detach()}


def _two_draw_run(graphed: bool, steps: int = 12):
    torch.manual_seed(0)
    net = nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    cfg = config.OptimConfig(name="sgd", lr=0.1, momentum=0.0, lr_decay=1.0, momentum_final=None)
    real = RealBatches(torch.randn(10, 2), None, 2, seed=3, device=torch.device("cpu"), output_range=None)
    ctx = _TwoDraws(nets={"N": net}, optimizers={"N": opt}, schedules={"N": OptimSchedule(opt, cfg)}, real=real)
    phase = Phase("N", "N", [_two_draw_term])
    if graphed:
        phase = graphs.GraphedPhase(phase, ctx, {"real": real}, torch.device("cpu"), graphs.EagerRecorder())
    acc = StatsAccumulator()
    for step in range(steps):
        ctx.step = step
        acc.add(phase.run(ctx))
    return net.weight.detach().clone(), acc.flush(), phase


def test_an_update_that_straddles_an_epoch_runs_eagerly_and_the_rest_replay():
    """5 batches an epoch, 2 drawn per update: every other epoch ends inside an update, which the host
    must start (a new permutation) -- that update runs eagerly; the others are replays."""
    w_plain, s_plain, _ = _two_draw_run(False)
    w_fast, s_fast, phase = _two_draw_run(True)
    assert phase.draws == {"real": 2} and phase.key is not None and phase.eager_reason is None
    assert phase.eager_updates == 1 and phase.replays == 12 - graphs.WARMUP - 1  # the 8th update straddles
    assert torch.equal(w_plain, w_fast) and s_plain == s_fast


def test_running_sums_and_plain_stats_flush_to_the_same_means():
    values = [torch.tensor([0.5, -1.25]), torch.tensor([0.25, 3.0]), torch.tensor([1e-3, -0.0])]
    plain, mixed = StatsAccumulator(), StatsAccumulator()
    running = RunningSums(["a", "b"], torch.device("cpu"))
    for i, v in enumerate(values):
        plain.add({"a": v[0], "b": v[1]})
        if i == 0:  # an eager update before the first replay, in the same log period
            mixed.add({"a": v[0], "b": v[1]})
        else:
            running.add_(v)
            mixed.add(running)
    assert mixed.flush() == plain.flush()
    assert running.count == 0 and not running.sums.any()  # zeroed in place for the next period
    assert mixed.flush() == {}


# ---- fallbacks: each with exactly one warning naming its reason ----------------------------------

def test_a_term_with_host_state_keeps_its_phases_eager(tmp_path):
    extra = ["train.steps=6", "reg.historical=0.01"]
    plain, _ = _fit(_dcgan, tmp_path, "plain", *extra, "speed.graphs=false")
    fast, said = _fit(_dcgan, tmp_path, "fast", *extra, "speed.graphs=true")
    reasons = [s for s in said if CPU_NOTE not in s]
    assert len(reasons) == 2 and all("historical averaging" in s for s in reasons)  # one per phase: D and G
    assert [p.eager_reason is not None for p in fast.built.phases] == [True, True]
    _same_run(plain, fast, tmp_path / "plain", tmp_path / "fast")


def test_a_context_with_host_state_keeps_the_run_eager(tmp_path):
    _, said = _fit(_dcgan, tmp_path, "r", "train.steps=2", "reg.instance_noise=0.1", "speed.graphs=true")
    assert len(said) == 1 and "d_input: instance noise's sigma decays" in said[0]


def test_a_stream_without_a_graph_safe_form_keeps_the_run_eager():
    class Plain:
        def state_dict(self):
            return {}

    ctx = StepContext(nets={}, optimizers={}, schedules={})
    phases = [Phase("N", "N", [])]
    with warned() as caught:
        out = graphs.wrap(phases, ctx, {"mine": Plain()}, speed.SpeedPlan(graphs=True), torch.device("cpu"))
    assert out is phases
    assert len(caught) == 1 and "input stream 'mine' (Plain) has no graph-safe form" in caught[0]


def test_statistics_that_change_their_names_send_the_phase_back_to_eager():
    calls = []

    def term(ctx):
        calls.append(1)
        x, _ = ctx.real.next()
        loss = ctx.nets["N"](x).pow(2).mean()
        return loss, ({"late": loss.detach()} if len(calls) > 5 else {})

    torch.manual_seed(0)
    net = nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    real = RealBatches(torch.randn(40, 2), None, 4, seed=1, device=torch.device("cpu"), output_range=None)
    cfg = config.OptimConfig(name="sgd", lr=0.1, momentum=0.0, lr_decay=1.0, momentum_final=None)
    ctx = _TwoDraws(nets={"N": net}, optimizers={"N": opt}, schedules={"N": OptimSchedule(opt, cfg)}, real=real)
    phase = graphs.GraphedPhase(Phase("N", "N", [term]), ctx, {"real": real}, torch.device("cpu"),
                                graphs.EagerRecorder())
    with warned() as caught:
        stats = [phase.run(ctx) for _ in range(8)]
    assert len(caught) == 1 and "its statistics changed from ['loss_N'] to ['late', 'loss_N']" in caught[0]
    assert phase.replays == 3  # calls 4-6 replayed (6 changed the names), 7-8 ran as plain phases
    assert all("late" in s for s in stats[5:])


def test_a_phase_class_without_the_capture_parts_runs_eagerly():
    class Custom:
        name, every = "mine", 1

        def run(self, ctx):
            return {"ran": torch.tensor(1.0)}

    ctx = StepContext(nets={}, optimizers={}, schedules={})
    with warned() as caught:
        graphed = graphs.GraphedPhase(Custom(), ctx, {}, torch.device("cpu"), graphs.EagerRecorder())
    assert len(caught) == 1 and "phase mine runs eagerly: Custom has no begin, update" in caught[0]
    assert [graphed.run(ctx)["ran"].item() for _ in range(5)] == [1.0] * 5


@pytest.mark.parametrize("case, reason", [("ddp", "DDP"), ("reduce-overhead", "cannot be nested")])
def test_ddp_and_per_network_cuda_graphs_keep_the_run_eager(case, reason):
    ctx = StepContext(nets={}, optimizers={}, schedules={}, ddp={"N": nn.Linear(1, 1)} if case == "ddp" else {})
    plan = speed.SpeedPlan(graphs=True, compile="reduce-overhead" if case != "ddp" else None)
    with warned() as caught:
        phases = graphs.wrap([Phase("N", "N", [])], ctx, {}, plan, torch.device("cpu"))
    assert not isinstance(phases[0], graphs.GraphedPhase)
    assert len(caught) == 1 and reason in caught[0]


def test_a_failed_capture_goes_on_eagerly_with_one_warning(tmp_path, monkeypatch):
    def broken(self, fn, generators):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    monkeypatch.setattr(graphs.EagerRecorder, "capture", broken)
    plain, _ = _fit(_dcgan, tmp_path, "plain", "train.steps=8", "speed.graphs=false")
    fast, said = _fit(_dcgan, tmp_path, "fast", "train.steps=8", "speed.graphs=true")
    failed = [s for s in said if CPU_NOTE not in s]
    assert len(failed) == 2  # D and G, once each
    assert "capturing it failed (RuntimeError: operation not permitted when stream is capturing)" in failed[0]
    _same_run(plain, fast, tmp_path / "plain", tmp_path / "fast")


def test_a_learning_rate_that_changes_every_update_sends_the_phase_back_to_eager(tmp_path):
    """A float learning rate is baked into a capture; decaying every update, it would need a capture
    per step, so the phase gives up once (on CUDA a fused optimiser reads a device lr instead)."""
    extra = ["train.steps=12", "optim.g.lr_decay=1.001"]
    plain, _ = _fit(_dcgan, tmp_path, "plain", *extra, "speed.graphs=false")
    fast, said = _fit(_dcgan, tmp_path, "fast", *extra, "speed.graphs=true")
    thrash = [s for s in said if CPU_NOTE not in s]
    assert len(thrash) == 1 and "phase G runs eagerly" in thrash[0] and "changes every few steps" in thrash[0]
    assert fast.built.phases[0].eager_reason is None  # D's learning rate is constant: still replayed
    _same_run(plain, fast, tmp_path / "plain", tmp_path / "fast")


# ---- the pieces around it ---------------------------------------------------------------------------

def test_auto_precision_is_bf16_for_conv_nets_and_fp32_for_mlps():
    cuda_auto = speed.SpeedPlan(bf16=True)  # what plan() gives for auto on a bf16 GPU
    auto = config.SpeedConfig()
    mlp = {"G": nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4)), "D": nn.Linear(4, 1)}
    conv = {"G": nn.Sequential(nn.ConvTranspose2d(4, 2, 4)), "D": nn.Linear(4, 1)}
    chosen = speed.choose_precision(cuda_auto, auto, mlp)
    assert not chosen.bf16 and "no convolutions" in chosen.describe()
    chosen = speed.choose_precision(cuda_auto, auto, conv)
    assert chosen.bf16 and "convolutional nets" in chosen.describe()
    forced = speed.choose_precision(cuda_auto, config.SpeedConfig(precision="bf16"), mlp)
    assert forced == cuda_auto  # an explicit choice stands
    assert speed.choose_precision(speed.SpeedPlan(), auto, conv) == speed.SpeedPlan()  # CPU: fp32 stays


def test_reduce_overhead_outputs_are_the_callers_own():
    t = torch.ones(3)
    out = speed.own_outputs((t, {"f": t}, None))
    assert torch.equal(out[0], t) and out[0].data_ptr() != t.data_ptr() and out[1]["f"].data_ptr() != t.data_ptr()
    assert out[2] is None


def test_a_device_learning_rate_is_filled_in_place_and_saved_as_a_number():
    net = nn.Linear(2, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lr = torch.tensor(1e-3)
    opt.param_groups[0]["lr"], opt.param_groups[0]["capturable"] = lr, True
    sched = OptimSchedule(opt, config.OptimConfig(name="adam", lr=2e-3, lr_decay=1.0, momentum_final=None))
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(2e-3)
    _, meta = checkpoint.optimizer_tensors(opt)
    group = meta["param_groups"][0]
    assert group["lr"] == pytest.approx(2e-3) and isinstance(group["lr"], float) and group["capturable"] is False
    json.dumps(meta)  # a plain JSON document, loadable on a CPU
    graphs.prepare_optimizer(opt, torch.device("cpu"))  # nothing to do off CUDA
    assert opt.param_groups[0]["lr"] is lr


def test_the_config_switch_is_checked(one_line):
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        config.resolve(None, ["speed.graphs=sometimes"])
    assert one_line(e) == "speed.graphs must be true, false or auto, got 'sometimes'"
    assert speed.plan(config.SpeedConfig(), torch.device("cpu"), True).graphs is False  # the default: off
    assert speed.plan(config.SpeedConfig(graphs="auto"), torch.device("cpu"), True).graphs is False  # CPU


def test_r1_at_every_step_is_part_of_d_s_update_not_a_phase(tmp_path):
    """One D optimiser step per D step with R1 every step (the paper's single loss); lazy R1 keeps its phase."""
    every, said = _fit(_dcgan, tmp_path, "every", "train.steps=3", "train.batch_size=8", "reg.r1=1.0")
    assert [p.name for p in every.built.phases] == ["D", "G"]
    lazy, said = _fit(_dcgan, tmp_path, "lazy", "train.steps=3", "train.batch_size=8", "reg.r1=1.0", "reg.r1_every=2")
    assert [p.name for p in lazy.built.phases] == ["D", "D_r1", "G"]
