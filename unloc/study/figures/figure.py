"""Figure plumbing shared by the report plots: Agg-backed figures kept outside pyplot's global state, PNG saving.

Figures are built as `matplotlib.figure.Figure` objects with an Agg canvas rather than through `pyplot`, so a notebook
that draws dozens of them leaks nothing into pyplot's figure registry and every function returns the figure it drew
(the notebooks display it; DESIGN.md, "notebooks hold no function or class definitions").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PANEL_SIZE = (4.8, 3.4)  # inches per subplot
_IMAGE_MIMES = ("image/png", "image/svg+xml", "image/jpeg", "application/pdf")


def _enable_notebook_display() -> None:
    """Lets a Jupyter kernel render a returned Figure as an image.

    IPython registers its figure formatter only when pyplot activates the inline backend; figures built without
    pyplot would otherwise display as "<Figure size ...>". Formats the user already chose are left alone.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "display_formatter", None) is None:
        return
    formatters = shell.display_formatter.formatters
    for mime in _IMAGE_MIMES:
        try:
            if formatters[mime].lookup_by_type(Figure):
                return
        except KeyError:
            continue
    select_figure_formats(shell, {"png"})


def new_figure(n_panels: int, *, ncols: int | None = None, sharex: bool = False,
               panel_size: tuple[float, float] = PANEL_SIZE) -> tuple[Figure, list[Axes]]:
    """An Agg-backed figure with `n_panels` subplots laid out in rows of `ncols`.

    Args:
        n_panels: number of axes wanted (>= 1).
        ncols: panels per row (default: all in one row, at most 4).
        sharex: share the x axis between panels.
        panel_size: (width, height) in inches of one panel.

    Returns:
        The figure and its first `n_panels` axes in reading order; surplus grid cells are hidden.
    """
    if n_panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {n_panels}")
    ncols = min(ncols or min(n_panels, 4), n_panels)
    nrows = -(-n_panels // ncols)
    _enable_notebook_display()
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    grid = np.asarray(fig.subplots(nrows, ncols, squeeze=False, sharex=sharex)).ravel()
    for ax in grid[n_panels:]:
        ax.set_visible(False)
    return fig, list(grid[:n_panels])


def finish(fig: Figure, out_path: str | Path | None = None, *, title: str | None = None, dpi: int = 150) -> Figure:
    """Adds the figure title and, when `out_path` is given, writes a PNG there (parent folders created).

    Returns:
        `fig`, for chaining.
    """
    if title:
        fig.suptitle(title, wrap=True)
    if out_path is not None:
        path = Path(out_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png")
    return fig
