"""The widget panel in JupyterLab in a real browser: type a prompt, Generate, watch it play.

This is the path a person takes: the test's job is started only by typing into and clicking
the rendered widgets, so it checks the front end (ipywidgets in Lab) as well as the kernel
side: the job row reaching "completed" and the result's ``<video>`` loading its data URL and
playing. (The notebook also runs one job from code; the test's job is told apart by prompt.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "02_panel.ipynb"
PROMPT = "A red kite climbs over green hills under fast clouds"

_JOB_ROWS = """
() => Array.from(document.querySelectorAll('.luma-nb-job')).map((row) => ({
  state: ((row.querySelector('.luma-nb-job-state') || {}).textContent || '').trim(),
  text: row.textContent.replace(/\\s+/g, ' ').trim().slice(0, 300),
}))
"""

# The notebook itself runs one job from code, so the test's job is found by its prompt.
_OUR_JOB_STATE = """
(prompt) => {
  for (const row of document.querySelectorAll('.luma-nb-job')) {
    if (!row.textContent.includes(prompt.slice(0, 30))) continue;
    const state = row.querySelector('.luma-nb-job-state');
    if (state && state.textContent.trim().toLowerCase() === 'completed') return true;
  }
  return false;
}
"""

# Tag the <video> of the result card that shows our prompt, so it can be selected.
_TAG_OUR_VIDEO = """
(prompt) => {
  for (const card of document.querySelectorAll('.luma-nb-results .luma-nb-result')) {
    const video = card.querySelector('video');
    if (video && card.textContent.includes(prompt)) {
      video.setAttribute('data-luma-test', 'ours');
      return true;
    }
  }
  return false;
}
"""


def test_panel_generates_and_plays_a_video(lab_page: Any, artifacts: Path) -> None:
    page = lab_page.page
    lab_page.open_notebook(NOTEBOOK, workspace="panel")
    lab_page.run_all(NOTEBOOK)

    panel = page.locator(".luma-nb-panel")
    panel.first.wait_for(state="visible", timeout=30_000)
    assert panel.count() == 1, "the notebook should show exactly one panel"

    jobs_before = len(page.evaluate(_JOB_ROWS))
    prompt = panel.locator(".luma-nb-prompt textarea")
    prompt.fill(PROMPT)
    # The typed value and the click reach the kernel in this order (one widget update, then
    # the click message); Playwright's click also waits until Generate is enabled.
    panel.locator(".luma-nb-generate").click(timeout=30_000)

    lab_page.wait_until(
        _OUR_JOB_STATE,
        PROMPT,
        timeout=60,
        what=lambda: f"our job row did not reach 'completed': {page.evaluate(_JOB_ROWS)}",
    )
    assert len(page.evaluate(_JOB_ROWS)) == jobs_before + 1, "one click, one job"
    lab_page.wait_until(
        _TAG_OUR_VIDEO, PROMPT, timeout=10, what="no result card with a <video> shows our prompt"
    )

    ours = '.luma-nb-results video[data-luma-test="ours"]'
    videos = lab_page.wait_for_videos(ours)
    assert videos[0]["src"].startswith("data:video/mp4;base64,"), videos
    played = lab_page.play(ours)
    assert played["currentTime"] > 0 and played["error"] is None, played

    # Tall enough for the whole panel, so the element screenshot is not clipped by Lab's
    # scrolling notebook area.
    page.set_viewport_size({"width": 1400, "height": 2400})
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(artifacts / "panel.png"), animations="disabled")
    assert not lab_page.page_errors, lab_page.page_errors
    assert not lab_page.console_errors, lab_page.console_errors
