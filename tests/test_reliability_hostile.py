"""Hostile content renders inert: markup and ``javascript:`` URLs from users and from the API.

A hostile API (a ``MockTransport``) answers with markup in every text field it has — the
echoed prompt, the error code and message, the trace id, the task id — and with
``javascript:``, ``data:text/html`` and quote-breaking URLs for the video and the thumbnail; a
hostile user types markup into the prompt. Everything must come out escaped: no element or
attribute the input asked for, no event handler, and no ``src``/``href``/``poster`` that is
not ``http(s)`` or a base64 image/video ``data:`` URL — in the display cards, in every widget
of the panel (job rows, result cards, history), in Copy as code, and in the HTML report.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

import luma_nb
from luma_nb.display import grid, task_html, video_html
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest

SCRIPT = "<script>alert('pwned')</script>"
IMG = '<img src=x onerror="alert(1)">'
BREAK = '"\' onmouseover=alert(1) x="'
HOSTILE_TEXT = f"{SCRIPT}{IMG}{BREAK}</div></td></table><!--"
HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    "vbscript:msgbox(1)",
    "//evil.example/x.mp4",
    'https://cdn.example.com/v.mp4" onerror="alert(1)',
]
# Usable URLs (a task with one completes) that still carry markup and quote breaks.
USABLE_HOSTILE_URLS = [
    "https://cdn.example.com/v.mp4?x=<script>alert(1)</script>",
    'https://cdn.example.com/"><img/src=x/onerror=alert(1)>.mp4',
    "https://cdn.example.com/v.mp4#'onmouseover=alert(1)",
]
SAFE_PREFIXES = ("http://", "https://", "data:image/", "data:video/", "#")
URL_ATTRIBUTES = {"src", "href", "poster", "action", "formaction", "xlink:href", "srcset", "data"}
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "base", "form", "meta"}


class _Audit(HTMLParser):
    """Collects what a browser would build from the markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS and not (tag == "meta" and _allowed_meta(attrs)):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            text = (value or "").strip()
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r}")
            if name in URL_ATTRIBUTES and not text.lower().startswith(SAFE_PREFIXES):
                self.problems.append(f"{name}={value!r}")
            if name == "style" and any(w in text.lower() for w in ("javascript:", "expression(")):
                self.problems.append(f"style={value!r}")
            if name in URL_ATTRIBUTES and text.lower().startswith("data:image/svg"):
                self.problems.append(f"{name}=svg data")


def _allowed_meta(attrs: list[tuple[str, str | None]]) -> bool:
    names = {name for name, _ in attrs}
    return bool(names & {"charset", "http-equiv", "name"}) and "content" not in {
        name for name, value in attrs if value and "url=" in value.lower()
    }


def assert_inert(markup: str) -> None:
    audit = _Audit()
    audit.feed(markup)
    audit.close()
    assert not audit.problems, audit.problems
    lowered = markup.lower()
    assert "<script" not in lowered
    assert "javascript:" not in lowered.replace("&#x27;", "'") or _only_as_text(markup)


def _only_as_text(markup: str) -> bool:
    """``javascript:`` may appear as visible (escaped) text, never inside an attribute."""

    class Attributes(HTMLParser):
        found = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for name, value in attrs:
                if name in URL_ATTRIBUTES and value and "javascript:" in value.lower():
                    Attributes.found = True

    parser = Attributes()
    parser.feed(markup)
    return not Attributes.found


# ----------------------------------------------------------------------------- display


def _hostile_video(url: str, **more: Any) -> Video:
    return Video(
        task_id=more.pop("task_id", "task-<b>1</b>"),
        video_url=url,
        video_id=f"video-{SCRIPT}",
        prompt=HOSTILE_TEXT,
        thumbnail_url=more.pop("thumbnail_url", url),
        width=1360,
        height=752,
        trace_id=f"trace-{IMG}",
        request=VideoRequest(prompt=HOSTILE_TEXT),
        **more,
    )


@pytest.mark.parametrize("url", HOSTILE_URLS + USABLE_HOSTILE_URLS)
def test_display_cards_of_hostile_videos_are_inert(url: str) -> None:
    video = _hostile_video(url)
    for markup in (
        video_html(video),
        video_html(video, embed=False),
        video_html(video, label=HOSTILE_TEXT),
        video._repr_mimebundle_()["text/html"],
        grid([video, video], labels=[HOSTILE_TEXT, SCRIPT]).html(),
    ):
        assert_inert(markup)
        assert "&lt;script&gt;" in markup  # the text is shown, escaped, not dropped


def test_display_cards_of_hostile_tasks_are_inert() -> None:
    failed = Task(
        id=f"task-{SCRIPT}",
        state=TaskState.FAILED,
        raw_state=IMG,
        trace_id=BREAK,
        error=TaskError(code=SCRIPT, message=HOSTILE_TEXT),
        sent=VideoRequest(prompt=HOSTILE_TEXT),
    )
    running = Task(id="t-2", state=TaskState.UNKNOWN, raw_state=SCRIPT)
    done = Task(
        id="t-3",
        state=TaskState.COMPLETED,
        video=_hostile_video("javascript:alert(1)"),
        sent=VideoRequest(prompt=HOSTILE_TEXT),
    )
    for task in (failed, running, done):
        assert_inert(task_html(task))
        assert_inert(task._repr_mimebundle_()["text/html"])
    assert_inert(grid([failed, running, done], labels=[SCRIPT, IMG, BREAK]).html())
    assert "luma-nb" in task_html(failed) and "&lt;script&gt;" in task_html(failed)


# ----------------------------------------------------------------------------- the panel


class HostileAPI:
    """An API whose every string is an attack; tasks alternate between done and failed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/luma/videos":
            self.count += 1
            return httpx.Response(
                200, json={"task_id": f"t{self.count}-<b>{self.count}</b>", "trace_id": IMG}
            )
        if path == "/luma/tasks":
            body = json.loads(request.content)
            ids = [body["id"]] if body["action"] == "retrieve" else body["ids"]
            records = [self._record(task_id) for task_id in ids]
            if body["action"] == "retrieve":
                return httpx.Response(200, json=records[0])
            return httpx.Response(200, json={"items": records, "count": len(records)})
        # media: whatever is asked for, a few bytes that are no video
        return httpx.Response(200, content=b"<html><script>alert(1)</script></html>")

    def _record(self, task_id: str) -> dict[str, Any]:
        number = int(task_id[1 : task_id.index("-")])
        url = (
            USABLE_HOSTILE_URLS[number % len(USABLE_HOSTILE_URLS)]
            if number % 2 == 0
            else HOSTILE_URLS[number % len(HOSTILE_URLS)]
        )
        if number % 3 == 0:
            response: dict[str, Any] = {
                "success": False,
                "task_id": task_id,
                "state": "failed",
                "error": {"code": SCRIPT, "message": HOSTILE_TEXT},
                "trace_id": BREAK,
            }
        else:
            response = {
                "success": True,
                "task_id": task_id,
                "video_id": f"v{number}-{SCRIPT}",
                "prompt": HOSTILE_TEXT,
                "video_url": url,
                "thumbnail_url": HOSTILE_URLS[(number + 3) % len(HOSTILE_URLS)],
                "video_width": f"{IMG}",
                "state": "completed",
            }
        return {"id": task_id, "trace_id": SCRIPT, "response": response, "finished_at": 2.0}


def _html_values(widget: Any) -> list[str]:
    """The markup of every HTML widget in a tree (text widgets show their value as text)."""
    import ipywidgets as widgets

    found = [widget.value] if isinstance(widget, (widgets.HTML, widgets.HTMLMath)) else []
    for child in getattr(widget, "children", ()):
        found.extend(_html_values(child))
    if getattr(widget, "description_allow_html", False):
        found.append(widget.description)
    return found


def _panel_markup(panel: Any) -> str:
    parts = _html_values(panel.widget)
    for job in panel.jobs:
        parts.extend(_html_values(job.row))
    for card in panel.results.cards:
        parts.extend(_html_values(card.widget))
    return "\n".join(parts)


def test_the_panel_shows_hostile_answers_and_prompts_inert(tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    api = HostileAPI()
    log = luma_nb.SessionLog(tmp_path / "hostile.jsonl")

    async def go() -> Any:
        async def sleep(_seconds: float) -> None:
            await asyncio.sleep(0)

        client = luma_nb.AsyncClient(
            "sk-hostile",
            base_url="https://api.example.test",
            transport=httpx.MockTransport(api),
            cache_dir=tmp_path / "cache",
            sleep=sleep,
        )
        panel = luma_nb.Panel(client, log)
        for n in range(6):
            panel.prompt.value = f"{n} {HOSTILE_TEXT}"
            panel.generate_button.click()
            while panel.generate_button.disabled:  # the double-click guard holds the POST
                await asyncio.sleep(0)
        await asyncio.gather(*(job.future for job in panel.jobs))
        panel.refresh()
        await client.aclose()
        return panel

    panel = asyncio.run(go())
    states = sorted(job.state for job in panel.jobs)
    assert "failed" in states and "completed" in states, states
    markup = _panel_markup(panel)
    assert_inert(markup)
    assert "&lt;script&gt;" in markup
    assert panel.history.iterations  # the history rows were drawn from the log
    for job in panel.jobs:
        if job.state == "failed":
            assert "&lt;script&gt;" in job._message.value or "&lt;" in job._message.value
    assert panel.results.cards  # completed jobs drew their (hostile) result cards
    # Copy as code: the prompt stays one string literal, whatever quotes it holds.
    for card in panel.results.cards:
        card.code_button.click()
        code = card.code_area.value
        tree = ast.parse(code)
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
        assert len(calls) == 1 and ast.unparse(calls[0].func) == "luma_nb.generate"
        assert calls[0].args[0].value == card.job.request.prompt  # type: ignore[attr-defined]
    # The log kept the hostile text as data, exactly.
    rows = log.to_records()
    assert any(row["echoed_prompt"] == HOSTILE_TEXT for row in rows)
    assert any(row["error_message"] == HOSTILE_TEXT for row in rows)


# ----------------------------------------------------------------------------- the report


@pytest.mark.skipif(
    importlib.util.find_spec("luma_nb.report") is None, reason="luma_nb.report not present"
)
def test_the_html_report_of_a_hostile_session_is_inert(tmp_path: Path) -> None:
    from luma_nb import report

    log = luma_nb.SessionLog(tmp_path / "report.jsonl")
    for number, url in enumerate(HOSTILE_URLS):
        iteration = log.begin(
            VideoRequest(prompt=f"{number} {HOSTILE_TEXT}", start_image_url="https://x.test/a"),
            backend="api",
            experiment=SCRIPT,
            arm=IMG,
            tags=[BREAK, SCRIPT],
        )
        if number % 3 == 0:
            task = Task(
                id=f"t{number}",
                state=TaskState.FAILED,
                trace_id=SCRIPT,
                error=TaskError(code=IMG, message=HOSTILE_TEXT),
            )
        else:
            task = Task(
                id=f"t{number}",
                state=TaskState.COMPLETED,
                trace_id=SCRIPT,
                video=_hostile_video(url, task_id=f"t{number}"),
            )
        log.submitted(iteration, task)
        log.rate(iteration, 1 + number % 5, note=HOSTILE_TEXT)
    page = report.report_html(log, title=HOSTILE_TEXT, embed=False)
    assert_inert(page)
    assert "&lt;script&gt;" in page
    assert "Content-Security-Policy" in page
