"""The data benchmark (issue 26): ``ganforge dataset``'s speed, the store loader against a training step, and the
memory of training from a store of 10k against 200k images.

The source is a generated folder of mixed-size JPEG and PNG files: ``--n`` images drawn at random from the
training half of the CIFAR-10 JPEG copy (``../shared/data/cifar10-jpeg.tar.gz``, a public JPEG re-encoding of
CIFAR-10, not the official release), each resized (bicubic) to a random size with a short side of 256-384 px
and an aspect ratio of 3:4 to 4:3, every second one written as PNG and the others as JPEG (quality 90). So
the build decodes and resizes real-world-sized files of both formats, as it would a user's photos.

1. **Build speed**: what ``ganforge dataset SRC --out DEST --resolution R --crop center`` runs (``build_store``:
   both passes, the report, the rename), timed in-process at 64 and 256 px: images written per second; the
   command's start-up (Python and torch imports) is timed apart, as ``ganforge dataset --help``.
2. **Loader against a step**: the store's batches through ``training.stream.StreamedBatches`` (the DataLoader
   training uses, default workers, batch 64, scaled to floats) after a warm-up, in images/s; against it, the
   images/s a DCGAN step consumes at that size on the CPU: ``ganforge train dcgan-mnist --set auto=true`` on the
   store (auto configuration: at 64 px base width 64 and batch 128, at 256 px base width 16 and batch 32),
   read from stats.jsonl after the first log interval. The goal: the loader at least 5x faster.
3. **Memory**: peak resident memory of ``ganforge train`` (the process and its DataLoader workers, summed,
   sampled every 0.1 s from /proc) training the same small DCGAN for the same steps from a store of 10k and
   one of 200k images at 64 px. Both are the 64 px store built in step 1 repeated row-wise (5x and 100x):
   training reads rows, not their content, and a decode of 200k files would cost this shared machine minutes
   for nothing measured here. Reported: the summed RSS (counts the mapped store pages each process touched,
   so shared pages more than once) and the summed anonymous RSS (what the processes allocated). The goal:
   the same within 200 MB (an in-memory copy of 200k images at 64 px would be 2.46 GB).

    python benchmarks/data.py --work /tmp/databench --n 2000 --json /tmp/databench/results.json

The machine's load (``uptime``) is recorded beside the figures: on a shared machine they vary with it.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.store import IMAGES, MANIFEST, MEAN
from ganforge.data.store_build import BuildOptions, build_store
from ganforge.training.batches import real_batches
from ganforge.training.stream import WORKERS

TAR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
SHORT_SIDE = (256, 384)  # random short side of the generated files: photo-like sizes, all >= 256 (no skips)
ASPECT = (0.75, 4 / 3)
BATCH = 64  # the loader's batch
LOADER_BATCHES = 60  # batches timed after the warm-up
PARTS = {"speed", "loader", "memory"}  # --parts' choices
STEP_SETS = ["auto=true", "log.every=1", "log.tensorboard=false", "log.progress=false", "log.diversity_n=0",
             "log.sample_every=1000", "log.checkpoint_every=1000"]
MEMORY_SETS = ["model.g={arch: dcgan, base_channels: 16}", "model.d={arch: dcgan, base_channels: 16}",
               "train.batch_size=64", "log.every=50", "log.tensorboard=false", "log.progress=false",
               "log.diversity_n=0", "log.sample_every=100000", "log.checkpoint_every=100000"]
MEMORY_STEPS = 200  # steps of each memory run: 12,800 images, past one epoch of the 10k store
REPEATS = {"10k": 5, "200k": 100}  # rows of the 2k-image store repeated: 10k and 200k images


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def make_source(dest: Path, n: int, seed: int) -> dict:
    """``n`` random training images of the CIFAR-10 JPEG copy, resized to random sizes, as JPEG and PNG."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with tarfile.open(TAR) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and "/train/" in m.name and m.name.endswith(".jpg")]
        chosen = sorted(rng.choice(len(members), n, replace=False))
        kinds = {"jpg": 0, "png": 0}
        for k, i in enumerate(chosen):
            img = Image.open(io.BytesIO(tar.extractfile(members[i]).read())).convert("RGB")
            short, aspect = int(rng.integers(*SHORT_SIDE)), float(rng.uniform(*ASPECT))
            w, h = (int(short * aspect), short) if aspect >= 1 else (short, int(short / aspect))
            img = img.resize((w, h), Image.BICUBIC)
            kind = "png" if k % 2 else "jpg"
            img.save(dest / f"{k:06d}.{kind}", **({"quality": 90} if kind == "jpg" else {}))
            kinds[kind] += 1
    return {"images": n, **kinds, "bytes": sum(p.stat().st_size for p in dest.iterdir())}


def build_speed(src: Path, out: Path, res: int) -> dict:
    """build_store, what ``ganforge dataset`` runs, timed in this process (both passes, the report, the rename);
    the command's own start-up (Python, torch) is timed apart, once."""
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    report = build_store(src, out, BuildOptions(resolution=res, crop="center"))
    wall = time.perf_counter() - t0
    return {"resolution": res, "written": report.written, "wall_s": round(wall, 2),
            "images_per_s": round(report.written / wall, 1)}


def cli_startup() -> float:
    """Seconds ``ganforge dataset --help`` takes: the fixed cost the command adds to build_store."""
    t0 = time.perf_counter()
    subprocess.run(["ganforge", "dataset", "--help"], capture_output=True, check=True)
    return round(time.perf_counter() - t0, 2)


def loader_speed(store: Path) -> dict:
    ds = load_dataset(f"store:{store}")
    batches = real_batches(ds.x, ds.y, BATCH, seed=0, device=torch.device("cpu"), output_range=(-1.0, 1.0))
    for _ in range(5):  # workers started, first pages read
        batches.next()
    t0 = time.perf_counter()
    for _ in range(LOADER_BATCHES):
        x, _ = batches.next()
    wall = time.perf_counter() - t0
    return {"images_per_s": round(LOADER_BATCHES * BATCH / wall, 1), "workers": WORKERS,
            "batch": BATCH, "shape": list(x.shape[1:])}


def step_speed(store: Path, work: Path, steps: int) -> dict:
    run = work / f"step-{store.name}"
    cmd = ["ganforge", "train", "dcgan-mnist", "--out", str(run), "--force", "--steps", str(steps), "--device", "cpu",
           "--set", f"data.name=store:{store}", *[a for s in STEP_SETS for a in ("--set", s)]]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    rates = [s["img_per_s"] for s in stats if "img_per_s" in s][1:]  # the first interval holds the start-up
    cfg = (run / "config.yaml").read_text()
    return {"images_per_s": round(float(np.mean(rates)), 1), "steps": steps,
            "batch": int(next(line.split(":")[1] for line in cfg.splitlines() if "batch_size" in line)),
            "base_channels": int(next(line.split(":")[1] for line in cfg.splitlines() if "base_channels" in line))}


def repeated_store(src: Path, dest: Path, repeats: int) -> Path:
    """``src``'s rows ``repeats`` times over, written a copy at a time (flat memory); the manifest says so."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    block = (src / IMAGES).read_bytes()
    with open(dest / IMAGES, "wb") as f:
        for _ in range(repeats):
            f.write(block)
    meta = json.loads((src / MANIFEST).read_text())
    meta["shape"][0] *= repeats
    meta["labels"] = False
    meta["classes"] = None
    meta["source"] = f"{src} repeated {repeats}x row-wise (benchmarks/data.py)"
    shutil.copyfile(src / MEAN, dest / MEAN)
    (dest / MANIFEST).write_text(json.dumps(meta))
    return dest


def _tree_rss(root: int) -> tuple[int, int]:
    """(sum of VmRSS, sum of RssAnon) in bytes over ``root`` and its descendants."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier += kids
    rss = anon = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) * 1024
            elif line.startswith("RssAnon:"):
                anon += int(line.split()[1]) * 1024
    return rss, anon


def training_memory(store: Path, work: Path, steps: int) -> dict:
    run = work / f"mem-{store.name}"
    cmd = ["ganforge", "train", "dcgan-mnist", "--out", str(run), "--force", "--steps", str(steps),
           "--device", "cpu", "--set", f"data.name=store:{store}", *[a for s in MEMORY_SETS for a in ("--set", s)]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0, 0]

    def sample():
        while proc.poll() is None:
            rss, anon = _tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], anon)
            time.sleep(0.1)

    t = threading.Thread(target=sample)
    t0 = time.perf_counter()
    t.start()
    _, err = proc.communicate()
    t.join()
    if proc.returncode:
        raise SystemExit(err)
    images = json.loads((store / MANIFEST).read_text())["shape"][0]
    return {"images": images, "store_bytes": (store / IMAGES).stat().st_size, "steps": steps,
            "wall_s": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": round(peak[0] / 2**20, 1), "peak_anon_rss_mb": round(peak[1] / 2**20, 1)}


def markdown(r: dict) -> str:
    b, lo, mem = r["build"], r["loader"], r["memory"]
    src = r["source"]
    out = [f"Source: {src['images']:,} files ({src['jpg']:,} JPEG, {src['png']:,} PNG, "
           f"{src['bytes'] / 2**20:.0f} MB), from the CIFAR-10 JPEG copy resized to short sides of "
           f"{SHORT_SIDE[0]}-{SHORT_SIDE[1]} px. Load: {r['uptime']}", "",
           "| `ganforge dataset` | images | wall | images/s |", "|---|---|---|---|"]
    out += [f"| --resolution {x['resolution']} --crop center | {x['written']:,} | {x['wall_s']:.1f} s | "
            f"{x['images_per_s']:.0f} |" for x in b]
    out += ["", f"(plus {r['cli_startup_s']:.1f} s of start-up per command, `ganforge dataset --help`)"]
    out += ["", "| px | loader images/s (workers, batch) | DCGAN step images/s (auto: base width, batch) | ratio |",
            "|---|---|---|---|"]
    for res, row in lo.items():
        s = r["step"][res]
        out.append(f"| {res} | {row['images_per_s']:.0f} ({row['workers']}, {row['batch']}) | "
                   f"{s['images_per_s']:.1f} ({s['base_channels']}, {s['batch']}) | "
                   f"{row['images_per_s'] / s['images_per_s']:.0f}x |")
    steps = next(iter(mem.values()))["steps"]
    out += ["", f"| store (64 px) | store size | {steps} steps | peak RSS, summed | peak anonymous RSS, summed |",
            "|---|---|---|---|---|"]
    for name, m in mem.items():
        out.append(f"| {m['images']:,} images | {m['store_bytes'] / 2**30:.2f} GiB | {m['wall_s']:.0f} s | "
                   f"{m['peak_rss_mb']:.0f} MB | {m['peak_anon_rss_mb']:.0f} MB |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, required=True, help="scratch folder (the source, stores, runs)")
    p.add_argument("--n", type=int, default=2000, help="generated source images (default 2000)")
    p.add_argument("--step-steps", type=int, default=4,
                   help="steps of each DCGAN step-speed run (default 4: a CPU step at 64 px takes tens of seconds)")
    p.add_argument("--memory-steps", type=int, default=MEMORY_STEPS, help=f"steps of each memory run ({MEMORY_STEPS})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parts", default="speed,memory",
                   help="speed (source, build, loader, step), memory, or both (default); loader alone; loader and "
                        "memory read the stores the speed part built in --work")
    p.add_argument("--json", type=Path, help="write the results here (and the table beside it, .md)")
    args = p.parse_args(argv)
    if args.n < max(BATCH, 128):  # the loader's batch, and auto's batch at 64 px: fewer images is no batch
        p.error(f"--n must be at least {max(BATCH, 128)} (a batch of the loader and of the 64 px DCGAN), got {args.n}")
    if args.step_steps < 2:  # the first interval's rate holds the start-up and is left out
        p.error(f"--step-steps must be at least 2 (the first interval is start-up, left out), got {args.step_steps}")
    work, parts = args.work, set(args.parts.split(","))
    if unknown := sorted(parts - PARTS):
        p.error(f"--parts: unknown part(s) {', '.join(map(repr, unknown))}; choose from {', '.join(sorted(PARTS))}, "
                "comma-separated (e.g. speed,memory)")
    r: dict = {"uptime_start": uptime(), "argv": sys.argv}
    if "speed" in parts:
        r["source"] = make_source(work / "src", args.n, args.seed)
        print("source:", r["source"], flush=True)
        r["build"] = [build_speed(work / "src", work / f"store{res}", res) for res in (64, 256)]
        r["cli_startup_s"] = cli_startup()
        print("build:", r["build"], flush=True)
        r["loader"] = {res: loader_speed(work / f"store{res}") for res in (64, 256)}
        print("loader:", r["loader"], flush=True)
        r["step"] = {res: step_speed(work / f"store{res}", work, args.step_steps) for res in (64, 256)}
        print("step:", r["step"], flush=True)
    if "loader" in parts:  # the loader alone, on the stores the speed part built
        r["loader"] = {res: loader_speed(work / f"store{res}") for res in (64, 256)}
        print("loader:", r["loader"], flush=True)
    r["memory"] = {}
    for name, repeats in REPEATS.items() if "memory" in parts else ():
        store = repeated_store(work / "store64", work / f"store64-{name}", repeats)
        r["memory"][name] = training_memory(store, work, args.memory_steps)
        print("memory:", name, r["memory"][name], flush=True)
        if name != "10k":
            shutil.rmtree(store)
    r["uptime"] = uptime()
    text = markdown(r) if parts == {"speed", "memory"} else json.dumps(r, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r, indent=1))
        args.json.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
