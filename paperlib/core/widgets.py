"""A slider over pre-rendered figures that keeps working in the static book.

The slider and the stack of figures are linked in the browser (``jslink``), not through the kernel, and
the figures travel as data URIs inside the saved widget state, so a reader of the built HTML can step
through them offline. Show a static figure next to it: the slider is for exploring, not the only view.
"""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def _png_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=fig.dpi)
    plt.close(fig)  # shown inside the widget only, not again as a loose figure under the cell
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def figure_slider(figures: Mapping[str, Figure], description: str, alt: str) -> widgets.VBox:
    """A slider whose positions are the keys of ``figures`` and which shows the matching figure.

    ``alt`` describes every figure for screen readers (the position's label is appended). The figures
    are closed once rendered.
    """
    if not figures:
        raise ValueError("figure_slider: expected at least one figure, got none")
    labels = [str(label) for label in figures]
    pages = [widgets.HTML(f'<img src="{_png_data_uri(fig)}" alt="{html.escape(f"{alt} ({label})")}" '
                          'style="max-width:100%">') for label, fig in zip(labels, figures.values())]
    stack = widgets.Stack(pages, selected_index=0)
    # the label is an HTML widget, not the slider's description: descriptions are typeset with the
    # MathJax 2 API, which the book's MathJax 3 lacks (a console error in the built page)
    slider = widgets.SelectionSlider(options=labels, value=labels[0], continuous_update=True,
                                     layout=widgets.Layout(width="50%"))
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return widgets.VBox([widgets.HBox([widgets.HTML(f"<b>{html.escape(description)}</b>&nbsp;"), slider]), stack])
