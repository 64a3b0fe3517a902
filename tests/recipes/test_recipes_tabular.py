"""The tabular (CTGAN) recipe end to end on a tiny table (500 steps, a few seconds): it learns (the column-shapes
figure rises and the category frequencies approach the real ones), the same seed writes the same CSV byte for
byte, ``--condition`` yields only the asked category, sampling runs G in eval mode so a row never depends on its
batch, ``ganforge audit`` and ``downstream`` measure a table run, and dp-tabular reports epsilon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from ganforge import recipes
from ganforge.api import resolve_config
from ganforge.cli import main
from ganforge.engine.loop import Trainer
from ganforge.runs.run import load_run
from ganforge.synthetic.sources import training_data
from ganforge.tabular import sampling as table_sampling
from ganforge.tabular.report.privacy import exact_copy_rate
from ganforge.tabular.sampling import column_shapes, run_tables

CATS, P = ["a", "b", "c", "rare"], [0.55, 0.25, 0.15, 0.05]
FAST = ["train.batch_size=50", "model.d.pack=5", "model.z_dim=16", "model.g.hidden=[32,32]", "model.d.hidden=[32,32]",
        "optim.g.lr=1e-3", "optim.d.lr=1e-3", "log.every=50", "log.checkpoint_every=1000", "log.sample_every=1000",
        "log.tensorboard=false", "log.progress=false", "tabular.score_rows=300"]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """600 rows: an ID, a bimodal number whose mode follows the category, a category with a rare value, a flag."""
    rng = np.random.default_rng(0)
    n = 600
    cat = rng.choice(CATS, n, p=P)
    x = np.where(cat == "a", rng.normal(0, 1, n), rng.normal(6, 0.5, n)).round(2)
    path = tmp_path_factory.mktemp("table") / "t.csv"
    pd.DataFrame({"id": [f"P{i:04d}" for i in range(n)], "x": x, "c": cat, "flag": rng.random(n) < 0.3}).to_csv(
        path, index=False)
    return path


def _train(table: Path, out: Path, steps: int, *extra: str, resume: bool = False) -> Path:
    cfg, _ = resolve_config("ctgan-fast", [f"data.name=csv:{table}", f"train.steps={steps}", "train.device=cpu",
                                           *FAST, *extra])
    Trainer(cfg, out, resume=resume).fit()
    return out


def _tv(real: pd.Series, syn: pd.Series) -> float:
    p, q = real.value_counts(normalize=True), syn.value_counts(normalize=True)
    return float(0.5 * p.sub(q, fill_value=0).abs().sum())


@pytest.fixture(scope="module")
def run(table, tmp_path_factory) -> Path:
    return _train(table, tmp_path_factory.mktemp("runs") / "ct", 500)


def test_it_learns_the_table(run, table):
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    name = "column_shapes_300syn_vs_300train"
    scores = [s[name] for s in stats if name in s]
    assert {"gp", "cond_ce", "loss_D", "loss_G"} <= stats[-1].keys()
    assert len(scores) == 10 and all(0 < v <= 1 for v in scores), scores  # the convergence figure, every log step
    assert np.mean(scores[-3:]) > scores[0] + 0.03, scores  # ... and it rises
    real = pd.read_csv(table)
    model = load_run(run).model
    torch.manual_seed(0)
    fresh = recipes.get("tabular").rebuild(load_run(run).config, model.record)  # untrained nets, same shapes
    untrained = type(model)(fresh, model.record, z_dim=16).sample_table(2000, seed=1)
    trained = model.sample_table(2000, seed=1)
    before, after = column_shapes(real, untrained, model.record["columns"]), column_shapes(real, trained,
                                                                                          model.record["columns"])
    assert after > before + 0.08 and abs(after - scores[-1]) < 0.1, (before, after, scores)
    assert _tv(real.c, trained.c) < 0.6 * _tv(real.c, untrained.c)  # category frequencies approach the real ones
    assert (trained.c == "rare").mean() > 0.01  # the rare category is not lost
    assert list(trained.columns) == ["id", "x", "c", "flag"] and trained.id.is_unique
    assert trained.id.str.fullmatch(r"P\d{4}").all()  # IDs regenerated in the same form
    assert trained.x.between(real.x.min(), real.x.max()).all()


def test_same_seed_same_csv_byte_for_byte(table, tmp_path):
    a, b = _train(table, tmp_path / "a", 20), _train(table, tmp_path / "b", 20)
    for run_dir, out in ((a, "a.csv"), (b, "b.csv"), (a, "a2.csv")):
        assert main(["sample", str(run_dir), "--n", "300", "--out", str(tmp_path / out), "--seed", "4"]) == 0
    text = (tmp_path / "a.csv").read_bytes()
    assert text == (tmp_path / "b.csv").read_bytes() == (tmp_path / "a2.csv").read_bytes()
    assert main(["sample", str(a), "--n", "300", "--out", str(tmp_path / "c.csv"), "--seed", "5"]) == 0
    assert (tmp_path / "c.csv").read_bytes() != text  # the seed matters


def test_condition_yields_only_that_category(run, tmp_path, capsys):
    out = tmp_path / "rare.csv"
    assert main(["sample", str(run), "--n", "400", "--out", str(out), "--condition", "c=rare"]) == 0
    rows = pd.read_csv(out)
    assert len(rows) == 400 and (rows.c == "rare").all()
    # the other columns come from G given the condition: rare rows sit in the upper mode of x, as in the data
    assert rows.x.median() > 3
    for bad, says in (("c=zzz", "valid values: a, b, c, rare"), ("nope=1", "can name c, flag"), ("x=1", "can name")):
        assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "bad.csv"), "--condition", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad.csv").exists()


def test_condition_refused_for_a_run_that_is_not_a_table(tmp_path, capsys):
    cfg, _ = resolve_config("gan2014-ring8", ["train.steps=2", "log.tensorboard=false", "log.progress=false",
                                              "train.device=cpu"])
    Trainer(cfg, tmp_path / "ring").fit()
    assert main(["sample", str(tmp_path / "ring"), "--n", "5", "--out", str(tmp_path / "s.npy"),
                 "--condition", "c=a"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--condition is for table runs" in err and len(err.splitlines()) == 1


def test_eval_mode_a_row_does_not_depend_on_its_batch(run):
    model = load_run(run).model
    G = model.generator
    inputs = torch.randn(64, G.body[0].fc.in_features)
    G.train()
    assert not torch.allclose(G.logits(inputs)[:8], G.logits(inputs[:8]), atol=1e-5)  # train mode: batch statistics
    a = model.sample_table(100, seed=2)  # the model puts G in eval mode itself...
    assert G.training  # ... and gives it back as it was
    G.eval()
    assert torch.allclose(G.logits(inputs)[:8], G.logits(inputs[:8]), atol=1e-6)
    assert a.equals(model.sample_table(100, seed=2))


@pytest.fixture(scope="module")
def holdout(tmp_path_factory) -> Path:
    """Held-out rows of the same population (another seed), never trained on."""
    rng = np.random.default_rng(1)
    n = 300
    cat = rng.choice(CATS, n, p=P)
    x = np.where(cat == "a", rng.normal(0, 1, n), rng.normal(6, 0.5, n)).round(2)
    path = tmp_path_factory.mktemp("holdout") / "h.csv"
    pd.DataFrame({"id": [f"P{i:04d}" for i in range(5000, 5000 + n)], "x": x, "c": cat,
                  "flag": rng.random(n) < 0.3}).to_csv(path, index=False)
    return path


def test_audit_and_downstream_measure_a_table_run(run, holdout, tmp_path, capsys):
    out = tmp_path / "audit.json"
    assert main(["audit", str(run), "--holdout-data", f"csv:{holdout}", "--n", "500", "--out", str(out)]) == 0
    audit = json.loads(out.read_text())
    assert 0 < audit["dcr_baseline_protection"] <= 1
    # Exact copies: x has two decimals, so 10-20% of the rows equal some real row by chance (0.188 and 0.202
    # against the 600 training rows at 2 and 1 threads, 0.076 and 0.096 against the 300 held-out ones). A
    # generator that copied its training rows would match 300 of them far more often than 300 unseen ones.
    t = run_tables(load_run(run), f"csv:{holdout}", 500, 0)
    assert audit["exact_copy_rate"] == exact_copy_rate(t["real"], t["synthetic"], t["kinds"])
    seen, unseen = (exact_copy_rate(rows, t["synthetic"], t["kinds"]) for rows in (t["real"][:300], t["holdout"]))
    assert 0 < unseen and seen < unseen + 0.1, (seen, unseen)
    assert 0.3 < audit["membership"]["auroc"] < 0.7 and 0 <= audit["closer_to_train_share"] <= 1
    assert audit["run"]["step"] == 500
    out = tmp_path / "down.json"
    assert main(["downstream", str(run), "--holdout-data", f"csv:{holdout}", "--out", str(out)]) == 0
    down = json.loads(out.read_text())
    assert down["target"] == "c" and down["synthetic_rows"] == 600
    assert down["trtr"]["accuracy"] > 0.6  # the category follows x's mode: learnable from real rows
    assert down["tstr"]["accuracy"] > 0.45  # ... and from the synthetic ones (the majority class alone gives ~0.55)
    capsys.readouterr()
    assert main(["audit", str(run), "--n", "50"]) == 2  # no held-out rows: one line saying what to pass
    err = capsys.readouterr().err.strip()
    assert "--holdout-data csv:" in err and len(err.splitlines()) == 1


def test_dp_tabular_reports_epsilon_and_refuses_packing(table, tmp_path, capsys):
    run_dir = _train(table, tmp_path / "dp", 20, "recipe=dp-tabular", "model.d.pack=1", "reg.gp=0",
                     "loss.d=minimax", "loss.g=non-saturating", "log.every=10")
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    eps = [s["dp_epsilon"] for s in stats]
    assert 0 < eps[0] < eps[-1] and stats[-1]["dp_delta"] == pytest.approx(1e-5)
    assert not any(k.startswith("column_shapes") for k in stats[-1])  # no figure read from private rows
    with pytest.raises(Exception, match="model.d.pack=1"):
        _train(table, tmp_path / "dp2", 2, "recipe=dp-tabular", "reg.gp=0", "loss.d=minimax",
               "loss.g=non-saturating")


def _weights(run: Path) -> dict[str, torch.Tensor]:
    last = sorted(p for p in (run / "checkpoints").iterdir() if p.name.startswith("step-"))[-1]
    return {f"{f.stem}.{k}": v for f in last.glob("*.safetensors") for k, v in load_file(f).items()}


def test_a_resumed_run_is_bitwise_the_uninterrupted_one(table, tmp_path):
    """The conditional stream (its numpy generator), z, dropout and the optimisers are all checkpointed."""
    _train(table, tmp_path / "straight", 30, "log.checkpoint_every=15")
    _train(table, tmp_path / "split", 15, "log.checkpoint_every=15")
    _train(table, tmp_path / "split", 30, "log.checkpoint_every=15", resume=True)
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert a.keys() == b.keys() and {"G.out.weight", "D.inner.linear.weight"} <= a.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_image_verbs_refuse_a_table_run_in_one_line(run, tmp_path, capsys):
    """The model declares one capability, ``table``: export refuses it, figures draws the curves and skips the
    sample figures, each naming the command that does apply."""
    capsys.readouterr()
    assert main(["export", str(run), "--n", "5", "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not (tmp_path / "x.npz").exists()
    assert main(["figures", str(run), "--out", str(tmp_path / "figs")]) == 0
    said = capsys.readouterr().out
    assert "sample figures: skipped (a table run" in said and "--out synthetic.csv" in said
    assert sorted(p.name for p in (tmp_path / "figs").iterdir() if p.suffix == ".png") == ["curves.png"]


def test_a_reloaded_table_keeps_its_target_and_discrete_columns(table, tmp_path):
    """audit and downstream reload the run's training table with the data options it was trained with
    (data.discrete, data.target, data.ids); they once dropped them and read x as a number again."""
    run = load_run(_train(table, tmp_path / "ct", 20, "data.target=flag", "data.discrete=[x]"))
    reloaded = training_data(run)
    kinds = {c["name"]: c["kind"] for c in reloaded.meta["columns"]}
    assert kinds["x"] == "categorical", kinds  # as trained: data.discrete=[x]
    assert reloaded.meta["sha256"] and len(reloaded.x) == 600


def test_two_processes_under_torchrun_train_a_table(table, tmp_path):
    """DDP (gloo, 2 CPU processes): the global batch of conditions and rows shared out, D's update (its
    gradient penalty's double backward included) through the wrapper; the run then samples a CSV."""
    run = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("RANK", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "ganforge",
           "train", "ctgan-fast", "--out", str(run), "--steps", "6", "--device", "cpu",
           *[a for s in [f"data.name=csv:{table}", *FAST, "train.batch_size=100", "log.every=3"] for a in ("--set", s)]]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines() if '"loss_D"' in line]
    assert [r["step"] for r in rows] == [3, 6] and all(np.isfinite(r["loss_D"]) for r in rows)
    assert json.loads((run / "options.json").read_text())["world_size"] == 2
    csv = tmp_path / "s.csv"
    assert main(["sample", str(run), "--n", "50", "--out", str(csv)]) == 0
    assert list(pd.read_csv(csv).columns) == list(pd.read_csv(table).columns)


def test_chunked_sampling_is_the_whole_table_and_ids_stay_unique(run, monkeypatch):
    """ganforge sample inverts TABLE_CHUNK rows at a time so memory holds one chunk; the output must not
    depend on the chunk size, and the regenerated IDs must be unique over all chunks, not within each."""
    model = load_run(run).model
    whole = model.sample_table(2500, seed=4)
    monkeypatch.setattr(table_sampling, "TABLE_CHUNK", 1000)
    chunks = list(model.sample_table_chunks(2500, seed=4))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    chunked = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(chunked, whole)
    assert chunked["id"].is_unique


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_dp_ctgan_refuses_a_batch_larger_than_the_table_before_writing_the_run(table, tmp_path, capsys):
    """The accountant's sampling rate batch/rows above 1 was a math domain error from Opacus at the first log step,
    after the run directory was written."""
    out = tmp_path / "dpt"
    capsys.readouterr()
    assert main(["train", "dp-ctgan", "--set", f"data.name=csv:{table}", "--steps", "4", "--set", "tabular.epochs=null",
                 "--set", "train.batch_size=700", "--set", "train.device=cpu", "--set", "log.every=2",
                 "--set", "log.checkpoint_every=4", "--set", "log.sample_every=4", "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert "train.batch_size=700" in err and "600 rows" in err and "--set train.batch_size=600" in err
    assert not out.exists()


def test_epochs_say_they_replace_the_steps_given(table, tmp_path, capsys):
    capsys.readouterr()
    _train(table, tmp_path / "ep", 4, "tabular.epochs=1")  # 600 rows at batch 50: 12 steps, not 4
    said = capsys.readouterr().out
    assert "tabular.epochs=1: 12 steps" in said and "this replaces train.steps=4 (--steps)" in said
    _train(table, tmp_path / "ep2", 12, "tabular.epochs=1")  # the same number: nothing replaced
    assert "replaces" not in capsys.readouterr().out


HUGE = str(100_000_000_000)


def test_a_huge_n_is_refused_in_one_line_before_any_work(run, holdout, tmp_path, capsys):
    """--n 100000000000 ended in numpy's _ArrayMemoryError (1.46 TiB of IDs drawn at once) on all three."""
    capsys.readouterr()
    for argv in (["downstream", str(run), "--n", HUGE, "--holdout-data", f"csv:{holdout}"],
                 ["audit", str(run), "--n", HUGE, "--holdout-data", f"csv:{holdout}", "--out", str(tmp_path / "a.json")],
                 ["sample", str(run), "--n", HUGE, "--out", str(tmp_path / "huge.parquet")]):
        assert main(argv) == 2, argv
        err = _one_line(capsys)
        assert f"--n {HUGE} needs about" in err and "the most this machine takes now is --n" in err, err
    assert main(["sample", str(run), "--n", HUGE, "--out", str(tmp_path / "huge.csv")]) == 2  # streamed: the disk
    err = _one_line(capsys)
    assert "--out" in err and "huge.csv needs" in err and "is free" in err, err
    assert not any(tmp_path.iterdir())


def test_a_csv_output_is_checked_against_the_free_space(run, tmp_path):
    from ganforge.errors import GanforgeError

    model = load_run(run).model
    out = tmp_path / "s.csv"
    table_sampling.check_table_output(model, 1000, out, free=10**9)  # fits
    with pytest.raises(GanforgeError, match="s.csv needs") as info:
        table_sampling.check_table_output(model, 1000, out, free=64 * 2**20 + 1000)  # 1000 rows of ~25 bytes do not
    assert "\n" not in str(info.value) and not out.exists()


@pytest.mark.parametrize("argv", [["downstream", "--test-split", "test"], ["downstream", "--what", "cas,gan-test"],
                                  ["downstream", "--seeds", "5,6,7"], ["audit", "--members", "5"],
                                  ["audit", "--quantile", "0.05"], ["audit", "--judge", "none"],
                                  ["audit", "--figure", "f.png"], ["audit", "--holdout-split", "valid"],
                                  ["audit", "--data-dir", "cache"], ["downstream", "--data-dir", "cache"]])
def test_image_options_are_refused_for_a_table_run_even_at_their_default(argv, run, holdout, tmp_path, capsys):
    command, flag, value = argv
    out = tmp_path / "r.json"
    capsys.readouterr()
    assert main([command, str(run), flag, value, "--holdout-data", f"csv:{holdout}", "--n", "50",
                 "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"ganforge: {flag} is for image runs") or f"{flag} is for image runs" in err, err
    assert f"drop {flag}" in err and not out.exists()
