"""Every picture ganforge draws, in one home.

- :mod:`ganforge.figures.drawing`: the primitives (image grids with titles, the labelled
  nearest-neighbour sheet, 2D scatter plots), used by recipes while they train and by the verbs;
- :mod:`ganforge.figures.run_figures`: the figures of one opened run, written by ``ganforge figures``;
- :mod:`ganforge.figures.curves`: its ``curves.png``, from the run's records alone.

Kept empty so that a recipe drawing a grid does not load the run figures' dependencies.
"""
