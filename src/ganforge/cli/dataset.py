"""``ganforge dataset``: a folder, zip or .npz of images into a store that training reads without decoding.

A thin shell over :func:`ganforge.data.store_build.build_store`: it streams (one image in memory at a
time, one chunk buffered), shows a bar with an ETA on a terminal, and is safe to interrupt (the store
appears under ``--out`` only when complete). It ends with the report: images written, skipped files by
reason (each named), exact duplicates, the class histogram and the sizes of the sources.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from ganforge.cli.help import examples
from ganforge.data.store_build import CROPS, BuildOptions, build_store
from ganforge.errors import GanforgeError


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("dataset", help="prepare a folder, zip or .npz of images as a store for training",
                       **examples("ganforge dataset photos/ --out photos64 --resolution 64 --crop center",
                                  "ganforge dataset faces.zip --out faces256 --resolution 256 --channels 3",
                                  "ganforge train dcgan-mnist --set data.name=store:photos64"))
    s.add_argument("src", help="a folder tree (subfolders may be classes), a .zip of images, or an .npz (x, y)")
    s.add_argument("--out", required=True,
                   help="the store folder to write (new or empty; an existing store only with --force)")
    s.add_argument("--resolution", type=int, metavar="R", help="resize every image to RxR (default: keep the one size)")
    s.add_argument("--crop", choices=CROPS, default="none",
                   help="center: short side to R, centre square; wide: the centre 2:1 band to R x R/2, letterboxed; "
                        "none (default): images must already be square")
    s.add_argument("--labels", default="auto", metavar="subfolders|FILE.json|none",
                   help="classes from the first subfolder, from a JSON {path: label}, or none "
                        "(default auto: subfolders when every image is in one, an .npz's y)")
    s.add_argument("--channels", type=int, choices=(1, 3), help="1 (grey) or 3 (RGB); needed when a source mixes them")
    s.add_argument("--force", action="store_true",
                   help="replace an existing store at --out (refused if it holds anything a build does not write)")
    s.set_defaults(func=run, on_interrupt="the partial store was removed (an earlier one is unchanged)")


def run(args: argparse.Namespace) -> int:
    if args.resolution is not None and args.resolution < 4:
        raise GanforgeError(f"--resolution {args.resolution} is too small; give at least 4 (e.g. 64)")
    options = BuildOptions(resolution=args.resolution, crop=args.crop, labels=args.labels, channels=args.channels)
    report = build_store(args.src, args.out, options, force=args.force)
    # Both are pasted into a shell: a space or a quote in --out must survive that.
    hint = f"store: {shlex.quote(args.out)}  (train on it with --set {shlex.quote(f'data.name=store:{args.out}')})"
    for line in report.lines() + [hint]:
        print(shown(line))
    return 0


def shown(line: str) -> str:
    """``line`` as any terminal can print it: a file name that is not valid UTF-8 (held by Python with
    surrogates) shows its odd bytes as ``\\xfe``, and a character the output's encoding lacks as an escape, so
    printing the report of a store already written never fails."""
    try:
        text = line.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file system byte makes
        text = line.encode("utf-8", "backslashreplace").decode("utf-8")
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding)
