"""Progress plumbing: the ETA once the speed is known, and the end-of-training summary."""

import json

from ganforge.engine import stats_log as tlog


def test_format_duration():
    assert [tlog.format_duration(s) for s in (0, 42.4, 185, 7620)] == ["0s", "42s", "3m05s", "2h07m"]


def test_eta_is_announced_once_and_printed_on_log_lines(tmp_path, capsys, monkeypatch):
    clock = iter([100.0, 110.0, 120.0, 130.0])
    monkeypatch.setattr(tlog, "_now", lambda: next(clock))
    w = tlog.StatsWriter(tmp_path, total_steps=100, start_step=0, tensorboard=False, progress=False)
    assert w.eta(0) is None
    w.write({"step": 10, "loss_D": 1.0})  # 10 steps in 10 s: 90 s to go
    w.write({"step": 20, "loss_D": 0.9})  # 20 steps in 20 s: 80 s to go
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ETA: about 1m30s for the remaining 90 steps"
    assert out[1].startswith("step 10/100  loss_D 1") and out[1].endswith("eta 1m30s")
    assert out[2].endswith("eta 1m20s") and len(out) == 3


def test_summary_lines(tmp_path):
    (tmp_path / "stats.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"step": 10, "eval/modes2500_3std": 6}, {"step": 20, "loss_D": 1.2}, {"step": 20, "eval/modes2500_3std": 8,
                                                                              "eval/kid.std": 0.1}]) + "\n{cut")
    metrics = tlog.last_metrics(tmp_path)
    assert metrics == {"modes2500_3std": 8, "kid.std": 0.1}
    lines = tlog.summary_lines(wall_seconds=50, steps=1000, batch_size=64,
                               last={"step": 1000, "loss_D": 1.25, "loss_G": 0.75, "img_per_s": 9.0},
                               metrics=metrics)
    assert lines[0] == "trained:       1000 steps in 50s (1,280 images/s)"
    assert lines[1] == "last losses:   loss_D 1.25  loss_G 0.75  (step 1000)"
    assert lines[2] == "last metrics:  modes2500_3std 8"
    assert tlog.last_metrics(tmp_path / "none") == {}


def test_stats_jsonl_is_strict_json_when_a_loss_is_nan(tmp_path):
    """A diverged loss was written as a bare NaN, which strict JSON readers (jq, a browser) reject."""
    import math

    from ganforge.engine.stats_log import StatsWriter
    from ganforge.figures.curves import read_curves

    w = StatsWriter(tmp_path, 10, 0, tensorboard=False, progress=False)
    w.write({"step": 5, "loss_D": float("nan"), "loss_G": float("inf"), "D_real": 0.5})
    w.write({"step": 10, "loss_D": 0.7, "loss_G": 0.9, "D_real": 0.5})

    def refuse(name):
        raise ValueError(name)

    records = [json.loads(line, parse_constant=refuse) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert records[0]["loss_D"] is None and records[0]["loss_G"] is None and records[0]["D_real"] == 0.5
    curves = read_curves(tmp_path)
    assert curves["loss_D"] == [(10, 0.7)] and all(math.isfinite(v) for _, v in curves["D_real"])
