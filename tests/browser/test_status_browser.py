"""The helpers' status line ticks in JupyterLab while ``luma_nb.generate`` waits.

A small generated notebook slows the simulator down (``LUMA_NB_SIM_SPEED``), so a generation
takes about ten real seconds; the test watches the line's "waiting N s" move on the page while
the cell is still running, then the line turns into the player.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from ._lab_page import _RUN_ALL

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "status_line.ipynb"
CELLS = [
    'import os\nos.environ["LUMA_NB_SIM_SPEED"] = "12"  # ~12 s a generation\nimport luma_nb',
    'video = luma_nb.generate("A slow kite over a windy ridge")',
]
_LINE = "() => (document.querySelector('.jp-OutputArea-output .luma-nb-status') || {}).textContent"


def _write_notebook(path: Path) -> None:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
        for src in CELLS
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook), encoding="utf-8")


def test_the_status_line_ticks_while_generate_waits(
    lab_page: Any, jupyter_lab: Any, artifacts: Path
) -> None:
    _write_notebook(jupyter_lab.root_dir / NOTEBOOK)
    page = lab_page.page
    lab_page.open_notebook(NOTEBOOK, workspace="status")
    page.evaluate(_RUN_ALL, NOTEBOOK)
    seen: list[float] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if page.locator(".jp-OutputArea-output video").count():
            break
        text = page.evaluate(_LINE) or ""
        match = re.search(r"waiting (\d+\.\d) s", text)
        if match and (not seen or float(match.group(1)) != seen[-1]):
            seen.append(float(match.group(1)))
            if len(seen) == 3:
                page.screenshot(path=str(artifacts / "status-line-ticking.png"))
        page.wait_for_timeout(250)
    assert len(seen) >= 4, f"the line did not move: {seen}"
    assert seen == sorted(seen) and seen[-1] - seen[0] >= 3, seen
    lab_page.wait_for_videos(".jp-OutputArea-output video", timeout=60)
    assert not page.locator(".jp-OutputArea-output .luma-nb-status").count()  # now the player
    assert not lab_page.page_errors, lab_page.page_errors
