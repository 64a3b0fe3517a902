"""What the figure tests share: the matplotlib figures a drawing closed, kept for the test to read."""

import matplotlib
import pytest


@pytest.fixture
def closed_figures(monkeypatch):
    """The figures ``plt.close`` is called on during the test, in order: a drawing closes its figure once saved,
    and the test reads what was drawn (axes, texts, limits) from it."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig) or real_close(fig))
    return figs
