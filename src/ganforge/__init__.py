"""ganforge: train generative adversarial networks, measure them honestly, explore them.

From Python::

    import ganforge
    run = ganforge.train("gan2014-digits", out="runs/demo", steps=2000)
    images = run.sample(64, seed=1)
    print(ganforge.evaluate(run))

The ``ganforge`` command line is a thin shell over the same functions (:mod:`ganforge.api`).
"""

from ganforge.version import __version__
from ganforge.api import evaluate, load_run, train

__all__ = ["__version__", "evaluate", "load_run", "train"]
