"""The panel's details in JupyterLab, clicked as a person would, in the light and dark theme.

- A double click on Generate: the button says "Submitting…" while the POST is in flight and
  the simulator sees exactly one POST.
- The keyframe check's result under the preview: passed, a shape warning, a broken link.
- *Extend this*: the form scrolls into view with the prompt focused and emptied, a banner
  names the video, *Cancel extend* brings the prompt back, the extend's job row says
  "extend of …".
- *Copy as code*: the clipboard holds exactly the generated code and the button says "Copied";
  where the browser refuses, the button and the line say so and the code is there to select.
- Labels: at 330 px of notebook no text in the panel is cut, and no "Local file (0)".

The notebook is written by the test: the panel runs on an in-process simulator whose submits
answer 2 s late (so "Submitting…" can be seen), and a loopback image host in the kernel, which
the client's keyframe preflight is told to treat as public. The page itself reaches nothing
but the loopback Lab server (see conftest's ``only_loopback``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ._lab_page import _FIND_PANEL

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "panel_details.ipynb"
THEMES = (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark"))
CSS_WARN = ("luma-nb-warn", "luma-nb-invalid")  # shown together (ratio 9:16)
CSS_OTHERS = ("luma-nb-valid",)  # with the fitting ratio

SETUP = """
import io, secrets, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from PIL import Image
import luma_nb
from luma_nb._preflight import KeyframePreflight
from luma_nb.backend import SIMULATOR_POLL
from luma_nb.simulator import Simulator

_buffer = io.BytesIO()
Image.new("RGB", (1280, 720), (40, 110, 190)).save(_buffer, format="PNG")
PNG = _buffer.getvalue()

class Images(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/key.png"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)
        else:
            self.send_error(404)
    def log_message(self, *args):
        pass

images = ThreadingHTTPServer(("127.0.0.1", 0), Images)
threading.Thread(target=images.serve_forever, daemon=True).start()
IMAGES = f"http://127.0.0.1:{images.server_address[1]}"
# Every submit answers 2 s late. A seed of its own, as connect() does: the kernels of these
# tests share one media cache, and a fixed seed would repeat the media URLs.
sim = Simulator(seed=secrets.token_hex(8), faults="slow=1:2,on=videos")
client = luma_nb.AsyncClient(
    "simulated-token", base_url=sim.base_url, transport=sim.transport(), backend="simulator",
    poll=SIMULATOR_POLL, preflight=KeyframePreflight(allow_hosts={"127.0.0.1"}),
)

def posts():
    return sum(e.method == "POST" and e.path.endswith("/luma/videos") for e in sim.journal)
"""
CELLS = [SETUP, "panel = luma_nb.Panel(client)\npanel"]

# Run code in the notebook's kernel (not in a cell) and return what it printed.
_KERNEL = f"""
async ([path, code]) => {{
  const panel = ({_FIND_PANEL})(path);
  const future = panel.sessionContext.session.kernel.requestExecute({{code, store_history: false}});
  let out = '';
  future.onIOPub = (msg) => {{
    if (msg.header.msg_type === 'stream') out += msg.content.text;
    const c = msg.content;
    if (msg.header.msg_type === 'error') out += `ERROR ${{c.ename}}: ${{c.evalue}}`;
  }};
  await future.done;
  return out;
}}
"""

_JOB_ROWS = """
() => Array.from(document.querySelectorAll('.luma-nb-job')).map((row) => ({
  state: ((row.querySelector('.luma-nb-job-state') || {}).textContent || '').trim(),
  label: ((row.querySelector('.luma-nb-job-label') || {}).textContent || '').trim(),
}))
"""

# Whether the element is on screen and on top at its centre (not scrolled away, not covered).
_SHOWN = """
(selector) => {
  const el = document.querySelector(selector);
  if (!el) return false;
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height || r.top < 0 || r.bottom > window.innerHeight) return false;
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height / 2, 10));
  return !!hit && el.contains(hit);
}
"""

# The contrast ratio (WCAG) of an element's text against the first opaque background behind it.
_CONTRAST = """
(selector) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const el = document.querySelector(selector);
  let back = [255, 255, 255];
  for (let n = el; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { back = c; break; }
  }
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(back)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""

# Every piece of text in the panel that its box cuts (ellipsis or hidden overflow).
_CUT_TEXT = """
() => {
  const panel = document.querySelector('.luma-nb-panel');
  const skip = new Set(['INPUT', 'TEXTAREA', 'VIDEO', 'IMG', 'OPTION', 'svg']);
  const name = (el) => el.tagName.toLowerCase() + '.' + Array.from(el.classList).join('.')
    + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const problems = [];
  const ruler = document.createElement('canvas').getContext('2d');
  for (const el of panel.querySelectorAll('*')) {
    if (skip.has(el.tagName) || el.closest('.luma-nb-card, .luma-nb-result-card')) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || !(el.textContent || '').trim()) continue;
    if (el.tagName === 'SELECT') {
      const style = getComputedStyle(el);
      ruler.font = `${style.fontSize} ${style.fontFamily}`;
      const text = el.selectedIndex >= 0 ? el.options[el.selectedIndex].text : '';
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const wide = ruler.measureText(text).width;
      if (wide > room + 1)
        problems.push(`the choice "${text}" is cut: ${Math.round(wide)} > ${Math.round(room)}`);
      continue;
    }
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
      const right = r.right - parseFloat(style.borderRightWidth);
      const out = Array.from(el.children)
        .filter((c) => c.getBoundingClientRect().right > right + 1);
      problems.push(`${name(el)} is cut: ${el.scrollWidth} > ${el.clientWidth}`
        + (out.length ? ` by ${out.map(name).join(', ')}` : ''));
    }
  }
  for (const el of panel.querySelectorAll('button, .widget-label, label')) {
    if (/\\(\\d+\\)\\s*$/.test(el.textContent.trim()))
      problems.push(`a count in brackets: ${name(el)}`);
  }
  return problems.slice(0, 25);
}
"""


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


def _open(lab_page: Any, jupyter_lab: Any, workspace: str) -> Any:
    """Open and run the test's notebook; return the panel's locator."""
    _write_notebook(jupyter_lab.root_dir / NOTEBOOK)
    lab_page.open_notebook(NOTEBOOK, workspace=workspace)
    lab_page.run_all(NOTEBOOK)
    panel = lab_page.page.locator(".luma-nb-panel")
    panel.first.wait_for(state="visible", timeout=30_000)
    return panel


def _kernel(lab_page: Any, code: str) -> str:
    out = str(lab_page.page.evaluate(_KERNEL, [NOTEBOOK, code]))
    assert "ERROR" not in out, out
    return out.strip()


def _theme(page: Any, name: str) -> None:
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", name
    )
    page.wait_for_function(
        "(t) => document.body.dataset.jpThemeName === t", arg=name, timeout=10_000
    )


def _generate(lab_page: Any, panel: Any, prompt: str) -> None:
    """Type ``prompt``, click Generate and wait for its result card."""
    panel.locator(".luma-nb-prompt textarea").fill(prompt)
    panel.locator(".luma-nb-generate").click()
    lab_page.wait_until(
        """(prompt) => Array.from(document.querySelectorAll('.luma-nb-results .luma-nb-result'))
             .some((card) => card.textContent.includes(prompt))""",
        prompt,
        timeout=60,
        what=lambda: f"no result for {prompt!r}: {lab_page.page.evaluate(_JOB_ROWS)}",
    )


def _card(panel: Any, prompt: str) -> Any:
    return panel.locator(".luma-nb-results .luma-nb-result", has_text=prompt).first


def _no_errors(lab_page: Any) -> None:
    assert not lab_page.page_errors, lab_page.page_errors
    assert not lab_page.console_errors, lab_page.console_errors


# ----------------------------------------------------------------------------- double click


def test_a_double_click_shows_submitting_and_posts_once(
    lab_page: Any, jupyter_lab: Any, artifacts: Path
) -> None:
    page = lab_page.page
    panel = _open(lab_page, jupyter_lab, "details-click")
    generate = panel.locator(".luma-nb-generate")
    for theme, word in THEMES:
        _theme(page, theme)
        prompt = f"A kite double-clicked in the {word} theme"
        panel.locator(".luma-nb-prompt textarea").fill(prompt)
        page.wait_for_function(
            "() => !document.querySelector('.luma-nb-generate').disabled", timeout=10_000
        )
        before = int(_kernel(lab_page, "print(posts())"))
        generate.dblclick()
        # The POST takes 2 s: the button shows it, disabled.
        lab_page.wait_until(
            """() => { const b = document.querySelector('.luma-nb-generate');
                       return b.disabled && b.textContent.includes('Submitting…'); }""",
            timeout=10,
            what=lambda: f"Generate never said Submitting…: {generate.text_content()!r}",
        )
        generate.screenshot(path=str(artifacts / f"panel-submitting-{word}.png"))
        lab_page.wait_until(
            "() => document.querySelector('.luma-nb-generate').textContent.includes('Generate')",
            timeout=20,
            what="Generate did not come back after the POST",
        )
        assert int(_kernel(lab_page, "print(posts())")) == before + 1, "two POSTs for one intent"
        rows = [row for row in page.evaluate(_JOB_ROWS) if row["label"] == prompt]
        assert len(rows) == 1, page.evaluate(_JOB_ROWS)
        jobs = _kernel(lab_page, f"print(sum(j.request.prompt == {prompt!r} for j in panel.jobs))")
        assert jobs == "1"
    _no_errors(lab_page)


# ----------------------------------------------------------------------------- keyframe check


def test_the_keyframe_check_shows_under_the_preview(
    lab_page: Any, jupyter_lab: Any, artifacts: Path
) -> None:
    page = lab_page.page
    panel = _open(lab_page, jupyter_lab, "details-keyframes")
    images = _kernel(lab_page, "print(IMAGES)")
    start = panel.locator(".widget-text", has_text="Start image").locator("input")
    end = panel.locator(".widget-text", has_text="End image").locator("input")
    ratio = panel.locator(".widget-dropdown", has_text="Aspect ratio").locator("select")
    check = ".luma-nb-keyframe-preview .luma-nb-keyframe-check"
    for theme, word in THEMES:
        _theme(page, theme)
        ratio.select_option("16:9")
        start.fill(f"{images}/key.png?{word}")
        end.fill(f"{images}/gone.png?{word}")
        lab_page.wait_until(
            """(sel) => { const lines = Array.from(document.querySelectorAll(sel));
                          return lines.length === 2 && lines.every((l) => l.dataset.ok); }""",
            check,
            timeout=20,
            what=lambda: (
                "the checks did not finish: "
                + str([t for t in panel.locator(".luma-nb-keyframe-preview").all_text_contents()])
            ),
        )
        passed = panel.locator(f"{check}.luma-nb-valid")
        failed = panel.locator(f"{check}.luma-nb-invalid")
        assert "checked: a 1280x720 PNG" in passed.text_content()
        assert "the API cannot use it" in failed.text_content()
        assert "404" in failed.text_content()
        # The preview image itself loaded in the page (from the loopback host).
        assert page.evaluate(
            "() => Array.from(document.querySelectorAll('.luma-nb-keyframe-preview img'))"
            ".some((img) => img.complete && img.naturalWidth === 1280)"
        )
        # Another ratio: judged again (from the client's cache): a shape warning.
        ratio.select_option("9:16")
        warned = panel.locator(f"{check}.luma-nb-warn")
        warned.wait_for(state="visible", timeout=20_000)
        assert "not 9:16" in warned.text_content()
        # Each verdict reads in this theme: its colour against what is behind it. (The broken
        # link is fetched again for the new ratio: a failed check is not cached.)
        lab_page.wait_until(
            "(sel) => document.querySelectorAll(sel).length === 2",
            f"{check}.luma-nb-warn, {check}.luma-nb-invalid",
            timeout=20,
            what="the warning and the failure are not both shown",
        )
        contrasts = {css: page.evaluate(_CONTRAST, f"{check}.{css}") for css in CSS_WARN}
        panel.locator(".luma-nb-form").screenshot(
            path=str(artifacts / f"panel-keyframes-{word}.png")
        )
        ratio.select_option("16:9")
        passed.wait_for(state="visible", timeout=20_000)
        contrasts |= {css: page.evaluate(_CONTRAST, f"{check}.{css}") for css in CSS_OTHERS}
        low = {css: round(value, 2) for css, value in contrasts.items() if value < 2.5}
        assert not low, f"hard to read in the {word} theme: {low}"
    _no_errors(lab_page)


# ----------------------------------------------------------------------------- extend this


def test_extend_this_scrolls_to_the_form_and_says_what_it_extends(
    lab_page: Any, jupyter_lab: Any, artifacts: Path
) -> None:
    page = lab_page.page
    page.set_viewport_size({"width": 1400, "height": 700})  # the form and the results: not both
    panel = _open(lab_page, jupyter_lab, "details-extend")
    prompt = "A paper boat drifts down a rainy street"
    _generate(lab_page, panel, prompt)
    short = _kernel(lab_page, "print(panel.jobs[-1].video.video_id[:8])")
    textarea = panel.locator(".luma-nb-prompt textarea")
    banner = ".luma-nb-panel .luma-nb-extend-banner"
    for theme, word in THEMES:
        _theme(page, theme)
        card = _card(panel, prompt)
        card.evaluate("(el) => el.scrollIntoView({block: 'start'})")  # the form goes up
        assert not page.evaluate(_SHOWN, ".luma-nb-panel .luma-nb-prompt textarea")
        card.locator("button", has_text="Extend this").click()
        lab_page.wait_until(
            f"""() => ({_SHOWN})('{banner}') && ({_SHOWN})('.luma-nb-panel .luma-nb-prompt')
                  && document.activeElement
                  === document.querySelector('.luma-nb-panel .luma-nb-prompt textarea')""",
            timeout=10,
            what="the form did not come into view with the prompt focused",
        )
        text = page.locator(banner).text_content()
        assert f"Extending {short}: “{prompt}”" in text, text
        assert "set aside" in text  # the old prompt is out of the box, and named
        assert textarea.input_value() == ""
        page.screenshot(path=str(artifacts / f"panel-extend-{word}.png"))
        # Cancel extend: a new video again, the prompt back.
        page.locator(banner).locator("button", has_text="Cancel extend").click()
        page.locator(banner).wait_for(state="hidden", timeout=10_000)
        page.wait_for_function(
            "(p) => document.querySelector('.luma-nb-prompt textarea').value === p", arg=prompt
        )

    # The extend itself: its job row says what it extends.
    _card(panel, prompt).locator("button", has_text="Extend this").click()
    page.locator(banner).wait_for(state="visible", timeout=10_000)
    extension = "the boat reaches a bright canal"
    textarea.fill(extension)
    panel.locator(".luma-nb-generate").click()
    lab_page.wait_until(
        """(short) => Array.from(document.querySelectorAll('.luma-nb-job-label'))
             .some((l) => l.textContent.startsWith('extend of ' + short))""",
        short,
        timeout=20,
        what=lambda: f"no 'extend of' row: {page.evaluate(_JOB_ROWS)}",
    )
    labels = [row["label"] for row in page.evaluate(_JOB_ROWS)]
    wanted = f"extend of {short} “A paper boat drifts down a rain…” → {extension}"
    assert wanted in labels, labels
    _no_errors(lab_page)


# ----------------------------------------------------------------------------- copy as code


def test_copy_as_code_puts_the_code_on_the_clipboard(
    lab_page: Any, jupyter_lab: Any, artifacts: Path
) -> None:
    page = lab_page.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    panel = _open(lab_page, jupyter_lab, "details-copy")
    prompt = 'A "quoted" lighthouse at dusk'
    _generate(lab_page, panel, prompt)
    code = json.loads(
        _kernel(lab_page, "import json; print(json.dumps(panel.code(panel.jobs[-1].request)))")
    )
    assert "luma_nb.generate(\n    'A \"quoted\" lighthouse at dusk'," in code, code
    card = _card(panel, prompt)
    button = card.locator(".luma-nb-copy button")
    area = card.locator(".luma-nb-code textarea")

    _theme(page, "JupyterLab Light")
    button.click()
    lab_page.wait_until(
        "() => document.querySelector('.luma-nb-copy button').textContent.includes('Copied')",
        timeout=10,
        what=lambda: f"the button did not say Copied: {button.text_content()!r}",
    )
    assert page.evaluate("() => navigator.clipboard.readText()") == code
    area.wait_for(state="visible", timeout=10_000)  # the code is shown too
    assert area.input_value() == code
    assert "Copied to the clipboard" in card.locator(".luma-nb-code-hint").text_content()
    card.screenshot(path=str(artifacts / "panel-copied-light.png"))

    # Where the browser refuses (no permission, no clipboard API, execCommand disabled), the
    # button and the line say so, and the code stays there to select by hand.
    _theme(page, "JupyterLab Dark")
    page.evaluate(
        """() => {
          navigator.clipboard.writeText = () =>
            Promise.reject(new DOMException('denied', 'NotAllowedError'));
          document.execCommand = () => false;
        }"""
    )
    page.wait_for_timeout(2100)  # the "Copied" feedback has reset
    button.click()
    lab_page.wait_until(
        "() => document.querySelector('.luma-nb-copy button').textContent.includes('Copy failed')",
        timeout=10,
        what=lambda: f"the button did not say Copy failed: {button.text_content()!r}",
    )
    hint = card.locator(".luma-nb-code-hint")
    lab_page.wait_until(
        "() => document.querySelector('.luma-nb-code-hint').textContent.includes('Could not copy')",
        timeout=10,
        what=lambda: f"no fallback line: {hint.text_content()!r}",
    )
    assert "NotAllowedError" in hint.text_content() and "Ctrl/Cmd+C" in hint.text_content()
    assert area.is_visible() and area.is_editable() and area.input_value() == code
    area.click()
    page.keyboard.press("Control+A")
    selected = page.evaluate(
        "() => { const t = document.querySelector('.luma-nb-code textarea');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == code
    card.screenshot(path=str(artifacts / "panel-copy-refused-dark.png"))
    _no_errors(lab_page)


# ----------------------------------------------------------------------------- labels


def test_no_label_is_cut_at_330_px(lab_page: Any, jupyter_lab: Any, artifacts: Path) -> None:
    page = lab_page.page
    panel = _open(lab_page, jupyter_lab, "details-labels")
    prompt = "A long prompt about a heron that waits in the reeds for the morning fog to lift"
    _generate(lab_page, panel, prompt)
    _card(panel, prompt).locator("button", has_text="Extend this").click()  # the banner
    _kernel(lab_page, "panel._form.advanced.selected_index = 0")  # open Advanced: Mode
    panel.locator(".widget-toggle-buttons", has_text="sync").first.wait_for(state="visible")
    files = panel.locator(".luma-nb-file")
    assert files.count() == 2
    assert [t.strip() for t in files.locator("button").all_text_contents()] == ["Local file…"] * 2
    assert files.locator(".luma-nb-file-status").all_text_contents() == ["none chosen"] * 2

    page.set_viewport_size({"width": 660, "height": 4200})
    page.wait_for_function(
        "() => document.querySelector('.jp-Notebook').getBoundingClientRect().width < 400"
    )
    for theme, word in THEMES:
        _theme(page, theme)
        page.wait_for_timeout(300)
        problems = page.evaluate(_CUT_TEXT)
        assert not problems, "\n".join(problems)
        panel.screenshot(path=str(artifacts / f"panel-labels-330px-{word}.png"))
    _no_errors(lab_page)
