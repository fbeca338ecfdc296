"""The study report in a real browser: videos at their native size, the plot in the theme.

A study runs on the simulator (clips of 384 x 216 pixels) and its report is opened from the
file, with no network: every video loads from its embedded data and plays at its own size —
not blown up to the column's width, no black bars — and shrinks, keeping its shape, in a
narrow window. The plot's ink is the page's text colour, light on the dark scheme and dark on
the light one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_VIDEOS = """
async () => {
  const videos = Array.from(document.querySelectorAll('video'));
  for (let i = 0; i < 100 && videos.some(v => v.readyState < 1); i++) {
    await new Promise(r => setTimeout(r, 50));
  }
  return videos.map(v => ({
    width: v.clientWidth, height: v.clientHeight,
    native: v.videoWidth, nativeHeight: v.videoHeight, ready: v.readyState,
    column: v.closest('.luma-nb-study-arm').clientWidth,
  }));
}
"""

_INK = """
() => {
  const text = document.querySelector('.luma-nb-plot svg text');
  const body = getComputedStyle(document.body);
  return {ink: getComputedStyle(text).fill, text: body.color, background: body.backgroundColor};
}
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("av")
    pytest.importorskip("matplotlib")
    from _experimenttools import make_client

    import luma_nb
    from luma_nb.simulator import Simulator, VirtualClock

    folder = tmp_path_factory.mktemp("study-report")
    sim = Simulator(clock=VirtualClock(), seed=3)
    try:
        study = luma_nb.study(
            ["a paper boat on a rainy street", "a fox in the snow at dawn"],
            factors={"enhancement": [True, False], "loop": [True, False]},
            seed=2,
            client=make_client(sim, folder),
            session=folder / "s.jsonl",
        )
        for record in study.records():
            study.rate(record["pair"], record["arm"], 3 + record["pair"] % 2)
        yield study.export_html(folder / "study.html")
    finally:
        sim.close()


def _open(browser: Any, path: Path, *, width: int, scheme: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    blocked: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", offline)
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert blocked == []  # the report asks the network for nothing
    return context, page


def test_videos_play_at_their_native_size(browser: Any, report: Path) -> None:
    context, page = _open(browser, report, width=1280, scheme="light")
    try:
        videos = page.evaluate(_VIDEOS)
    finally:
        context.close()
    assert len(videos) == 8
    for video in videos:
        assert video["ready"] >= 1 and (video["native"], video["nativeHeight"]) == (384, 216)
        assert video["column"] > 384  # room to spare, and still not enlarged
        assert (video["width"], video["height"]) == (384, 216)  # no upscaling, no black bars


def test_videos_shrink_in_a_narrow_window_keeping_their_shape(browser: Any, report: Path) -> None:
    context, page = _open(browser, report, width=320, scheme="light")
    try:
        videos = page.evaluate(_VIDEOS)
    finally:
        context.close()
    for video in videos:
        assert video["width"] < 384 and video["width"] <= video["column"]
        assert video["height"] == pytest.approx(video["width"] * 216 / 384, abs=2)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_plot_follows_the_colour_scheme(browser: Any, report: Path, scheme: str) -> None:
    context, page = _open(browser, report, width=1280, scheme=scheme)
    try:
        colours = page.evaluate(_INK)
    finally:
        context.close()
    assert colours["ink"] == colours["text"]  # the plot's ink is the page's text colour
    light_page = colours["background"] == "rgb(255, 255, 255)"
    assert light_page == (scheme == "light")
    channels = [int(c) for c in colours["ink"][4:-1].split(",")]
    assert (sum(channels) > 600) == (scheme == "dark")  # light ink on the dark page
