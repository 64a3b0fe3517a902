"""Issue 31: the application verbs (export, upscale, audit, downstream, anomaly) lose nothing and say
nothing false: each case of the issue refused with one line and exit 2, or done with a true message."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganforge import capabilities as cap
from ganforge import memory, outputs
from ganforge.cli import main
from one_line import fails  # tests/cli/one_line.py: the one-line refusal check
from ganforge.errors import GanforgeError
from ganforge.synthetic import datasheet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "anomaly"))
from blob_case import ANOMALY_AT, NORMAL_AT, blob_folder, blob_runs, blobs  # noqa: E402,F401  (tests/anomaly)


@pytest.fixture(scope="module")
def sr_run(tiny_runs):
    return tiny_runs / "sr-rgb"  # an RGB SRResNet (tests/conftest.py)


def _rgba(path, w=7, h=5):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA").save(path)
    return path


# --- loss -------------------------------------------------------------------------------------------------

def test_export_force_keeps_the_users_own_file(cgan_run, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(cgan_run), "--n", "30", "--out", str(out)]) == 0
    assert (out / outputs.MANIFEST).is_file()
    mine = next(p for p in sorted(out.iterdir()) if p.is_dir()) / "my_own.txt"  # a class folder the export made
    mine.write_text("mine")
    fails(capsys, ["export", cgan_run, "--n", "20", "--out", out, "--force"], "--force will not delete",
           "my_own.txt")
    assert mine.read_text() == "mine" and len(list(out.rglob("*.png"))) == 30
    mine.unlink()
    assert main(["export", str(cgan_run), "--n", "20", "--out", str(out), "--force"]) == 0
    assert len(list(out.rglob("*.png"))) == 20  # only ganforge's files were replaced


def test_a_folder_without_a_manifest_is_never_replaced(cgan_run, tmp_path, capsys):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "datasheet.json").write_text("{}")  # looks like an export, but lists nothing
    fails(capsys, ["export", cgan_run, "--n", "5", "--out", tmp_path / "old", "--force"], "--force will not delete")
    assert (tmp_path / "old" / "datasheet.json").read_text() == "{}"


def test_a_target_that_appears_meanwhile_is_left_alone(tmp_path):
    """The race, made deterministic: another writer creates the file while this one works."""
    target = tmp_path / "same.npz"
    with pytest.raises(GanforgeError, match="appeared while this command ran") as e:
        with outputs.atomic(target, flag="--out", force=False) as (temp,):
            temp.write_bytes(b"mine: 300 samples")
            target.write_bytes(b"theirs: 6000 samples")
    assert "\n" not in str(e.value) and target.read_bytes() == b"theirs: 6000 samples"
    assert [p.name for p in tmp_path.iterdir()] == ["same.npz"]  # no temporary file left
    with outputs.atomic(target, flag="--out", force=True) as (temp,):
        temp.write_bytes(b"forced")
    assert target.read_bytes() == b"forced"


def test_of_several_targets_none_is_left_when_one_is_taken(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "a.datasheet.json"
    with pytest.raises(GanforgeError, match="appeared"):
        with outputs.atomic(a, b, flag="--out", force=False) as (ta, tb):
            ta.write_bytes(b"x")
            tb.write_bytes(b"y")
            b.write_text("theirs")
    assert not a.exists() and b.read_text() == "theirs"


def test_two_exporting_processes_one_wins_the_other_says_so(cgan_run, tmp_path):
    """Two real processes write one .npz: exactly one exits 0, and the file holds what that one printed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = tmp_path / "same.npz"
    procs = [subprocess.Popen([sys.executable, "-m", "ganforge", "export", str(cgan_run), "--n", str(n), "--seed",
                               str(seed), "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for n, seed in ((3000, 1), (300, 2))]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    (_, won, _), = [r for r in results if r[0] == 0]
    (_, _, lost), = [r for r in results if r[0] == 2]
    assert len(lost.strip().splitlines()) == 1 and ("appeared while" in lost or "already exists" in lost), lost
    with np.load(out) as f:
        assert f"{len(f['x'])} samples" in won  # the winner's message is true
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.datasheet.json", "same.datasheet.md", "same.npz"]


# --- silent cases ----------------------------------------------------------------------------------------

def test_audit_names_its_run_and_export_refuses_another_runs_audit(cgan_run, tmp_path, capsys):
    audit = tmp_path / "a.json"
    assert main(["audit", str(cgan_run), "--n", "50", "--members", "40", "--judge", "none", "--out",
                 str(audit)]) == 0
    named = json.loads(audit.read_text())["run"]
    assert len(named["id"]) == 16 and len(named["checkpoint_sha256"]) == 64
    other = json.loads(audit.read_text())
    other["run"]["id"] = "0" * 16
    (tmp_path / "other.json").write_text(json.dumps(other))
    fails(capsys, ["export", cgan_run, "--n", "5", "--out", tmp_path / "s.npz", "--audit", tmp_path / "other.json"],
           "an audit of another run")
    other["run"] = {**named, "checkpoint_sha256": "f" * 64}
    (tmp_path / "other.json").write_text(json.dumps(other))
    fails(capsys, ["export", cgan_run, "--n", "5", "--out", tmp_path / "s.npz", "--audit", tmp_path / "other.json"],
           "another checkpoint of this run")
    assert not (tmp_path / "s.npz").exists()
    assert main(["export", str(cgan_run), "--n", "5", "--out", str(tmp_path / "s.npz"), "--audit", str(audit)]) == 0


def test_a_translation_datasheet_says_translated_real_images():
    run = SimpleNamespace(model=SimpleNamespace(capabilities=frozenset({cap.TRANSLATE})),
                          config=SimpleNamespace(data=SimpleNamespace(name="mnist-inverted")))
    holds = datasheet.what_it_holds(run, 10)
    assert holds["what"].startswith("translated real images") and "not synthetic samples" in holds["what"]
    gen = SimpleNamespace(model=SimpleNamespace(capabilities=frozenset({cap.GENERATE})), config=run.config)
    assert datasheet.what_it_holds(gen, 10)["what"].startswith("synthetic samples")
    sheet = {"title": holds["title"], "what": holds["what"], "output": {}, "sampling": {}, "run": {},
             "training_data": {}, "metrics": "x", "differential_privacy": "x", "privacy_audit": "x",
             "ganforge": "0", "format": 1, "created": "now"}
    assert datasheet.markdown(sheet).startswith("# Datasheet: translated real images")


def test_export_out_npy_is_refused(cgan_run, tmp_path, capsys):
    fails(capsys, ["export", cgan_run, "--n", "5", "--out", tmp_path / "x.npy"], "not a .npy file", "x.npz")
    assert not (tmp_path / "x.npy").exists()


def test_upscale_keeps_the_alpha_channel(sr_run, tmp_path):
    src = _rgba(tmp_path / "a.png")
    assert main(["upscale", str(sr_run), "--input", str(src), "--out", str(tmp_path / "b.png")]) == 0
    out = Image.open(tmp_path / "b.png")
    assert out.mode == "RGBA" and out.size == (14, 10)
    alpha_in = np.asarray(Image.open(src))[..., 3].astype(float)
    alpha_out = np.asarray(out)[..., 3].astype(float)
    assert abs(alpha_out.mean() - alpha_in.mean()) < 20  # the alpha, upscaled, not dropped to opaque


def test_upscale_options_that_would_be_ignored_are_refused(sr_run, tmp_path, capsys):
    img = _rgba(tmp_path / "a.png")
    fails(capsys, ["upscale", sr_run, "--eval", "skimage-photos", "--input", img], "--eval", "--input")
    fails(capsys, ["upscale", sr_run, "--input", img, "--out", tmp_path / "o.png", "--json", tmp_path / "s.json"],
           "--json writes the scores of --eval")
    fails(capsys, ["upscale", sr_run, "--input", img, "--out", tmp_path / "o.png", "--tile", "0", "--overlap", "5"],
           "--tile 0 makes no tiles")
    fails(capsys, ["upscale", "--bicubic", "--scale", "0", "--input", img, "--out", tmp_path / "o.png"],
           "--scale must be an integer >= 2, got 0")
    fails(capsys, ["upscale", sr_run, "--scale", "0", "--input", img, "--out", tmp_path / "o.png"],
           "--scale must be an integer >= 2, got 0")
    np.save(tmp_path / "e.npy", np.zeros((0, 1, 4, 4), np.uint8))
    err = fails(capsys, ["upscale", sr_run, "--input", tmp_path / "e.npy", "--out", tmp_path / "o.npy"],
                 "holds no images")
    assert "channel" not in err
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.npy").exists()


def test_a_folder_upscale_that_fails_on_a_file_writes_nothing(sr_run, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "in" / "a.png")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "in" / "b.png")  # grey: refused by an RGB model
    fails(capsys, ["upscale", sr_run, "--input", tmp_path / "in", "--out", tmp_path / "out"],
           "b.png", "nothing was written", "file 2 of 2")
    assert not (tmp_path / "out").exists()


def test_audit_members_over_the_count_is_refused(cgan_run, tmp_path, capsys):
    fails(capsys, ["audit", cgan_run, "--n", "20", "--members", "100000000", "--judge", "none", "--out",
                    tmp_path / "a.json"], "--members 100000000 is more than there are")
    assert not (tmp_path / "a.json").exists()


def test_downstream_refuses_the_training_split(cgan_run, capsys):
    fails(capsys, ["downstream", cgan_run, "--test-split", "train"], "--test-split train is the split the run "
                                                                       "trained on")


def test_anomaly_maps_force_clears_only_its_own_maps(blob_runs, tmp_path, capsys):
    run = str(blob_runs("ganomaly"))
    rng = np.random.default_rng(0)
    np.save(tmp_path / "six.npy", np.concatenate([blobs(3, NORMAL_AT, rng), blobs(3, ANOMALY_AT, rng)])[:, None])
    np.save(tmp_path / "two.npy", blobs(2, NORMAL_AT, rng)[:, None])
    maps = tmp_path / "maps"
    assert main(["anomaly", "score", run, "--input", str(tmp_path / "six.npy"), "--out", str(tmp_path / "s.npy"),
                 "--maps", str(maps)]) == 0
    (maps / "notes.txt").write_text("mine")
    fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "two.npy", "--out", tmp_path / "t.npy", "--maps",
                    maps], "already holds residual maps", "--force")
    assert main(["anomaly", "score", run, "--input", str(tmp_path / "two.npy"), "--out", str(tmp_path / "t.npy"),
                 "--maps", str(maps), "--force"]) == 0
    assert sorted(p.name for p in maps.iterdir()) == ["00000.png", "00001.png", outputs.MANIFEST, "notes.txt"]
    fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "two.npy", "--out", tmp_path / "u.npy", "--maps",
                    ""], "--maps is empty")


def test_anomaly_advice_names_a_method_the_run_has(blob_runs, tmp_path, capsys):
    """The refusal of a method the run cannot score by advises the run's own method: never the one that just
    failed, and never ``--set``, which ``anomaly`` does not take."""
    np.save(tmp_path / "x.npy", blobs(2, NORMAL_AT, np.random.default_rng(0))[:, None])
    run = blob_runs("ganomaly")
    for method in ("anogan", "fanogan"):
        err = fails(capsys, ["anomaly", "score", run, "--method", method, "--input", tmp_path / "x.npy", "--out",
                              tmp_path / "s.npy"], "use --method ganomaly")
        assert f"--method {method}" not in err and "--set" not in err
    assert not (tmp_path / "s.npy").exists()


# --- traceback and no end ---------------------------------------------------------------------------------

@pytest.mark.parametrize("out", [".", ""])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_out_dot_or_empty_is_one_line(cgan_run, tmp_path, monkeypatch, capsys, out, force):
    monkeypatch.chdir(tmp_path)
    err = fails(capsys, ["export", cgan_run, "--n", "5", "--out", out, *force], "--out")
    assert "already exists" not in err
    assert list(tmp_path.iterdir()) == []


def test_huge_n_is_refused_up_front_by_memory(cgan_run, capsys):
    for verb in (["audit", cgan_run, "--judge", "none"], ["downstream", cgan_run]):
        err = fails(capsys, [*verb, "--n", "1000000000"], "of memory", "the most this machine takes now is --n")
        assert "ask for fewer" in err


def test_memory_bound_names_the_maximum():
    with pytest.raises(GanforgeError, match=r"--n 101 needs about .* the most this machine takes now is --n 100"):
        memory.check_memory(101, 10, available=2000)
    memory.check_memory(100, 10, available=2000)


# --- misleading wording -----------------------------------------------------------------------------------

def test_a_read_only_folder_is_not_called_full(tmp_path):
    if not Path("/sys").is_dir():
        pytest.skip("no /sys")
    with pytest.raises(GanforgeError, match="cannot write in /sys") as e:
        outputs.check_space(Path("/sys/x.npz"), 10, flag="--out")
    assert "free" not in str(e.value)


def test_audit_checks_out_before_working(cgan_run, capsys):
    if not Path("/sys").is_dir():
        pytest.skip("no /sys")
    fails(capsys, ["audit", cgan_run, "--n", "20", "--judge", "none", "--out", "/sys/a.json"], "cannot write in /sys")
    assert "findings" not in capsys.readouterr().out


def test_downstream_does_not_call_a_non_conditional_run_10_class(tmp_path, capsys):
    assert main(["train", "gan2014-digits", "--steps", "1", "--out", str(tmp_path / "u"), "--set",
                 "log.tensorboard=false", "--set", "model.g.hidden=[8]", "--set", "model.d.hidden=[8]"]) == 0
    capsys.readouterr()
    err = fails(capsys, ["downstream", tmp_path / "u"], "not class-conditional")
    assert "10-class" not in err


# --- property: no traceback, exit in {0, 2, 130} -----------------------------------------------------------

def _exit_code_in(where, argv):
    """``ganforge ARGV`` run with ``where`` as the current folder (relative outputs land there), its exit code."""
    cwd = os.getcwd()
    os.chdir(where)
    try:
        return main(argv)
    finally:
        os.chdir(cwd)


VALUES = st.sampled_from(["0", "-1", "2", "3", "1000000000", "", ".", "x"])


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(verb=st.sampled_from(["export", "upscale", "audit", "downstream"]),
       opts=st.lists(st.tuples(st.sampled_from(["--n", "--out", "--tile", "--overlap", "--scale", "--members",
                                                "--test-split", "--input", "--json", "--chunk", "--truncation"]),
                               VALUES), max_size=3),
       flags=st.lists(st.sampled_from(["--force", "--bicubic", "--class-balanced"]), max_size=2, unique=True),
       shape=st.sampled_from([(0,), (2, 8, 8), (1, 3, 4, 4), (0, 3, 4, 4), (2, 1, 4, 4)]),
       dtype=st.sampled_from([np.uint8, np.float32]))
def test_verbs_never_trace_back(cgan_run, sr_run, tmp_path_factory, verb, opts, flags, shape, dtype):
    where = tmp_path_factory.mktemp("prop")
    np.save(where / "in.npy", np.zeros(shape, dtype))
    run = {"upscale": sr_run}.get(verb, cgan_run)
    argv = [verb, str(run)]
    for flag, value in opts:
        if flag == "--input":
            value = str(where / "in.npy")
        elif flag in ("--out", "--json") and value == "x":
            value = str(where / ("o.npy" if verb == "upscale" else "o.npz" if verb == "export" else "o.json"))
        argv += [flag, value]
    if verb in ("audit", "downstream"):
        argv += ["--n", "1000000000"]  # refused before any work: the property is about the refusals' form
    if verb == "export" and "--n" not in argv:
        argv += ["--n", "3"]
    argv += flags
    assert _exit_code_in(where, argv) in (0, 2, 130)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(sub=st.sampled_from(["score", "eval"]),
       opts=st.lists(st.tuples(st.sampled_from(["--method", "--out", "--maps", "--input", "--limit", "--seed",
                                                "--checkpoint"]),
                               st.sampled_from(["anogan", "fanogan", "ganomaly", "0", "-1", "2", "", ".", "x"])),
                     max_size=3),
       flags=st.lists(st.sampled_from(["--force"]), max_size=1),
       shape=st.sampled_from([(0,), (2, 16, 16), (2, 1, 16, 16), (1, 3, 16, 16), (2, 1, 8, 8)]),
       dtype=st.sampled_from([np.uint8, np.float32]))
def test_anomaly_never_traces_back(blob_runs, tmp_path_factory, sub, opts, flags, shape, dtype):
    """The property above, for ``anomaly score`` and ``anomaly eval``: any mix of options and input arrays
    ends in exit 0, 2 or 130, never a traceback."""
    where = tmp_path_factory.mktemp("prop-anomaly")
    np.save(where / "in.npy", np.zeros(shape, dtype))
    argv = ["anomaly", sub, str(blob_runs("ganomaly"))]
    for flag, value in opts:
        if flag == "--input":
            value = str(where / "in.npy")
        elif flag in ("--out", "--maps") and value == "x":
            value = str(where / {"score": "s.npy", "eval": "r.json"}[sub] if flag == "--out" else where / "maps")
        argv += [flag, value]
    if sub == "score" and "--input" not in argv:
        argv += ["--input", str(where / "in.npy")]
    argv += flags
    assert _exit_code_in(where, argv) in (0, 2, 130)
