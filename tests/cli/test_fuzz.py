"""Fuzzing the ``ganforge`` command: random (seeded) bad paths, bad values and damaged files for every
subcommand, each run as a new process the way a user runs it.

Every case must end with exit code 2, at most 2 lines on stderr and no traceback, and must leave
every file outside the run directory as it was (the sandbox is snapshotted before and after).
Bounded to well under a minute: a fixed number of cases, run a few at a time.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")
SEED = int(os.environ.get("GANFORGE_FUZZ_SEED", "20261126"))
CASES = int(os.environ.get("GANFORGE_FUZZ_CASES", "26"))
TINY = ["--set", "log.tensorboard=false", "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[8]",
        "--set", "log.every=5", "--set", "log.checkpoint_every=5", "--set", "train.batch_size=16"]


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A sandbox holding a trained run, a damaged copy of it and an assortment of bad files."""
    root = tmp_path_factory.mktemp("fuzz-template")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["train", "gan2014-digits", "--steps", "5", "--out", "run", *TINY]) == 0
    finally:
        os.chdir(cwd)
    shutil.copytree(root / "run", root / "damaged")
    for ckpt in (root / "damaged" / "checkpoints").iterdir():
        _damage(ckpt / "G.safetensors")
    shutil.copytree(root / "run", root / "badconfig")
    (root / "badconfig" / "config.yaml").write_text("model: [unclosed\n")
    (root / "notes.txt").write_text("the user's own file\n")
    (root / "folder").mkdir()
    (root / "folder" / "thesis.txt").write_text("four years\n")
    (root / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    (root / "table.npz").write_text("x,y\n1,2\n")
    np.save(root / "empty.npy", np.zeros((0, 1, 8, 8), np.uint8))
    np.save(root / "points.npy", np.zeros((10, 2), np.float32))
    (root / "bad.yaml").write_text("train: {steps: [\n")
    (root / "existing.npy").write_bytes(b"precious")
    (root / "existing.png").write_bytes(b"precious")
    (root / "existing.json").write_text("{}")
    return root


# Each mutation alone makes its command fail with one line; a case combines one or two of them.
RUN_SOURCES = ["run", "damaged", "badconfig", "nowhere", "notes.txt", "folder"]
MUTATIONS = {
    "train": [
        ["no-such-preset"], ["bad.yaml"], ["notes.txt"], ["--steps", "-3"], ["--steps", "many"],
        ["--set", "train.batchsize=3"], ["--set", "train.d_steps=abc"], ["--set", "model.g.hidden=[256,-3]"],
        ["--set", "model.d.input_dropout=2"], ["--set", "data.name=folder:nowhere"], ["--set", "data.name=npz:table.npz"],
        ["--set", "data.name=npz:garbage.npy"], ["--set", "optim.g.betas=[2,0.9]"], ["--set", "noequals"],
        ["--out", "notes.txt"], ["--out", "folder"], ["--out", "folder", "--force"], ["--out", ".", "--force"],
        ["--out", "folder", "--resume"], ["--data-dir", "notes.txt", "--set", "data.name=mnist"], ["--device", "tpu"], ["--device", "cuda:7"],
        ["--out", "run", "--force", "--set", "data.name=mnsit"], ["--out", "damaged", "--resume"],
        ["--bogus-flag"],
    ],
    "sample": [
        ["--n", "0"], ["--n", "-4"], ["--n", "lots"], ["--out", "s.txt"], ["--out", "existing.npy"],
        ["--out", "folder"], ["--out", "notes.txt/s.npy"], ["--grid", "s.gif"], ["--grid", "existing.png"],
        ["--checkpoint", "nowhere"], ["--checkpoint", "best"], ["--class", "3"], ["--device", "cuda"],
        ["--device", "tpu"], ["--truncation", "-1"],
    ],
    "eval": [
        ["--metrics", "fdi"], ["--n", "1"], ["--n", "x"], ["--json", "existing.json"], ["--json", "folder"],
        ["--checkpoint", "nowhere"], ["--dataset", "digits"], ["--device", "cuda"],
    ],
    "eval-samples": [
        ["--samples", "garbage.npy"], ["--samples", "nowhere.npy"], ["--samples", "empty.npy"],
        ["--samples", "notes.txt"], ["--dataset", "mnsit"], ["--labels", "garbage.npy"], ["--metrics", "fdi"],
        ["--json", "existing.json"],
    ],
    "figures": [
        ["--n", "1"], ["--n", "x"], ["--out", "notes.txt"], ["--checkpoint", "nowhere"], ["--device", "cuda"],
    ],
}


def _case(rng: random.Random) -> tuple[str, list[str], str | None]:
    """(name, argv, run directory or None) for one random case."""
    command = rng.choice(list(MUTATIONS))
    picks = rng.sample(MUTATIONS[command], k=rng.choice([1, 1, 2]))
    extra = [arg for pick in picks for arg in pick]
    run = rng.choice(RUN_SOURCES)
    if command == "train":
        positional = any(not pick[0].startswith("-") for pick in picks)
        argv = ["train", *([] if positional else ["gan2014-digits"]), *TINY, *extra]  # the bad --set wins
        argv += [] if "--steps" in extra else ["--steps", "5"]
        argv += [] if "--out" in extra else ["--out", "newrun"]
        run = argv[argv.index("--out") + 1]
    elif command == "sample":
        good = {"--n": ["--n", "8"], "--out": ["--out", "s.npy"]}
        argv = ["sample", rng.choice(["run", run]), *extra,
                *[a for flag, args in good.items() if flag not in extra for a in args]]
        if argv[1] == "run" and len(picks) == 1 and picks[0][0] == "--truncation":
            argv.append("--bogus-flag")  # a valid truncation could succeed: keep every case an error
    elif command == "eval":
        argv = ["eval", run, *extra]
    elif command == "eval-samples":
        base = {"--samples": ["--samples", "points.npy"], "--dataset": ["--dataset", "ring8"]}
        argv = ["eval", *extra, *[a for flag, args in base.items() if flag not in extra for a in args]]
        run = None
    else:
        argv = ["figures", run, *extra]
    return f"{command}: {' '.join(extra)}", argv, run


def _snapshot(root: Path, skip: Path | None) -> dict[str, str]:
    found = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        found[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return found


def _run_case(template: Path, work: Path, index: int, argv: list[str], run: str | None, data_dir: Path):
    sandbox = work / f"case{index:03d}"
    shutil.copytree(template, sandbox, symlinks=True)
    run_dir = (sandbox / run) if run else None
    before = _snapshot(sandbox, run_dir)
    env = {**os.environ, "PYTHONPATH": SRC, "GANFORGE_DATA": str(data_dir), "GANFORGE_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "ganforge", *argv], cwd=sandbox, env=env, capture_output=True,
                          text=True, timeout=120)
    after = _snapshot(sandbox, run_dir)
    shutil.rmtree(sandbox, ignore_errors=True)
    return proc, before, after


def test_fuzz_every_subcommand(template, tmp_path):
    rng = random.Random(SEED)
    cases = [_case(rng) for _ in range(CASES)]
    assert {name.split(":")[0] for name, _, _ in cases} == set(MUTATIONS)  # every subcommand is hit
    data_dir = tmp_path / "data"
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda ic: _run_case(template, tmp_path, ic[0], ic[1][1], ic[1][2], data_dir),
                                enumerate(cases)))
    failures = []
    for (name, argv, _), (proc, before, after) in zip(cases, results):
        err = proc.stderr.strip().splitlines()
        problems = []
        if proc.returncode != 2:
            problems.append(f"exit {proc.returncode}")
        if len(err) > 2 or not err:
            problems.append(f"{len(err)} stderr lines")
        if "Traceback" in proc.stderr:
            problems.append("traceback")
        if before != after:
            changed = sorted(set(before.items()) ^ set(after.items()))
            problems.append(f"touched {changed[:3]}")
        if problems:
            failures.append(f"[{', '.join(problems)}] ganforge {' '.join(argv)}\n    {proc.stderr.strip()[-600:]}")
    assert not failures, f"seed {SEED}: {len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)
