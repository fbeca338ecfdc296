"""Drive a JupyterLab page from Playwright: open a notebook, run it, check its videos.

Everything goes through ``window.jupyterapp`` (the server runs with
``--LabApp.expose_app_in_browser=True``) and is checked by polling with
``page.wait_for_function``: a condition that is already true passes at once, whereas an event
(``loadedmetadata``, a kernel status change) may have fired before anyone listened.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

# JavaScript: the notebook panel whose document is at `path`, or null.
_FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const widget of Array.from(app.shell.widgets('main'))) {
    if (widget.context && widget.context.path === path && widget.content
        && widget.sessionContext) return widget;
  }
  return null;
}
"""

_NOTEBOOK_READY = f"""
(path) => {{
  const panel = ({_FIND_PANEL})(path);
  if (!panel || !panel.context.isReady) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
}}
"""

_RUN_ALL = f"""
(path) => {{
  const app = window.jupyterapp;
  const panel = ({_FIND_PANEL})(path);
  app.shell.activateById(panel.id);
  window.__lumaRunAll = {{done: false, error: null}};
  app.commands.execute('notebook:run-all-cells').then(
    () => {{ window.__lumaRunAll.done = true; }},
    (err) => {{ window.__lumaRunAll.error = String(err); }},
  );
}}
"""

# Done when every code cell has run and the kernel is idle, or as soon as a cell failed
# (Lab stops a run-all at the first error, leaving the cells below it unrun).
_RUN_STATE = f"""
(path) => {{
  const panel = ({_FIND_PANEL})(path);
  const errors = [];
  let pending = 0;
  for (const cell of panel.content.widgets) {{
    const model = cell.model;
    if (model.type !== 'code') continue;
    if (model.executionCount === null && model.sharedModel.getSource().trim()) pending += 1;
    for (const out of model.outputs.toJSON()) {{
      if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue);
    }}
  }}
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const idle = !!kernel && kernel.status === 'idle';
  const run = window.__lumaRunAll || {{}};
  if (errors.length || run.error) return {{errors, runError: run.error || null}};
  if (pending === 0 && idle && run.done) return {{errors: [], runError: null}};
  return false;
}}
"""

_VIDEO_STATE = """
(selector) => Array.from(document.querySelectorAll(selector)).map((v) => ({
  readyState: v.readyState,
  networkState: v.networkState,
  duration: v.duration,
  currentTime: v.currentTime,
  error: v.error ? v.error.code + ' ' + (v.error.message || '') : null,
  src: (v.currentSrc || v.src || '').slice(0, 40),
  width: v.videoWidth,
  height: v.videoHeight,
}))
"""

_VIDEOS_LOADED = """
(selector) => {
  const videos = Array.from(document.querySelectorAll(selector));
  return videos.length > 0
    && videos.every((v) => v.readyState >= 1 && Number.isFinite(v.duration) && v.duration > 0);
}
"""

_PLAY = """
(selector) => {
  const video = document.querySelector(selector);
  video.muted = true;  // autoplay rules allow muted playback without a user gesture
  video.play().catch(() => {});
}
"""

_PLAYED = """
([selector, seconds]) => {
  const video = document.querySelector(selector);
  return video.readyState >= 2 && video.currentTime >= seconds;
}
"""

_DESCRIBE = f"""
(path) => {{
  const app = window.jupyterapp;
  const panel = app ? ({_FIND_PANEL})(path) : null;
  const session = panel && panel.sessionContext.session;
  const kernel = session && session.kernel;
  return {{
    app: !!app,
    open: app ? Array.from(app.shell.widgets('main')).map((w) => w.title.label) : [],
    notebook: !!panel,
    kernel: kernel ? [kernel.name, kernel.status, kernel.connectionStatus] : null,
    prompts: panel ? panel.content.widgets.filter((c) => c.model.type === 'code')
      .map((c) => c.model.executionCount) : [],
    dialogs: Array.from(document.querySelectorAll('.jp-Dialog'))
      .map((d) => d.textContent.slice(0, 200)),
  }};
}}
"""


@dataclass
class LabPage:
    """A Playwright page on the test JupyterLab, with what went wrong on it."""

    page: Page
    base_url: str
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def wait_until(
        self, script: str, arg: Any = None, *, timeout: float, what: str | Callable[[], str]
    ) -> Any:
        """Poll ``script(arg)`` until truthy and return its value; on timeout fail saying
        ``what`` (a string, or a function called then, to describe the page at that moment)."""
        try:
            return self.page.wait_for_function(script, arg=arg, timeout=timeout * 1000)
        except PlaywrightError as exc:
            message = what() if callable(what) else what
            raise AssertionError(
                f"{message} (waited {timeout:.0f} s); page errors: {self.page_errors}; "
                f"console errors: {self.console_errors}; blocked requests: {self.blocked}"
            ) from exc

    def describe(self, path: str) -> str:
        """The notebook's and the kernel's state, and any dialog: for failure messages."""
        return json.dumps(self.page.evaluate(_DESCRIBE, path))

    def open_notebook(self, path: str, workspace: str, timeout: float = 60.0) -> None:
        """Open ``path`` in a workspace of its own and wait for an idle, connected kernel."""
        # A fresh workspace per test: Lab would otherwise reopen the previous test's notebooks.
        self.page.goto(f"{self.base_url}/lab/workspaces/{workspace}/tree/{path}")
        self.wait_until(
            _NOTEBOOK_READY,
            path,
            timeout=timeout,
            what=lambda: f"{path} did not open with an idle kernel: {self.describe(path)}",
        )

    def run_all(self, path: str, timeout: float = 90.0) -> None:
        """Run every cell (as the Run All command does) and wait until all ran; fail on errors."""
        self.page.evaluate(_RUN_ALL, path)
        handle = self.wait_until(
            _RUN_STATE,
            path,
            timeout=timeout,
            what=lambda: f"{path} did not finish running: {self.describe(path)}",
        )
        state = handle.json_value()
        assert not state["errors"] and not state["runError"], f"{path} failed: {state}"

    def videos(self, selector: str) -> list[dict[str, Any]]:
        return list(self.page.evaluate(_VIDEO_STATE, selector))

    def wait_for_videos(self, selector: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until every ``<video>`` matching ``selector`` (at least one) has metadata."""
        self.wait_until(
            _VIDEOS_LOADED,
            selector,
            timeout=timeout,
            what=lambda: (
                f"no playable <video> at {selector!r}: " + json.dumps(self.videos(selector))
            ),
        )
        return self.videos(selector)

    def play(self, selector: str, seconds: float = 0.5, timeout: float = 20.0) -> dict[str, Any]:
        """Play the first matching video (muted) until ``seconds`` of it went by; pause it."""
        self.page.locator(selector).first.scroll_into_view_if_needed()
        self.page.evaluate(_PLAY, selector)
        self.wait_until(
            _PLAYED,
            [selector, seconds],
            timeout=timeout,
            what=lambda: (
                f"the video at {selector!r} did not play: " + json.dumps(self.videos(selector))
            ),
        )
        self.page.evaluate("(s) => document.querySelector(s).pause()", selector)
        return self.videos(selector)[0]
