"""The panel and the quickstart as Voila apps, in a real browser, in the light and dark theme.

Voila runs the whole notebook, then shows its outputs (no code) with live widgets. The tests
open a page per notebook and theme and check what a person sees there:

- the panel (``02_panel.ipynb``) renders and works: a prompt typed and Generate clicked on the
  simulator gives a job row that completes and a result card whose ``<video>`` plays;
- its layout at a 330 px and a 1600 px wide window has nothing cut (the element-box checks of
  the JupyterLab layout test, :mod:`._panel_layout`), and at 1600 px the results sit side by
  side; the quickstart's cards fit the narrow window too;
- *Copy as code* puts exactly the code the card shows on the clipboard;
- a wait moves: Voila shows nothing until every cell ran, so the wait people watch in a Voila
  app is a panel job's. ``voila_panel_wait.ipynb`` (beside this file) slows the simulator down
  and the test watches the job's time advance until the video arrives;
- no page errors, no error output, nothing requested off loopback except the two Font Awesome
  stylesheets that Voila's own page template links from a CDN (blocked like any other).

Screenshots go to ``artifacts/browser/voila-*.png``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from ._panel_layout import CUT, RESULT_BOXES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THEMES = ["light", "dark"]
PROMPT = "A red kite climbs over green hills under fast clouds"
OUTPUT_VIDEOS = ".jp-OutputArea-output video"

# Voila's lab template links Font Awesome from a CDN: the only outside requests it may make.
_VOILA_TEMPLATE_CDN = re.compile(
    r"^https://cdn\.jsdelivr\.net/npm/@fortawesome/fontawesome-free@[^/]+/css/"
    r"(all|v4-shims)\.min\.css$"
)

# Voila removes its spinner and shows the cells once every cell ran.
_RENDERED = """
() => {
  const cells = document.getElementById('rendered_cells');
  return !document.getElementById('loading') && !!cells && cells.style.display !== 'none';
}
"""

# The page's theme as Voila set it, and the colours the theme's stylesheet gives the page.
_THEME = """
() => {
  const rgb = (c) => (c.match(/\\d+(\\.\\d+)?/g) || []).slice(0, 3).map(Number);
  const luminance = (c) => {
    const [r, g, b] = rgb(c);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const body = getComputedStyle(document.body);
  const panel = document.querySelector('.luma-nb-panel');
  return {
    light: document.body.dataset.jpThemeLight,
    background: luminance(body.backgroundColor),
    text: luminance(getComputedStyle(panel || document.body).color),
  };
}
"""

# Outputs that went wrong. Voila shows a cell's error (its traceback: --show_tracebacks) as
# stderr output, and luma_nb writes to stderr only outside a notebook: no stderr at all.
_ERROR_OUTPUTS = """
() => Array.from(document.querySelectorAll(
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
)).map((el) => el.textContent.slice(0, 300))
"""

# Our job's row and result card, found by the prompt (the notebook runs a job of its own).
_OURS = """
(prompt) => {
  const key = prompt.slice(0, 30);
  const row = Array.from(document.querySelectorAll('.luma-nb-job'))
    .find((r) => r.textContent.includes(key));
  const card = Array.from(document.querySelectorAll('.luma-nb-results .luma-nb-result'))
    .find((c) => c.textContent.includes(prompt) && c.querySelector('video'));
  if (card) card.querySelector('video').setAttribute('data-luma-test', 'ours');
  return {
    rows: document.querySelectorAll('.luma-nb-job').length,
    text: row ? row.textContent.replace(/\\s+/g, ' ').trim().slice(0, 300) : null,
    state: row ? ((row.querySelector('.luma-nb-job-state') || {}).textContent || '').trim()
      .toLowerCase() : null,
    card: !!card,
    // The row's time: the element whose whole text reads like "waiting 3.7 s" or "12 s".
    elapsed: row ? (Array.from(row.querySelectorAll('*'))
      .map((el) => el.childElementCount ? '' : el.textContent.trim())
      .find((t) => /^(waiting )?\\d+(\\.\\d)? s$/.test(t)) || null) : null,
  };
}
"""

# Our card's prompt diff: the added words and the contrast of their text on their background.
_ADDED = """
(prompt) => {
  const card = Array.from(document.querySelectorAll('.luma-nb-result'))
    .find((c) => c.textContent.includes(prompt));
  const marks = card ? Array.from(card.querySelectorAll('ins.luma-nb-added')) : [];
  const rgb = (s) => (s.match(/[0-9.]+/g) || []).slice(0, 4).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  // The background behind the mark: its own tint over the first opaque ancestor's colour.
  const opaque = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  if (!marks.length) return {words: [], contrast: 0};
  const mark = marks[0];
  const base = opaque(mark.parentElement);
  const tint = rgb(getComputedStyle(mark).backgroundColor);
  const a = tint.length === 4 ? tint[3] : 1;
  const bg = base.map((c, i) => c * (1 - a) + (tint[i] || 0) * a);
  const fg = rgb(getComputedStyle(mark).color);
  const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return {words: marks.map((m) => m.textContent), contrast: (hi + 0.05) / (lo + 0.05)};
}
"""

# Our job completed and its card (with a <video>) is shown.
_DONE = f"""
(prompt) => {{
  const ours = ({_OURS})(prompt);
  return ours.state === 'completed' && ours.card;
}}
"""

# Every luma_nb output (a card, the grid, the panel): nothing reaches out of its output area,
# and no text spills out of its own box (as a label over its value) or is cut by it. Form
# fields are left out: a long placeholder scrolling inside its input is normal.
_OUTPUTS_CUT = """
() => {
  const problems = [];
  const name = (el) => el.tagName.toLowerCase() + '.' + Array.from(el.classList).join('.')
    + ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
  const outputs = Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .filter((o) => o.querySelector('[class*="luma-nb"]'));
  if (!outputs.length) problems.push('no luma_nb output on the page');
  for (const out of outputs) {
    const or = out.getBoundingClientRect();
    if (out.scrollWidth > out.clientWidth + 1)
      problems.push(`an output scrolls sideways: ${out.scrollWidth} > ${out.clientWidth}`);
    for (const el of out.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.left < or.left - 1 || r.right > or.right + 1)
        problems.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}, `
          + `its output ${Math.round(or.left)}..${Math.round(or.right)}`);
      if (el.closest('input, textarea, select, video')) continue;
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
        problems.push(`${name(el)}: its content is ${el.scrollWidth} px wide, `
          + `its box ${el.clientWidth} px`);
    }
  }
  return problems.slice(0, 25);
}
"""


def _open(voila_page: Any, url: str, theme: str) -> None:
    """Open a Voila page, wait until every cell ran, and check the theme took effect."""
    page = voila_page.page
    page.goto(url)
    voila_page.wait_until(
        _RENDERED, timeout=90, what=lambda: f"Voila did not finish {url}: {page.title()}"
    )
    errors = page.evaluate(_ERROR_OUTPUTS)
    assert not errors, errors
    shown = page.evaluate(_THEME)
    # Dark: light text on a dark page; light: the reverse (luminance 0 = black, 1 = white).
    if theme == "dark":
        assert shown["light"] == "false" and shown["background"] < 0.3 < shown["text"], shown
    else:
        assert shown["light"] == "true" and shown["background"] > 0.7 > shown["text"], shown


def _check_clean(voila_page: Any) -> None:
    assert not voila_page.page_errors, voila_page.page_errors
    assert not voila_page.console_errors, voila_page.console_errors
    outside = [url for url in voila_page.blocked if not _VOILA_TEMPLATE_CDN.match(url)]
    assert not outside, f"requests off loopback: {outside}"


def _fits(voila_page: Any, width: int, what: str) -> None:
    """Resize the window to ``width`` and wait until the page has reflowed."""
    page = voila_page.page
    page.set_viewport_size({"width": width, "height": 5000 if width < 600 else 1600})
    voila_page.wait_until(
        f"() => Math.abs(document.documentElement.clientWidth - {width}) < 20",
        timeout=10,
        what=f"the page did not resize for {what}",
    )
    page.wait_for_timeout(300)  # let the widgets' flex layout settle


@pytest.mark.parametrize("theme", THEMES)
def test_panel_works_and_fits_in_voila(
    voila_page: Any, voila: Any, artifacts: Path, theme: str
) -> None:
    page = voila_page.page
    _open(voila_page, voila.page_url("02_panel.ipynb", theme), theme)
    panel = page.locator(".luma-nb-panel")
    panel.locator(".luma-nb-result").first.wait_for(state="visible", timeout=30_000)
    assert panel.count() == 1, "the notebook should show exactly one panel"

    # A person's job: type, click Generate, watch the row complete and the video play.
    before = page.evaluate(_OURS, PROMPT)["rows"]
    panel.locator(".luma-nb-prompt textarea").fill(PROMPT)
    panel.locator(".luma-nb-generate").click(timeout=30_000)
    voila_page.wait_until(
        _DONE,
        PROMPT,
        timeout=60,
        what=lambda: f"our job did not complete with a card: {page.evaluate(_OURS, PROMPT)}",
    )
    assert page.evaluate(_OURS, PROMPT)["rows"] == before + 1, "one click, one job"
    selector = '.luma-nb-results video[data-luma-test="ours"]'
    videos = voila_page.wait_for_videos(selector)
    assert videos[0]["src"].startswith("data:video/mp4;base64,"), videos
    played = voila_page.play(selector)
    assert played["currentTime"] > 0 and played["error"] is None, played

    # The echo as a diff of the sent prompt (enhancement is on by default): the words the
    # service added are marked, readable against the card in this theme, the rest unmarked.
    added = page.evaluate(_ADDED, PROMPT)
    assert added["words"], added
    assert not any(word in PROMPT.split() for word in added["words"][0].split()), added
    assert added["contrast"] >= 3, added

    # Copy as code: Voila's page reaches the clipboard too, and holds exactly the code shown.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    card = panel.locator(".luma-nb-result", has_text=PROMPT).first
    card.locator(".luma-nb-copy button").click()
    voila_page.wait_until(
        "(p) => Array.from(document.querySelectorAll('.luma-nb-result'))"
        ".filter((c) => c.textContent.includes(p))"
        ".some((c) => c.querySelector('.luma-nb-copy button').textContent.includes('Copied'))",
        PROMPT,
        timeout=10,
        what="the copy button did not say Copied",
    )
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == card.locator(".luma-nb-code textarea").input_value(), copied
    assert copied.startswith("import luma_nb") or "luma_nb.generate(" in copied, copied
    assert PROMPT in copied, copied

    # A phone-sized window: nothing of the panel cut.
    _fits(voila_page, 330, "330 px")
    assert panel.bounding_box()["width"] <= 330
    problems = page.evaluate(CUT) + page.evaluate(_OUTPUTS_CUT)
    assert not problems, "\n".join(problems)
    panel.screenshot(path=str(artifacts / f"voila-panel-330px-{theme}.png"))

    # A wide window: the panel uses the width, the two results side by side.
    _fits(voila_page, 1600, "1600 px")
    problems = page.evaluate(CUT) + page.evaluate(_OUTPUTS_CUT)
    assert not problems, "\n".join(problems)
    assert panel.bounding_box()["width"] > 1300, panel.bounding_box()
    first, second = page.evaluate(RESULT_BOXES)[:2]
    assert abs(first["top"] - second["top"]) < 2 and second["left"] > first["left"] + 100
    page.locator(".luma-nb-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"voila-panel-1600px-{theme}.png"))
    _check_clean(voila_page)


@pytest.mark.parametrize("theme", THEMES)
def test_quickstart_plays_and_fits_in_voila(
    voila_page: Any, voila: Any, artifacts: Path, theme: str
) -> None:
    page = voila_page.page
    _open(voila_page, voila.page_url("01_quickstart.ipynb", theme), theme)
    videos = voila_page.wait_for_videos(OUTPUT_VIDEOS)
    assert len(videos) >= 4, videos  # generate x3 and extend, at least, before the grid
    assert all(v["src"].startswith("data:video/mp4;base64,") for v in videos), videos
    assert all(v["width"] > 0 and v["height"] > 0 for v in videos), videos
    played = voila_page.play(OUTPUT_VIDEOS)
    assert played["currentTime"] > 0 and played["error"] is None, played
    page.screenshot(path=str(artifacts / f"voila-quickstart-{theme}.png"))

    for width in (330, 1600):
        _fits(voila_page, width, f"{width} px")
        problems = page.evaluate(_OUTPUTS_CUT)
        assert not problems, f"at {width} px:\n" + "\n".join(problems)
    _fits(voila_page, 330, "330 px")
    page.screenshot(path=str(artifacts / f"voila-quickstart-330px-{theme}.png"))
    _check_clean(voila_page)


def test_a_panel_job_shows_its_wait_moving_in_voila(
    voila_page: Any, voila: Any, artifacts: Path
) -> None:
    """The dedicated notebook: one panel on a simulator slowed to 6-8 s a generation."""
    page = voila_page.page
    _open(voila_page, voila.page_url("voila_panel_wait.ipynb", "dark"), "dark")
    prompt = "A slow kite over a windy ridge"  # set by the notebook
    page.locator(".luma-nb-generate").click(timeout=30_000)
    seen: list[float] = []
    state = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ours = page.evaluate(_OURS, prompt)
        state = ours["state"]
        if state in ("completed", "failed"):
            break
        elapsed = float(ours["elapsed"].split()[-2]) if ours["elapsed"] else None
        if elapsed is not None and (not seen or elapsed != seen[-1]):
            seen.append(elapsed)
            if len(seen) == 3:
                page.screenshot(path=str(artifacts / "voila-wait-ticking.png"))
        page.wait_for_timeout(250)
    assert state == "completed", page.evaluate(_OURS, prompt)
    assert len(seen) >= 4, f"the job's time did not move while it waited: {seen}"
    assert seen == sorted(seen) and seen[-1] - seen[0] >= 3, seen
    voila_page.wait_until(_DONE, prompt, timeout=20, what="no result card")
    played = voila_page.play('.luma-nb-results video[data-luma-test="ours"]')
    assert played["currentTime"] > 0 and played["error"] is None, played
    _check_clean(voila_page)


def test_a_helper_called_from_a_button_shows_its_video_in_voila(
    voila_page: Any, voila: Any, artifacts: Path
) -> None:
    """``luma_nb.generate`` in a button's callback, inside an ``ipywidgets.Output``.

    That output area drops ``update_display_data``: a status line updated in place froze at
    "submitting" there and the video meant to replace it never came. The line is printed
    instead, and the card is displayed anew.
    """
    page = voila_page.page
    _open(voila_page, voila.page_url("voila_panel_wait.ipynb", "light"), "light")
    page.locator(".luma-test-callback").click(timeout=30_000)
    output = ".luma-test-callback-output"
    voila_page.wait_until(
        f"() => !!document.querySelector('{output} video')",
        timeout=60,
        what=lambda: (
            "no video in the callback's output: " + page.locator(output).inner_text()[:500]
        ),
    )
    text = page.locator(output).inner_text()
    assert "A paper crane over a still pond" in text, text
    assert "completed" in text, text  # the printed line's last state
    played = voila_page.play(f"{output} video")
    assert played["currentTime"] > 0 and played["error"] is None, played
    page.locator(output).screenshot(path=str(artifacts / "voila-callback-output.png"))
    _check_clean(voila_page)
