"""Linear probe: how good a representation is a GAN's D, against a random D and raw pixels?

The DCGAN paper's protocol (Radford et al. 2015, section 5.1): D's features from every layer,
max-pooled to a 4x4 grid, flattened and concatenated (``ganforge features``, i.e.
:func:`ganforge.representation.d_features`), then a linear L2-SVM trained on N labelled images per
class. Here scikit-learn's multinomial ``LogisticRegression`` (L2, lbfgs) on standardised features,
the issue's other named choice: ``LinearSVC``'s C search on 10,000 x 3,072 rows (1,000 labels per class)
ran 38 minutes on one core without finishing one representation, while lbfgs takes about 25 seconds a
fit there. Its C is chosen from a small grid on 2,000 images of the *valid* split (never the test split; a dataset without
one, such as cifar10-jpeg, gives its last 2,000 training images, which are then never labelled), and
the test split is scored once per (representation, N, label seed).

Representations, all in the same run of this script:

- ``D (trained)``: the run's D (``--run``, e.g. a short dcgan-mnist run; state its budget);
- ``D (random init)``: the run's D as its training started (the engine's seeding, data and the recipe's
  ``networks()``, so a weight-normalised D has its data-dependent init), the lower bound;
- ``pixels``: the raw image, flattened, the baseline any feature must beat.

    python benchmarks/linear_probe.py --run /tmp/dcgan-mnist --labels 10 100 1000 --json probe.json

The labelled images are drawn class-balanced from the training split by the same function the
semi-supervised recipe uses (:func:`ganforge.recipes.semi_supervised.labelled_subset`).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ganforge import outputs, recipes
from ganforge.config import RunConfig
from ganforge.data import load_dataset
from ganforge.data.registry import dataset_splits
from ganforge.engine.build import initial_networks
from ganforge.recipes.semi_supervised import labelled_subset
from ganforge.representation import d_features, to_d_input
from ganforge.representation.features import POOL
from ganforge.runs.run import load_run

# Inverse L2 strength, chosen on the valid split; 1e-4 joined when cifar10-jpeg chose 1e-3, then the grid's edge.
C_GRID = (1e-4, 1e-3, 1e-2, 0.1, 1.0)
MAX_ITER = 1000  # lbfgs iterations; standardised features converge in about 100
VALID_N = 2000  # valid images used to choose C (the first ones of MNIST's 10k valid split)


def _fit_score(f_train, y_train, f_valid, y_valid, f_test, y_test) -> tuple[float, float]:
    """(test accuracy, chosen C): C by valid accuracy, then test scored once."""
    scaler = StandardScaler().fit(f_train)
    tr, va, te = scaler.transform(f_train), scaler.transform(f_valid), scaler.transform(f_test)
    fits = {c: LogisticRegression(C=c, max_iter=MAX_ITER).fit(tr, y_train) for c in C_GRID}
    best = max(C_GRID, key=lambda c: fits[c].score(va, y_valid))
    return float(fits[best].score(te, y_test)), best


def initial_d(cfg: RunConfig, data_dir: str | None = None) -> torch.nn.Module:
    """The run's D as training started (:func:`ganforge.engine.build.initial_networks`; ``rebuild`` leaves
    out a weight-norm D's data-dependent init, so the semi-supervised D it gave was not the starting point)."""
    return initial_networks(cfg, recipes.get(cfg.recipe), data_dir)[1]["D"].eval()


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 labelled image per class, got {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a run directory with a D (e.g. dcgan-mnist)")
    p.add_argument("--labels", type=_at_least_one, nargs="+", default=[10, 100, 1000],
                   help="labelled images per class")
    p.add_argument("--label-seed", type=int, default=0, help="seed of the class-balanced labelled draw")
    p.add_argument("--pool", type=int, help=f"max-pool grid of conv maps (default {POOL}, the DCGAN paper's; a D "
                                            f"with no conv maps takes none)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--force", action="store_true", help="overwrite --json")
    args = p.parse_args(argv)
    json_path = outputs.check_file(args.json, flag="--json", force=args.force, suffixes=(".json",)) if args.json else None
    run = load_run(args.run)
    random_d = initial_d(run.config)
    with torch.no_grad():  # a context, not set_grad_enabled(False): main() is also called in-process (tests)
        _probe(args, run, random_d, json_path)


def _probe(args: argparse.Namespace, run, random_d: torch.nn.Module, json_path) -> None:
    """Features of every representation, the fits and the table (no gradients: the caller's context)."""
    cfg = run.config
    record = run.state.get("net_context") or {}
    has_valid = "valid" in dataset_splits(cfg.data.name)
    shape = {"resolution": cfg.data.resolution, "channels": cfg.data.channels}  # as the run's D saw them
    splits = {s: load_dataset(cfg.data.name, split=s, **shape) for s in ("train", "test") + (("valid",) if has_valid else ())}
    out_range = run.generator.output_range
    x = {s: to_d_input(d.x.numpy(), record["data_shape"], out_range) for s, d in splits.items()}
    y = {s: d.y.numpy() for s, d in splits.items()}
    if not has_valid:  # e.g. cifar10-jpeg: the last VALID_N training images (a fifth of a small set, such as
        held = min(VALID_N, len(y["train"]) // 5)  # digits) choose C, and are never labelled
        x["valid"], y["valid"] = x["train"][-held:], y["train"][-held:]
        x["train"], y["train"] = x["train"][:-held], y["train"][:-held]
    x["valid"], y["valid"] = x["valid"][:VALID_N], y["valid"][:VALID_N]
    reps = {"D (trained)": lambda t: d_features(run.nets["D"], t, pool=args.pool),
            "D (random init)": lambda t: d_features(random_d, t, pool=args.pool),
            "pixels": lambda t: t.flatten(1).numpy()}
    rows = []
    for name, feat in reps.items():
        t0 = time.time()
        f_valid, f_test = feat(x["valid"]), feat(x["test"])
        for n in args.labels:
            pick = labelled_subset(y["train"], n, args.label_seed)
            acc, c = _fit_score(feat(x["train"][pick]), y["train"][pick], f_valid, y["valid"], f_test, y["test"])
            rows.append({"representation": name, "labels_per_class": n, "dim": int(f_test.shape[1]),
                         "test_accuracy": acc, "C": c, "label_seed": args.label_seed})
            print(f"{name:<16} {n:>5}/class  dim {f_test.shape[1]:>5}  test acc {acc:.4f}  (C={c}, "
                  f"{time.time() - t0:.0f}s)", flush=True)
    result = {"run": str(run.path), "recipe": cfg.recipe, "step": run.step, "dataset": cfg.data.name,
              "pool": args.pool, "protocol": f"logreg_test_{cfg.data.name}_seed{args.label_seed}", "rows": rows}
    if json_path is not None:
        outputs.write_text(json_path, json.dumps(result, indent=2) + "\n", flag="--json", force=args.force)
    print("\n| representation | dim | " + " | ".join(f"{n}/class" for n in args.labels) + " |")
    print("|---|---|" + "---|" * len(args.labels))
    for name in reps:
        mine = [r for r in rows if r["representation"] == name]
        print(f"| {name} | {mine[0]['dim']} | " + " | ".join(f"{100 * r['test_accuracy']:.2f}%" for r in mine) + " |")


if __name__ == "__main__":
    main()
