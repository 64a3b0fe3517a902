"""``ganforge translate``: run a trained translation model on a .npy, an image or a folder.

- ``--input X.npy`` (uint8 (N, C, H, W)) gives ``--out Y.npy`` of the same form.
- ``--input photo.png`` gives ``--out out.png`` (or ``out.npy``).
- ``--input DIR`` gives ``--out DIR`` with the same relative file names (images of any
  size the model takes; each is translated on its own, so sizes may differ).

Images are read as they are (a grey image stays grey): a grey image given to a model
trained on colour is one line, not a silent conversion. Every output follows
:mod:`ganforge.outputs`: all paths are checked before any work, existing files are refused
without ``--force``, and files appear only when complete (a folder's all together).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ganforge import outputs
from ganforge.cli.device import device_option
from ganforge.cli.evaluate import load_samples
from ganforge.cli.help import examples
from ganforge.data.folder import EXTENSIONS, decode_image, find_images
from ganforge.data.images import from_array
from ganforge.errors import DataError, GanforgeError
from ganforge.runs.run import load_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("translate", help="translate images with a trained translation run (pix2pix, CycleGAN)",
                       **examples("ganforge translate runs/edges --input edges.npy --out digits.npy",
                                  "ganforge translate runs/inverted --input in/ --out out/ --direction BA",
                                  "ganforge translate runs/colour --input grey.png --out colour.png"))
    s.add_argument("run_dir", help="a run directory of recipe paired-translation or cycle-translation")
    s.add_argument("--input", required=True, help="uint8 (N, C, H, W) .npy, one image (.png/.jpg), or a folder")
    s.add_argument("--out", required=True, help=".npy for a .npy input; an image file or .npy for an image; a folder "
                                                "for a folder")
    s.add_argument("--direction", default="AB", choices=("AB", "BA"), help="AB (default) or BA (CycleGAN runs)")
    s.add_argument("--checkpoint", default="latest", help="latest (default), best, or a checkpoint directory")
    s.add_argument("--seed", type=int, default=0, help="seeds dropout when translation.test_mode is train")
    s.add_argument("--device", help="cpu (default) or cuda")
    s.add_argument("--force", action="store_true", help="overwrite --out (or same-named files in an --out folder)")
    s.set_defaults(func=run, on_interrupt="no output was written (existing files are unchanged)")


def _read_image(path: Path) -> np.ndarray:
    try:
        x, _ = decode_image(path.read_bytes(), None, None)
    except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
        raise DataError(f"cannot read the image {path} ({str(exc).splitlines()[0]}); "
                        f"give a .png or .jpg file") from None
    return x


def _inputs(source: Path) -> tuple[str, list[Path]]:
    if not source.exists():
        raise GanforgeError(f"--input {source} does not exist; give a .npy, an image or a folder of images")
    if source.is_dir():
        files = find_images(source)
        if not files:
            raise GanforgeError(f"--input {source} holds no images ({', '.join(sorted(EXTENSIONS))}); "
                                f"point it at a folder of images")
        return "dir", files
    if source.suffix.lower() == ".npy":
        return "npy", [source]
    if source.suffix.lower() in EXTENSIONS:
        return "image", [source]
    raise GanforgeError(f"--input {source} is neither a .npy, an image ({', '.join(sorted(EXTENSIONS))}) nor a folder")


def _targets(kind: str, source: Path, files: list[Path], out: Path, force: bool) -> list[Path]:
    """Every file to write, checked before any work."""
    if kind == "npy":
        return [outputs.check_file(out, flag="--out", force=force, suffixes=(".npy",))]
    if kind == "image":
        return [outputs.check_file(out, flag="--out", force=force, suffixes=(".npy", *sorted(EXTENSIONS)))]
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file, and a folder --input needs a folder --out; choose a folder name")
    outputs.check_dir_writable(out, flag="--out")
    targets = [out / f.relative_to(source) for f in files]
    for t in targets:
        outputs.check_file(t, flag="--out", force=force)
    return targets


def run(args: argparse.Namespace) -> int:
    source, out = Path(args.input), Path(args.out)
    kind, files = _inputs(source)
    targets = _targets(kind, source, files, out, args.force)
    device = device_option(args.device)
    opened = load_run(args.run_dir, args.checkpoint, device=device)
    model = opened.model
    if not hasattr(model, "translate"):
        raise GanforgeError(f"{args.run_dir} is a {opened.config.recipe} run: it draws samples from noise and has no "
                            f"input to translate; use `ganforge sample {args.run_dir} --n N --out samples.npy`")
    if kind == "npy":
        x = load_samples(str(source), flag="--input")
        y = model.translate(x, args.direction, seed=args.seed, device=device)
        outputs.check_space(targets[0], y.nbytes + 128, flag="--out")
        with outputs.atomic(targets[0], flag="--out") as (temp,):
            np.save(temp, y)
        print(f"{targets[0]}: uint8 {y.shape} ({args.direction}) from step {opened.step}")
        return 0
    images = [_read_image(f) for f in files]
    results = []
    for f, x in zip(files, images):
        try:
            results.append(model.translate(x[None], args.direction, seed=args.seed, device=device)[0])
        except DataError as e:
            raise DataError(f"{f}: {e}") from None
    outputs.check_space(targets[0], sum(r.nbytes for r in results) + 4096, flag="--out")
    with outputs.atomic(*targets, flag="--out") as temps:
        for r, temp in zip(results, temps):
            np.save(temp, r[None]) if temp.suffix == ".npy" else from_array(r).save(temp)
    where = targets[0] if kind == "image" else out
    print(f"{where}: {len(results)} image(s) translated {args.direction} from step {opened.step}")
    return 0
