"""The quickstart notebook, run in JupyterLab in a real browser: its clips load and play."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "01_quickstart.ipynb"
OUTPUT_VIDEOS = ".jp-OutputArea-output video"


def test_quickstart_videos_play_in_jupyterlab(lab_page: Any, artifacts: Path) -> None:
    lab_page.open_notebook(NOTEBOOK, workspace="quickstart")
    lab_page.run_all(NOTEBOOK)

    videos = lab_page.wait_for_videos(OUTPUT_VIDEOS)
    assert len(videos) >= 4, videos  # generate x3 and extend, at least, before the grid
    assert all(v["src"].startswith("data:video/mp4;base64,") for v in videos), videos
    assert all(v["width"] > 0 and v["height"] > 0 for v in videos), videos

    played = lab_page.play(OUTPUT_VIDEOS)
    assert played["currentTime"] > 0 and played["error"] is None, played

    lab_page.page.screenshot(path=str(artifacts / "quickstart.png"))
    assert not lab_page.page_errors, lab_page.page_errors
