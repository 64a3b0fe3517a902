"""``ganforge export``: a run's samples as a dataset (an .npz or PNG folders by class) with a datasheet.

The samples stream to disk a chunk at a time (memory: one chunk, however large ``--n``), with a
progress bar and ETA on a terminal. Everything is checked first (``--n``, the output paths,
``--class-balanced`` and ``--truncation`` against what the run's model can do, the free space);
the output appears under its name only when complete, datasheet included, and a full disk or
Ctrl-C removes what was written (see :mod:`ganforge.synthetic.export`).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ganforge import capabilities as cap
from ganforge import outputs, progress
from ganforge.cli import options
from ganforge.cli.device import device_option
from ganforge.cli.help import examples
from ganforge.errors import GanforgeError
from ganforge.privacy.audit import run_identity
from ganforge.runs.lock import still_training
from ganforge.runs.run import load_run
from ganforge.synthetic import datasheet
from ganforge.synthetic import export as ex


# The declaration has sample's shape (examples, run_dir, --n, --out): a deliberate mirror, as each verb states
# its own options and help; the options shared word for word live once in cli/options.py.
def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("export", help="export a run's samples as a dataset (.npz or PNG folders) with a datasheet",
                       **examples("ganforge export runs/cgan --n 50000 --out synth.npz --class-balanced",
                                  "ganforge export runs/cgan --n 1000 --out synth_png/ --truncation 1.5",
                                  "ganforge export runs/cgan --n 1000000 --out big.npz   # streamed, one chunk in memory"))
    options.run_dir(s)
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True, help="FILE.npz (arrays x, y) or a folder (PNG files in one folder per class)")
    s.add_argument("--class-balanced", action="store_true",
                   help="conditional runs: the same number of samples of every class (classes cycled)")
    s.add_argument("--truncation", type=float, metavar="PSI", help="truncation trick, for models that take it")
    options.seed(s)
    options.checkpoint(s)
    options.device(s)
    s.add_argument("--chunk", type=int, default=ex.CHUNK, help=f"samples generated at a time (default {ex.CHUNK})")
    s.add_argument("--audit", help="an audit JSON from `ganforge audit --out` to include in the datasheet")
    s.add_argument("--force", action="store_true", help="replace an existing export at --out")
    s.set_defaults(func=run, on_interrupt="the partial export was removed (an earlier one is unchanged)")


def _check_audit_is_of(audit: dict | None, path: str | None, opened, run_dir: str, checkpoint: str) -> None:
    """The audit must be of this run and this checkpoint (its ``run.id`` and ``run.checkpoint_sha256``):
    another run's verdict written into this run's datasheet would be a false statement about it."""
    if audit is None:
        return
    named, here = audit.get("run") if isinstance(audit.get("run"), dict) else {}, run_identity(opened)
    fix = f"audit this one: ganforge audit {run_dir} --checkpoint {checkpoint} --out audit.json"
    if not named.get("id") or not named.get("checkpoint_sha256"):
        raise GanforgeError(f"--audit {path} does not name the run and checkpoint it audited (written by an older "
                            f"ganforge); {fix}")
    if named["id"] != here["id"]:
        raise GanforgeError(f"--audit {path} is an audit of another run ({named.get('path', '?')}, id {named['id']}), "
                            f"not of {run_dir} (id {here['id']}); {fix}")
    if named["checkpoint_sha256"] != here["checkpoint_sha256"]:
        raise GanforgeError(f"--audit {path} audited another checkpoint of this run (step {named.get('step', '?')}), "
                            f"not the one exported (step {opened.step}); {fix}")


def run(args: argparse.Namespace) -> int:
    out = outputs.named(args.out, flag="--out", suffix=".npz")
    if out.is_dir() and not args.force and outputs.foreign_files(out):  # --force would not replace those files
        raise GanforgeError(f"{out} already exists and holds files ganforge did not write; choose another --out")
    req = ex.ExportRequest(out, args.n, seed=args.seed, class_balanced=args.class_balanced,
                           truncation=args.truncation, force=args.force, chunk=args.chunk)
    ex.check_request(req)
    audit = ex.read_audit(args.audit, args.run_dir)
    device = device_option(args.device)
    opened = load_run(args.run_dir, args.checkpoint, device=device)
    if cap.TABLE in cap.capabilities_of(opened.model):  # its G's output is transformed rows, not points or images
        raise GanforgeError(f"{args.run_dir} is a table run (recipe {opened.config.recipe}), and export writes images; "
                            f"write its rows with ganforge sample {args.run_dir} --n N --out rows.csv")
    _check_audit_is_of(audit, args.audit, opened, args.run_dir, args.checkpoint)
    if args.checkpoint == "latest" and (note := still_training(args.run_dir)):
        print(f"ganforge: note: {note}, {opened.checkpoint.name}", file=sys.stderr)
    options = ex.sampling_options(opened, req)
    first, first_labels = next(iter(opened.sample_chunks(1, req.seed, **options)))
    if first.ndim != 4 or first.dtype != np.uint8:
        raise GanforgeError(f"{args.run_dir} makes {first.dtype} points, not images; export images, or use "
                            f"`ganforge sample` for points")
    shape, labelled = tuple(first.shape[1:]), first_labels is not None
    need = ex.bytes_needed(req, shape, first.dtype, labelled, ex.block_size(req.out))
    # Both kinds are written beside --out (a temporary file, or a hidden folder renamed at the end), so the space
    # is checked in --out's parent, under --out's own name (a made-up path inside it would only mislead).
    outputs.check_space(req.out, need, flag="--out")

    chunks = opened.sample_chunks(req.n, req.seed, batch_size=req.chunk, **options)
    with progress.bar(req.n, desc=f"exporting {req.out.name}") as bar:
        if req.kind == "npz":
            json_path, md_path = req.datasheet_paths()
            with outputs.atomic(req.out, json_path, md_path, flag="--out", force=req.force) as (temp, temp_json,
                                                                                                 temp_md):
                labels = ex.write_npz(temp, req.n, shape, first.dtype, chunks, labelled, on_chunk=bar.update)
                sheet = _sheet(opened, req, shape, labels, audit)
                temp_json.write_text(json.dumps(sheet, indent=1) + "\n")
                temp_md.write_text(datasheet.markdown(sheet))
        else:
            with ex.folder_in_place(req.out, req.force) as temp:
                written: list[str] = []
                labels = ex.write_folder(temp, req.n, chunks, on_chunk=bar.update, written=written)
                sheet = _sheet(opened, req, shape, labels, audit)
                (temp / f"{ex.DATASHEET}.md").write_text(datasheet.markdown(sheet))
                (temp / f"{ex.DATASHEET}.json").write_text(json.dumps(sheet, indent=1) + "\n")
                written += [f"{ex.DATASHEET}.md", f"{ex.DATASHEET}.json"]
                outputs.write_manifest(temp, written, what=f"ganforge export of {args.run_dir}")
    counts = sheet["output"]["class_counts"]
    what = f", {len(counts)} classes" if counts else ""
    kind = "translated held-out images" if sheet.get("title") == "translated real images" else "samples"
    print(f"{req.out}: {req.n} {kind} of {'x'.join(map(str, shape))}{what} from step {opened.step}; datasheet "
          f"{req.datasheet_paths()[0]}")
    return 0


def _sheet(opened, req: ex.ExportRequest, shape: tuple[int, ...], labels, audit: dict | None) -> dict:
    return datasheet.build(opened, output=req.out, kind=req.kind, n=req.n, seed=req.seed, shape=shape,
                           dtype="uint8", classes=ex.class_counts(labels, opened.num_classes),
                           class_balanced=req.class_balanced, truncation=req.truncation, audit=audit)
