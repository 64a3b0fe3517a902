"""Golden samples: sha256 of a trained run's output for fixed presets, seeds and budgets, one case per recipe.

A refactor of the engine must not change a single sample. This script trains each case below
through the real command line (``ganforge train``), then hashes the ``.npy`` its recipe's own output
command writes: ``ganforge sample --seed 1`` for the noise-to-image recipes (style-based,
progressive, DP and GANomaly's decoder included), ``ganforge translate`` of fixed digits for the
translation recipes, ``ganforge upscale`` of fixed digits for the super-resolution recipes and
``ganforge anomaly score`` of fixed digits for the anomaly recipes (which covers f-AnoGAN's encoder),
and the ``.csv`` of ``ganforge sample --seed 1`` for the table recipes (tabular, dp-tabular). The inputs
are made here from scikit-learn's digits and wine, so no case needs a download.

    python benchmarks/golden_samples.py --record      # before a change: (re)write every hash
    python benchmarks/golden_samples.py               # after it: every case must say "same"
    python benchmarks/golden_samples.py --only gan2014-digits
    python benchmarks/golden_samples.py --record --only stylegan2-digits   # one case; the others are kept

Regenerate a hash (after a change that is *meant* to change samples, e.g. a fix to a net or to
the EMA) with ``nice -n 10 python benchmarks/golden_samples.py --record [--only NAME]``, and commit
benchmarks/golden_samples.json with the change.

PyTorch makes no bitwise promise across thread counts (a Linear layer already differs between
1 and 2 threads), CPU instruction sets or torch versions, so the thread count is fixed here and
the file keeps one record per machine (torch version, architecture, CPU name and, where recorded, the
instruction set torch dispatches to). ``tests/test_golden_samples.py`` compares with the record of a
machine like this one and skips (saying why) where there is none. Recording a case whose hash
*changed* on this machine drops that case from the other machines' records: their old hash is stale,
and only their own machine can record the new one (until then the case is checked where it was
recorded, and the test says which cases it leaves to other machines).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits, load_wine

from ganforge.cli import main as ganforge
from ganforge.data.translation_tasks import canny_edges
from ganforge.runs.rundir import cpu_name

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden_samples.json"
THREADS = 2

# name -> (preset, steps, extra `--set` overrides). The first three are the issue's; the next five
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
    # One case for every other recipe, at tiny widths and budgets (a few seconds each). "{work}" is the
    # folder the inputs are written to (see `prepare`), "{run:NAME}" the run directory of case NAME.
    "stylegan2-digits": ("stylegan2-mnist", 12, ["data.name=digits", "model.z_dim=8", "model.g.channels=8",
                                                 "model.g.w_dim=16", "model.g.mapping_layers=2", "model.d.channels=8",
                                                 "train.batch_size=16", "reg.r1=0.01", "reg.r1_every=4",
                                                 "reg.path_length=2", "reg.path_length_every=2"]),
    # the paper's WGAN-GP form (progan-mnist, the CPU size, is non-saturating + R1); same hash as before round 10
    "progan-digits": ("progan-mnist-paper", 12, ["data.name=digits", "model.z_dim=8", "model.g.channels=8",
                                           "model.d.channels=8", "train.batch_size=8", "growth.fade_images=32",
                                           "growth.stable_images=32"]),
    "biggan-digits": ("biggan-cifar", 6, ["data.name=digits", "model.z_dim=20", "model.g.channels=16",
                                          "model.g.shared_dim=8", "model.d.channels=16", "train.batch_size=16",
                                          "reg.ortho=1e-4"]),
    "dp-cgan-digits": ("dp-cgan-mnist", 10, ["data.name=digits", "model.z_dim=16", "model.g.base_channels=8",
                                             "model.d.base_channels=8", "train.batch_size=32"]),
    "pix2pix-edges-digits": ("pix2pix-edges", 10, ["data.name=npz:{work}/edges.npz", "model.g.depth=4",
                                                   "model.g.base_channels=4", "model.d.layers=1",
                                                   "model.d.base_channels=4", "train.batch_size=8"]),
    "cyclegan-inverted-digits": ("cyclegan-inverted", 6, ["data.name=npz:{work}/inverted.npz", "model.g.blocks=1",
                                                          "model.g.base_channels=4", "model.d.layers=1",
                                                          "model.d.base_channels=4", "train.batch_size=4",
                                                          "translation.pool_size=4"]),
    "srresnet-digits": ("srresnet-x4", 20, ["data.name=digits", "superres.hr_crop=8", "model.g.scale=2",
                                            "model.g.channels=8", "model.g.blocks=1", "train.batch_size=16"]),
    "srgan-digits": ("srgan-x4", 10, ["data.name=digits", "superres.hr_crop=8", "model.g.scale=2",
                                      "model.g.channels=8", "model.g.blocks=1", "model.d.base_channels=8",
                                      "model.d.stages=2", "model.d.dense=16", "train.batch_size=16",
                                      "superres.init_g={run:srresnet-digits}"]),
    "fanogan-digits": ("fanogan-mnist-paper", 16, ["data.name=digits", "data.digit=null", "model.z_dim=8",
                                             "model.g.base_channels=8", "model.d.base_channels=8",
                                             "train.batch_size=16", "anomaly.encoder_steps=8"]),
    "ganomaly-digits": ("ganomaly-mnist", 10, ["data.name=digits", "data.digit=null", "model.z_dim=8",
                                               "model.g.base_channels=8", "model.d.base_channels=8",
                                               "train.batch_size=16"]),
    "ssgan-digits": ("ssgan-mnist-100", 10, ["data.name=digits", "train.batch_size=30", "model.g.hidden=[32,32]",
                                             "model.d.hidden=[32,16]"]),
    "ctgan-wine": ("ctgan-fast", 20, ["data.name=csv:{work}/wine.csv", "data.target=target", "model.g.hidden=[32,32]",
                                      "model.d.hidden=[32,32]", "train.batch_size=50", "model.d.pack=5",
                                      "tabular.score_rows=50", "log.every=10"]),
    "dp-ctgan-wine": ("dp-ctgan", 10, ["data.name=csv:{work}/wine.csv", "data.target=target", "tabular.epochs=null",
                                       "model.g.hidden=[32,32]", "model.d.hidden=[32,32]", "train.batch_size=50"]),
}
# How a case's run is turned into the hashed .npy: "sample" (the default) or its recipe's own command.
OUTPUT: dict[str, str] = {"pix2pix-edges-digits": "translate", "cyclegan-inverted-digits": "translate",
                          "srresnet-digits": "upscale", "srgan-digits": "upscale", "fanogan-digits": "score",
                          "ganomaly-digits": "score", "ctgan-wine": "table", "dp-ctgan-wine": "table"}


def machine() -> dict[str, str]:
    return {"torch": torch.__version__, "machine": platform.machine(), "cpu": cpu_name(), "threads": str(THREADS),
            "isa": torch.backends.cpu.get_cpu_capability()}


def is_like(recorded: dict[str, str], here: dict[str, str]) -> bool:
    """A record made on a machine like ``here``: every key it states agrees (a record older than the ``isa`` key
    does not state it)."""
    return all(here.get(key) == value for key, value in recorded.items())


def load_records() -> list[dict]:
    """The file's per-machine records, ``[{"machine": ..., "sha256": {case: hash}}, ...]`` (a file of the
    older one-machine form is one record)."""
    if not GOLDEN.exists():
        return []
    kept = json.loads(GOLDEN.read_text())
    return kept["records"] if "records" in kept else [kept]


def record_for(records: list[dict], here: dict[str, str]) -> dict | None:
    return next((r for r in records if is_like(r["machine"], here)), None)


def recorded(records: list[dict], hashes: dict[str, str], here: dict[str, str]) -> tuple[list[dict], list[str]]:
    """``records`` with ``hashes`` recorded for this machine, and the notes on what that dropped elsewhere: a case
    whose hash changed here is stale on every other machine."""
    mine = record_for(records, here)
    others = [r for r in records if r is not mine]
    before = mine["sha256"] if mine else {}
    changed = [name for name, digest in hashes.items() if name in before and before[name] != digest]
    notes = []
    for other in others:
        dropped = [name for name in changed if other["sha256"].pop(name, None) is not None]
        if dropped:
            notes.append(f"dropped {', '.join(dropped)} from the record of {other['machine']['cpu']} (changed here; "
                         f"record them there)")
    machine_now = {**(mine["machine"] if mine else {}), **here}
    return [*others, {"machine": machine_now, "sha256": {**before, **hashes}}], notes


def prepare(work: Path) -> None:
    """The fixed inputs: scikit-learn's digits at 8 px and doubled to 16 px, edge -> digit pairs and an
    unpaired digit / inverted-digit set (as tests/recipes/translation_data.py makes them); scikit-learn's wine
    as a CSV table, its target the class names."""
    if not (work / "wine.csv").exists():
        wine = load_wine()
        table = pd.DataFrame(wine.data, columns=wine.feature_names)
        table["target"] = [str(wine.target_names[t]) for t in wine.target]
        table.to_csv(work / "wine.csv", index=False)
    if (work / "digits8.npy").exists():
        return
    d = load_digits()
    x8 = np.round(d.images[:200] * (255 / 16)).astype(np.uint8)[:, None]
    x16 = np.kron(x8, np.ones((1, 1, 2, 2), np.uint8))
    np.save(work / "digits8.npy", x8[:64])
    np.save(work / "digits16.npy", x16[:64])
    np.savez(work / "edges.npz", a=canny_edges(x16), b=x16, y=d.target[:200], paired=True)
    np.savez(work / "inverted.npz", a=x16[:100], b=255 - x16[100:], y=d.target[:100], paired=False)


def fill(item: str, work: Path) -> str:
    """``item`` with ``{work}`` and ``{run:NAME}`` filled in; NAME is trained first if it has not been."""
    item = item.replace("{work}", str(work))
    while "{run:" in item:
        start = item.index("{run:")
        end = item.index("}", start)
        dependency = item[start + 5:end]
        if not (work / dependency).exists():
            run_case(dependency, work)
        item = item[:start] + str(work / dependency) + item[end + 1:]
    return item


def output_args(name: str, run: Path, out: Path, work: Path) -> list[str]:
    kind = OUTPUT.get(name, "sample")
    if kind in ("sample", "table"):
        return ["sample", str(run), "--n", "256", "--seed", "1", "--out", str(out)]
    if kind == "translate":
        return ["translate", str(run), "--input", str(work / "digits16.npy"), "--out", str(out)]
    if kind == "upscale":
        return ["upscale", str(run), "--input", str(work / "digits8.npy"), "--out", str(out)]
    return ["anomaly", "score", str(run), "--input", str(work / "digits8.npy"), "--out", str(out)]


def run_case(name: str, work: Path) -> str:
    preset, steps, sets = CASES[name]
    prepare(work)
    run, out = work / name, work / f"{name}.{'csv' if OUTPUT.get(name) == 'table' else 'npy'}"
    args = ["train", preset, "--out", str(run), "--steps", str(steps), "--device", "cpu", "--seed", "0",
            "--set", "log.progress=false", "--set", "log.tensorboard=false"]
    for item in sets:
        args += ["--set", fill(item, work)]
    if ganforge(args) != 0:
        raise SystemExit(f"training {name} failed")
    if ganforge(output_args(name, run, out, work)) != 0:
        raise SystemExit(f"{OUTPUT.get(name, 'sampling')} {name} failed")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def compute(names: list[str]) -> dict[str, str]:
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        return {name: run_case(name, Path(tmp)) for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="regenerate every hash of this machine after an intended change:\n"
               "  nice -n 10 python benchmarks/golden_samples.py --record\n"
               "one case only, keeping the other hashes:\n"
               "  nice -n 10 python benchmarks/golden_samples.py --record --only stylegan2-digits")
    parser.add_argument("--record", action="store_true",
                        help="write this machine's hashes instead of comparing (with --only: those cases, the "
                             "others kept)")
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="run only these cases")
    args = parser.parse_args(argv)
    names = args.only or list(CASES)
    hashes = compute(names)
    records, here = load_records(), machine()
    if args.record:
        records, notes = recorded(records, hashes, here)
        GOLDEN.write_text(json.dumps({"records": records}, indent=1) + "\n")
        print(f"recorded {len(names)} cases for {here} in {GOLDEN}")
        for note in notes:
            print(note)
        return 0
    golden = record_for(records, here)
    if golden is None:
        golden = records[0]
        print(f"note: no record for {here}; comparing with {golden['machine']}: differences may be the machine's")
    bad = 0
    for name, digest in hashes.items():
        kept = golden["sha256"].get(name)
        same = kept == digest
        bad += not same
        print(f"{name:<36} {'same' if same else 'DIFFERENT' if kept else 'NOT RECORDED (run with --record)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
