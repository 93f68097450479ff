import base64

import ipywidgets as widgets
from ipywidgets.widgets.widget_link import Link
import matplotlib.pyplot as plt
import pytest

from paperlib.core.widgets import figure_slider


def _figure(value):
    fig = plt.figure()
    plt.plot([0, 1], [0, value])
    return fig


def test_slider_positions_select_the_matching_figure_in_the_browser():
    box = figure_slider({"a": _figure(1), "b": _figure(2)}, description="knob", alt="a line")
    (label, slider), stack = box.children[0].children, box.children[1]
    assert "knob" in label.value and not slider.description
    assert list(slider.options) == ["a", "b"] and len(stack.children) == 2
    images = [page.value for page in stack.children]
    assert all('<img src="data:image/png;base64,' in v for v in images) and images[0] != images[1]
    payload = images[1].split("base64,")[1].split('"')[0]
    assert base64.b64decode(payload).startswith(b"\x89PNG")
    assert 'alt="a line (b)"' in images[1]
    links = [w for w in widgets.Widget._active_widgets.values() if isinstance(w, Link)
             and w.source == (slider, "index")]
    assert links and links[-1].target == (stack, "selected_index")  # linked in JS, no kernel needed
    assert plt.get_fignums() == []  # figures closed: shown only inside the widget


def test_no_figures_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one figure"):
        figure_slider({}, description="knob", alt="x")
