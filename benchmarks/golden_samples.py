"""Golden samples: sha256 of ``ganforge sample`` output for fixed presets, seeds and budgets.

A refactor of the engine must not change a single sample. This script trains each case below
through the real command line (``ganforge train``), samples it with ``--seed 1`` and hashes the
``.npy`` file. ``--record`` writes the hashes to ``golden_samples.json`` beside this file;
without it the script compares and exits 1 on any difference.

    python benchmarks/golden_samples.py --record      # before a change
    python benchmarks/golden_samples.py               # after it: every case must say "same"
    python benchmarks/golden_samples.py --only gan2014-digits

PyTorch makes no bitwise promise across thread counts (a Linear layer already differs between
1 and 2 threads), CPU instruction sets or torch versions, so the thread count is fixed here and
the file records the torch version and CPU it was made with; ``tests/test_golden_samples.py``
skips (saying why) on a machine that differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
from pathlib import Path

import torch

from ganforge.cli import main as ganforge

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden_samples.json"
THREADS = 2

# name -> (preset, steps, extra `--set` overrides). The first three are the issue's; the rest
# cover every loss term, phase and technique, so a change in the order of random draws shows.
CASES: dict[str, tuple[str, int, list[str]]] = {
    "gan2014-digits": ("gan2014-digits", 1500, []),
    "ring8-best": ("ring8-best", 1000, []),
    "dcgan-digits": ("dcgan-digits", 200, []),
    "digits-wgan-gp-ema": ("gan2014-digits", 60, ["loss.d=wasserstein", "loss.g=wasserstein", "reg.gp=10",
                                                   "train.d_steps=2", "ema.beta=0.9"]),
    "digits-r1-fm-hist-ortho": ("gan2014-digits", 60, ["reg.r1=1", "reg.r1_every=4", "reg.feature_matching=0.5",
                                                        "reg.historical=0.1", "reg.ortho=1e-4",
                                                        "loss.real_label=0.9"]),
    "dcgan-digits-augment-noise-clip": ("dcgan-digits", 30, ["augment.policy=color,translation,cutout",
                                                             "reg.instance_noise=0.1", "reg.clip=0.05",
                                                             "loss.d=least-squares", "loss.g=least-squares"]),
    "cgan-digits-hinge": ("cgan-mnist", 20, ["data.name=digits", "model.z_dim=32", "model.g.base_channels=16",
                                             "model.d.base_channels=16", "train.batch_size=32"]),
    "acgan-digits": ("acgan-mnist", 20, ["data.name=digits", "model.z_dim=32", "model.g.base_channels=16",
                                         "model.d.base_channels=16", "train.batch_size=32", "reg.r1=0.5"]),
}


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"torch": torch.__version__, "machine": platform.machine(), "cpu": cpu, "threads": str(THREADS)}


def run_case(name: str, work: Path) -> str:
    preset, steps, sets = CASES[name]
    run, out = work / name, work / f"{name}.npy"
    args = ["train", preset, "--out", str(run), "--steps", str(steps), "--device", "cpu", "--seed", "0",
            "--set", "log.progress=false", "--set", "log.tensorboard=false"]
    for item in sets:
        args += ["--set", item]
    if ganforge(args) != 0:
        raise SystemExit(f"training {name} failed")
    if ganforge(["sample", str(run), "--n", "256", "--seed", "1", "--out", str(out)]) != 0:
        raise SystemExit(f"sampling {name} failed")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def compute(names: list[str]) -> dict[str, str]:
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        return {name: run_case(name, Path(tmp)) for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the hashes instead of comparing")
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="run only these cases")
    args = parser.parse_args(argv)
    names = args.only or list(CASES)
    hashes = compute(names)
    if args.record:
        GOLDEN.write_text(json.dumps({"machine": machine(), "sha256": hashes}, indent=1) + "\n")
        print(f"recorded {len(hashes)} cases in {GOLDEN}")
        return 0
    golden = json.loads(GOLDEN.read_text())
    if golden["machine"] != machine():
        print(f"note: recorded on {golden['machine']}, this is {machine()}: differences may be the machine's")
    bad = 0
    for name, digest in hashes.items():
        same = golden["sha256"].get(name) == digest
        bad += not same
        print(f"{name:<36} {'same' if same else 'DIFFERENT'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
