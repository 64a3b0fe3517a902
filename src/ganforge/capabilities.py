"""What a trained model can do, declared once by its class and read by every front end.

``ganforge sample``, ``translate``, ``upscale``, ``anomaly``, ``serve`` and ``explore`` each need
to know whether a run can do what they are asked. They used to find out by probing the model
(``hasattr(model, "translate")``, ``isinstance(model, FAnoGANModel)``), so each front end kept its
own guess and its own refusal. Now each trained-model class declares a ``capabilities`` set
(a class attribute, or a property where it depends on the run: a conditional G adds
``classes``, a G of 2D points adds ``toy2d``), and a front end calls :func:`require_any` (or builds
:func:`refusal` into its own error kind), which refuses in one line naming what the run *can*
do and the command for it.

The names, and the method each promises:

- ``generate``: ``latents(n, seed, classes=, truncation=)`` and ``render(latents)``, the two halves of
  ``sample_chunks`` (``serve`` batches many requests' latents into one ``render``);
- ``classes``: ``generate`` takes a class (a conditional G); ``truncation``: it takes a truncation, no less
  than the model's ``min_truncation`` (:func:`least_truncation`);
- ``style_mix``: ``sample_chunks(mix_seed=, mix_layer=)`` (a style-based G);
- ``truncation_centres``: ``sample_chunks(truncation=, truncation_centres=)``, psi towards the nearest of K
  image clusters (multi-modal truncation, a style-based G);
- ``translate``: ``translate(x, direction)``, uint8 images between two domains;
- ``upscale``: ``upscale(lr)``, floats in [0, 1] to ``scale`` times the size;
- ``score``: anomaly scores through :mod:`ganforge.anomaly.scoring`, by ``scoring_methods[0]``;
- ``encode``: the model holds an encoder from images to its latent space;
- ``toy2d``: G draws 2D points (ring8, grid25), what explore's live 2D view trains;
- ``table``: ``sample_table(n, seed=, condition=)``, rows of a table in its own columns (a table run:
  ``ganforge sample --out x.csv``, ``audit`` and ``downstream`` measure it as a table).

A model from a user's own recipe that declares nothing is taken at the word of
:class:`~ganforge.recipes.base.TrainedModel`, whose one promise is ``sample_chunks``: it
generates, with no options.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ganforge.errors import GanforgeError

GENERATE = "generate"
CLASSES = "classes"
TRUNCATION = "truncation"
STYLE_MIX = "style_mix"
TRUNCATION_CENTRES = "truncation_centres"
TRANSLATE = "translate"
UPSCALE = "upscale"
SCORE = "score"
ENCODE = "encode"
TOY2D = "toy2d"
TABLE = "table"

# What each capability is for, and the command that uses it (RUN is the run directory): the refusal's fix.
USES = {
    GENERATE: "ganforge sample RUN --n 64 --out s.npy",
    CLASSES: "ganforge sample RUN --n 64 --out s.npy --class 3",
    TRUNCATION: "ganforge sample RUN --n 64 --out s.npy --truncation 0.7",
    STYLE_MIX: "ganforge sample RUN --n 64 --out s.npy --mix-seed 1",
    TRUNCATION_CENTRES: "ganforge sample RUN --n 64 --out s.npy --truncation 0.5 --truncation-centres 64",
    TRANSLATE: "ganforge translate RUN --input IMAGE --out OUT",
    UPSCALE: "ganforge upscale RUN --input IMAGE --out OUT",
    SCORE: "ganforge anomaly score RUN --input X.npy --out scores.npy",
    ENCODE: "ganforge anomaly score RUN --input X.npy --out scores.npy",
    TOY2D: "ganforge explore RUN",
    TABLE: "ganforge sample RUN --n 1000 --out synthetic.csv",
}
ORDER = tuple(USES)
UNDECLARED = frozenset({GENERATE})


@runtime_checkable
class Generates(Protocol):
    """``generate``: draw latents for a request, then render any batch of latents at once.

    ``render(latents(n, seed, ...))`` equals the first chunk of ``sample_chunks(n, seed=seed, ...)``,
    so a sample is the same whether it came from ``ganforge sample``, the API or the explorer.
    """

    def latents(self, n: int, seed: int, *, classes: Any = None, truncation: float | None = None,
                device: str | torch.device = "cpu") -> dict[str, torch.Tensor]: ...

    def render(self, latents: dict[str, torch.Tensor]) -> np.ndarray: ...


def capabilities_of(model: Any) -> frozenset[str]:
    """The model's declared set (see the module docstring for an undeclared one)."""
    declared = getattr(model, "capabilities", None)
    return UNDECLARED if declared is None else frozenset(declared)


def least_truncation(model: Any) -> float:
    """The least truncation the model takes, as every front end bounds it: its ``min_truncation`` (a |z|
    threshold needs room above 0, :data:`ganforge.sampling.MIN_Z_TRUNCATION`), or 0 where it declares none
    (psi of a style-based G may be 0: every w at the centre)."""
    return float(getattr(model, "min_truncation", 0.0))


def describe(caps: Iterable[str]) -> str:
    """``generate, classes, truncation``: in a fixed order, or ``nothing ganforge knows``."""
    names = [c for c in ORDER if c in set(caps)]
    return ", ".join(names) if names else "nothing ganforge knows"


def refusal(model: Any, wanted: str, *, run: str, recipe: str, doing: str = "",
            command_hint: bool = True) -> GanforgeError:
    """One line: what the run cannot do, what it offers, and the command for the first thing it offers.

    ``command_hint=False`` leaves the command out: ``serve`` and ``explore`` answer over HTTP, where a
    CLI command is not the fix.
    """
    caps = capabilities_of(model)
    main = [c for c in ORDER if c in caps]
    hint = f"; try `{USES[main[0]].replace('RUN', run)}`" if main and command_hint else ""
    what = doing or wanted
    return GanforgeError(f"{run} is a {recipe} run, which cannot {what}: it offers {describe(caps)}{hint}")


def require_any(model: Any, wanted: Iterable[str], *, run: str, recipe: str, doing: str) -> None:
    """Raise :func:`refusal` unless the model declares at least one of ``wanted``."""
    wanted = tuple(wanted)
    if not capabilities_of(model) & set(wanted):
        raise refusal(model, wanted[0], run=run, recipe=recipe, doing=doing)
