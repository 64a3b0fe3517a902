"""``ganforge explore``: runs in the browser (seed grids, truncation, classes, interpolation, curves) and a
live 2D training view; Starlette with plain JS and canvas, every asset in the package. See docs/explore.md."""
