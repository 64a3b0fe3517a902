"""``ganforge translate``: run a trained translation model on a .npy, an image or a folder, or measure it.

- ``--input X.npy`` (uint8 (N, C, H, W)) gives ``--out Y.npy`` of the same form.
- ``--input photo.png`` gives ``--out out.png`` (or ``out.npy``).
- ``--input DIR`` gives ``--out DIR`` with the same relative file names (images of any
  size the model takes; each is translated on its own, so sizes may differ). A folder is read
  for the image suffixes every ganforge folder reader takes (:data:`ganforge.data.folder.IMAGE_SUFFIXES`),
  so no image is skipped without a word; outputs keep a .png/.jpg/.jpeg name and are written as
  .png otherwise (GIF would quantise to 256 colours, WebP is lossy by default).
- ``--eval`` translates the test split of the run's own task and prints its metrics under
  protocol names (:mod:`ganforge.metrics.translation_eval`); ``--json FILE`` also writes them.
  ``ganforge eval`` measures noise-to-image runs only and sends translation runs here.

Images are read as they are shown (turned by their EXIF orientation, as every ganforge reader does)
and as they are (a grey image stays grey): a grey image given to a model trained on colour (or the
reverse) is one line naming the file's own mode (RGBA, grey+alpha, ...), not a silent conversion. A
16-bit image is refused in one line, as ``upscale`` refuses it (the model works on 8 bits; convert it
first). Transparency is composited on white before translating (a translator knows no alpha), and
a ``ganforge: note:`` line says so: the outputs have no alpha channel. Every output follows
:mod:`ganforge.outputs`: all paths are checked before any work, existing files are refused
without ``--force``, and files appear only when complete (a folder's all together).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganforge import outputs, recipes
from ganforge.capabilities import TRANSLATE, capabilities_of, describe
from ganforge.cli import options
from ganforge.cli.device import device_option
from ganforge.cli.evaluate import load_samples
from ganforge.cli.help import examples
from ganforge.data.folder import EXTENSIONS, IMAGE_SUFFIXES, decode_image, find_images
from ganforge.data.images import from_array
from ganforge.errors import DataError, GanforgeError, note
from ganforge.metrics.translation_eval import DEFAULT_N, evaluate_translation
from ganforge.runs.run import Run, load_run
from ganforge.upscaling import check_8_bit, has_alpha, too_many_pixels


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("translate", help="translate images with a trained translation run (pix2pix, CycleGAN)",
                       **examples("ganforge translate runs/edges --input edges.npy --out digits.npy",
                                  "ganforge translate runs/inverted --input in/ --out out/ --direction BA",
                                  "ganforge translate runs/inverted --eval --json inverted.json"))
    options.run_dir(s, "a run directory of recipe paired-translation or cycle-translation")
    s.add_argument("--input", help="uint8 (N, C, H, W) .npy, one image (.png/.jpg/...), or a folder")
    s.add_argument("--out", help=".npy for a .npy input; an image file or .npy for an image; a folder for a folder")
    s.add_argument("--eval", action="store_true",
                   help="instead of --input/--out: translate the test split of the run's own dataset and print "
                        "l1/psnr/ssim against the truth, judge label accuracy and FID, cycle error (see "
                        "docs/translation.md)")
    s.add_argument("--n", type=int, help=f"with --eval: the first N test images (default {DEFAULT_N:,}, or all if "
                                         f"fewer)")
    s.add_argument("--json", help="with --eval: also write the metrics to this .json file")
    options.data_dir(s, when="with --eval: ")
    s.add_argument("--direction", default="AB", choices=("AB", "BA"), help="AB (default) or BA (CycleGAN runs)")
    options.checkpoint(s)
    options.seed(s, "seeds dropout when translation.test_mode is train")
    options.device(s)
    s.add_argument("--force", action="store_true", help="overwrite --out (or same-named files in an --out folder), "
                                                        "or --json")
    s.set_defaults(func=run, on_interrupt="no output was written (existing files are unchanged)")


def _grey_palette(img: Image.Image) -> bool:
    """Whether a palette image's entries are all grey (R = G = B): what PNG optimisers make of a grey image."""
    palette = img.getpalette("RGB") if img.mode in ("P", "PA") else None
    return bool(palette) and all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def _kind(mode: str, info: dict) -> str:
    """What an image file holds, in the words a channel refusal names it by (Pillow's ``mode``)."""
    if mode in ("1", "L"):
        return "grey"
    if mode in ("LA", "La"):
        return "grey+alpha"
    if mode in ("RGBA", "RGBa"):
        return "RGBA"
    if mode in ("P", "PA") and has_alpha(mode, info):
        return "palette+alpha"
    return "RGB" if mode == "RGB" else f"colour ({mode})"


def _read_image(path: Path, in_folder: bool, channels: int | None) -> tuple[np.ndarray, bool]:
    """uint8 (C, H, W) and whether the file had transparency (composited on white), or one line naming the
    file (Pillow's own message names an in-memory buffer). ``channels``: what the model takes (None: any)."""
    fix = "fix or remove it" if in_folder else f"give a {'/'.join(IMAGE_SUFFIXES)} image"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}; check its permissions") from None
    try:
        with Image.open(io.BytesIO(data)) as img:
            mode, info, grey = img.mode, dict(img.info), _grey_palette(img)
        check_8_bit(path, mode, "translate")
        # a grey palette is a grey image to a grey model (a colour palette stays refused below)
        x, _ = decode_image(data, 1 if grey and channels == 1 else None, None)
    except Image.DecompressionBombError as exc:
        raise too_many_pixels(path, exc) from None
    except UnidentifiedImageError:
        raise DataError(f"{path} is not an image Pillow can read (damaged, or another format); {fix}") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated data, modes with no 8-bit meaning, bad headers
        raise DataError(f"cannot read the image {path} ({str(exc).splitlines()[0]}); {fix}") from None
    if channels is not None and x.shape[0] != channels:
        want, pil = ("grey", "L") if channels == 1 else ("RGB", "RGB")
        held = _kind(mode, info)
        raise DataError(f"{path} is {'an' if held.startswith('R') else 'a'} {held} image but this model takes "
                        f"{channels} channel(s) ({want}); convert it to {want} first (e.g. PIL: "
                        f"Image.open(p).convert('{pil}').save(q))")
    return x, has_alpha(mode, info)


def _inputs(source: Path) -> tuple[str, list[Path]]:
    if not source.exists():
        raise GanforgeError(f"--input {source} does not exist; give a .npy, an image or a folder of images")
    if source.is_dir():
        files = find_images(source, IMAGE_SUFFIXES)
        if not files:
            raise GanforgeError(f"--input {source} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                                f"point it at a folder of images")
        return "dir", files
    if source.suffix.lower() == ".npy":
        return "npy", [source]
    if source.suffix.lower() in IMAGE_SUFFIXES:
        return "image", [source]
    raise GanforgeError(f"--input {source} is neither a .npy, an image ({', '.join(IMAGE_SUFFIXES)}) nor a folder")


def _target_name(relative: Path) -> Path:
    """The output's name in an --out folder: the input's, as .png when its format is not .png/.jpg/.jpeg."""
    return relative if relative.suffix.lower() in EXTENSIONS else relative.with_suffix(".png")


def _targets(kind: str, source: Path, files: list[Path], out: Path, force: bool) -> list[Path]:
    """Every file to write, checked before any work (the input first: --force never replaces it)."""
    outputs.check_not_input(out, source)
    if kind == "npy":
        return [outputs.check_file(out, flag="--out", force=force, suffixes=(".npy",))]
    if kind == "image":
        return [outputs.check_file(out, flag="--out", force=force, suffixes=(".npy", *sorted(EXTENSIONS)))]
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file, and a folder --input needs a folder --out; choose a folder name")
    outputs.check_folder_out(out)
    outputs.check_dir_writable(out, flag="--out")
    targets = [out / _target_name(f.relative_to(source)) for f in files]
    options.one_output_each(zip(files, targets), "a .gif/.tif/.bmp/.webp is written as .png")
    outputs.check_not_input(out, source, targets=targets, inputs=files)
    for t in targets:
        outputs.check_file(t, flag="--out", force=force)
    return targets


def _check_mode(args: argparse.Namespace) -> None:
    """Translating files (--input and --out) and measuring (--eval, with --n/--json/--data-dir) are two
    uses of the command: a mix of them, or neither, is one line rather than a guess at what was meant."""
    files = [f for f, v in (("--input", args.input), ("--out", args.out)) if v is not None]
    if args.eval and files:
        raise GanforgeError(f"--eval measures the run on its dataset's test split and takes no {' or '.join(files)}; "
                            f"give either --eval or --input and --out")
    if args.eval:
        return
    evaluating = [f for f, v in (("--n", args.n), ("--json", args.json), ("--data-dir", args.data_dir))
                  if v is not None]
    if evaluating:
        named = " and ".join(evaluating)
        raise GanforgeError(f"{named} {'goes' if len(evaluating) == 1 else 'go'} with --eval; add --eval to measure "
                            f"the run, or leave {named} out to translate --input")
    if len(files) < 2:
        missing = " and ".join(f for f in ("--input", "--out") if f not in files)
        raise GanforgeError(f"give --input and --out to translate images (missing {missing}), or --eval to measure "
                            f"the run on its test split")


def _opened(args: argparse.Namespace, device: torch.device) -> Run:
    """The run, or one line naming what to do with a run that does not translate: its recipe's own
    commands (``next_command`` to use it, ``eval_command`` to measure it), never a guess by recipe name."""
    opened = load_run(args.run_dir, args.checkpoint, device=device)
    if TRANSLATE not in capabilities_of(opened.model):
        recipe = recipes.get(opened.config.recipe)
        if args.eval:
            command = (recipe.eval_command or "ganforge eval {run}").format(run=args.run_dir)
            raise GanforgeError(f"{args.run_dir} is a {opened.config.recipe} run, which has no input to translate: "
                                f"measure it with {command}")
        # next_command is written for ``train``'s "next:" line, aside included ("   (or --eval ...)"): spaced
        # as a sentence here, not quoted as one command, so the aside does not read as part of it.
        use = " ".join(recipe.next_command.format(run=args.run_dir).split())
        raise GanforgeError(f"{args.run_dir} is a {opened.config.recipe} run, which has no input to translate (it offers "
                            f"{describe(capabilities_of(opened.model))}); use {use}")
    return opened


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _evaluate(args: argparse.Namespace) -> int:
    """``--eval``: every path checked first, then the scores printed (and written whole to --json)."""
    if args.n is not None and args.n < 2:
        raise GanforgeError(f"--n must be at least 2 test images (the judge FID needs a spread), got {args.n}")
    target = outputs.check_file(args.json, flag="--json", force=args.force, suffixes=(".json",)) if args.json is not None else None
    device = device_option(args.device)
    opened = _opened(args, device)
    report = evaluate_translation(opened, args.n, direction=args.direction, seed=args.seed, data_dir=args.data_dir,
                                  log_fn=_say)
    judge = report.judge
    read_by = "" if judge is None else f", judge {judge['name']}" + (
        f" (test accuracy {judge['test_accuracy']:.2%})" if judge.get("test_accuracy") is not None else "")
    print(f"{args.run_dir}: {report.checkpoint} (step {report.step}), the first {report.n} test images of "
          f"{report.dataset} translated {report.direction}{read_by}")
    print(report.table(), flush=True)
    if target is not None:
        outputs.write_text(target, json.dumps(report.to_dict(), indent=1) + "\n", flag="--json")
        print(f"report: {target}")
    return 0


def run(args: argparse.Namespace) -> int:
    _check_mode(args)
    if args.eval:
        return _evaluate(args)
    source, out = Path(args.input), Path(args.out)
    kind, files = _inputs(source)
    targets = _targets(kind, source, files, out, args.force)
    device = device_option(args.device)
    opened = _opened(args, device)
    model = opened.model
    if kind == "npy":
        x = load_samples(str(source), flag="--input")
        y = model.translate(x, args.direction, seed=args.seed, device=device)
        outputs.check_space(targets[0], y.nbytes + 128, flag="--out")
        with outputs.atomic(targets[0], flag="--out") as (temp,):
            np.save(temp, y)
        print(f"{targets[0]}: uint8 {y.shape} ({args.direction}) from step {opened.step}")
        return 0
    channels = model.input_channels(args.direction) if args.direction in model.directions else None
    images, transparent = [], []
    for f in files:
        x, alpha = _read_image(f, kind == "dir", channels)
        images.append(x)
        if alpha:
            transparent.append(f)
    if transparent:
        which = (f"{transparent[0]} has" if len(transparent) == 1 else
                 f"{len(transparent)} inputs have (e.g. {transparent[0]})")
        note(f"{which} transparency: translated composited on white, and the output has no alpha")
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
