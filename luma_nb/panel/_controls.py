"""The panel's buttons and checkboxes, built one way: sized to their labels, with a tooltip.

ipywidgets give a button a fixed width and a checkbox an indent and 300 px; every control of
the panel wants the opposite (see :mod:`luma_nb.panel._style`), so they are made here.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

__all__ = ["button", "checkbox"]


def button(
    description: str,
    icon: str,
    on_click: Callable[[widgets.Button], object],
    *,
    tooltip: str = "",
    css_class: str | None = None,
) -> widgets.Button:
    """A button as wide as its label that calls ``on_click(button)``."""
    made = widgets.Button(
        description=description, icon=icon, tooltip=tooltip, layout=widgets.Layout(width="auto")
    )
    if css_class:
        made.add_class(css_class)
    made.on_click(on_click)
    return made


def checkbox(description: str, value: bool, tooltip: str) -> widgets.Checkbox:
    """A checkbox without ipywidgets' indent, as wide as its label."""
    return widgets.Checkbox(
        value=value,
        description=description,
        indent=False,
        tooltip=tooltip,
        layout=widgets.Layout(width="auto"),
    )
