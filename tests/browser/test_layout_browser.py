"""The panel at any width: nothing cut at 330 px of notebook, results side by side at 1600 px.

JupyterLab at 660 px with its file browser open leaves about 330 px to the notebook. There,
the test checks the element boxes: no element of the panel reaches out of the panel, the
output area does not scroll sideways, and the controls people need (Enhancement, a job's
Cancel and task id, Local file, Restore) are whole: inside the panel and the viewport, their
text not cut, and each result's filmstrip inside its card. At 1600 px the results sit side by
side in a grid. Screenshots of both widths, in the light and the dark theme, go to
``artifacts/browser/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._panel_layout import CUT, RESULT_BOXES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "02_panel.ipynb"

_NOTEBOOK_WIDTH = "() => document.querySelector('.jp-Notebook').getBoundingClientRect().width"


# Each result's filmstrip: whole (decoded) and inside its card at any width.
_STRIPS = """
() => Array.from(document.querySelectorAll('.luma-nb-panel .luma-nb-result .luma-nb-strip img'))
  .map((i) => {
    const r = i.getBoundingClientRect(), card = i.closest('.luma-nb-card').getBoundingClientRect();
    return i.naturalWidth > 0 && r.width > 0
      && r.left >= card.left - 1 && r.right <= card.right + 1;
  })
"""


def _theme(page: Any, name: str) -> None:
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", name
    )


def test_the_panel_fits_330_px_and_uses_1600_px(lab_page: Any, artifacts: Path) -> None:
    page = lab_page.page
    lab_page.open_notebook(NOTEBOOK, workspace="layout")
    lab_page.run_all(NOTEBOOK)
    panel = page.locator(".luma-nb-panel")
    panel.locator(".luma-nb-result").first.wait_for(state="visible", timeout=30_000)
    # A second result, by clicking Rerun: the wide layout has two cards to put side by side.
    panel.locator(".luma-nb-result button", has_text="Rerun").first.click()
    lab_page.wait_until(
        "() => document.querySelectorAll('.luma-nb-panel .luma-nb-result').length >= 2",
        timeout=60,
        what="the rerun did not add a second result",
    )

    # Lab at ~700 px with the file browser open: 330 px are left to the notebook. (Tall, so
    # that the whole panel fits in the screenshots: Lab scrolls the notebook inside the page.)
    page.set_viewport_size({"width": 660, "height": 4200})
    lab_page.wait_until(
        f"() => ({_NOTEBOOK_WIDTH})() < 400", timeout=10, what="the notebook did not narrow"
    )
    notebook_width = page.evaluate(_NOTEBOOK_WIDTH)
    assert 310 <= notebook_width <= 350, notebook_width
    for theme, word in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        _theme(page, theme)
        page.wait_for_timeout(300)
        problems = page.evaluate(CUT)
        assert not problems, "\n".join(problems)
        strips = page.evaluate(_STRIPS)
        assert len(strips) >= 2 and all(strips), strips  # each result's filmstrip, inside it
        panel.scroll_into_view_if_needed()
        panel.screenshot(path=str(artifacts / f"panel-330px-{word}.png"))
    _theme(page, "JupyterLab Light")

    page.set_viewport_size({"width": 1920, "height": 1600})
    lab_page.wait_until(
        f"() => ({_NOTEBOOK_WIDTH})() > 1500", timeout=10, what="the notebook did not widen"
    )
    problems = page.evaluate(CUT)
    assert not problems, "\n".join(problems)
    boxes = page.evaluate(RESULT_BOXES)
    panel_width = panel.bounding_box()["width"]
    assert panel_width > 1300, panel_width  # the panel uses the width, not a 920 px column
    first, second = boxes[0], boxes[1]
    assert abs(first["top"] - second["top"]) < 2 and second["left"] > first["left"] + 100, boxes
    page.locator(".luma-nb-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "panel-1600px.png"))
    assert not lab_page.page_errors, lab_page.page_errors
