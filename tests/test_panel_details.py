"""The panel's details: Extend this, the extend banner and job label, Copy as code, labels.

The browser side of these (the scroll, the clipboard, the boxes at 330 px) is checked in
``tests/browser/test_panel_details_browser.py``; here the kernel side: what the widgets say
and which messages go to the browser.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from luma_nb.models import VideoRequest
from luma_nb.panel import Panel
from luma_nb.panel._extend import clip
from luma_nb.panel._frontend import CopyButton, CopyOutcome
from luma_nb.panel._jobs import job_label
from tests._paneltools import Rig, async_test


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def _sent(widget: Any) -> list[Any]:
    """Record the custom messages ``widget`` sends to the browser."""
    messages: list[Any] = []
    widget.send = lambda content, buffers=None: messages.append(content)
    return messages


async def _one_result(panel: Panel, prompt: str) -> Any:
    panel.prompt.value = prompt
    job = panel.submit()
    await job.future
    assert job.state == "completed", job.message
    return job


# ----------------------------------------------------------------------------- extend this


@async_test
async def test_extend_this_clears_the_prompt_names_the_video_and_scrolls(rig: Rig) -> None:
    panel = rig.panel()
    first = await _one_result(panel, "a paper lantern floats up between snowy pines")
    banner = panel._form.banner
    assert banner.box.layout.display == "none"  # a new video: no banner
    scrolls = _sent(banner.anchor)

    panel.results.cards[0].extend_button.click()
    assert panel.action.value == "extend" and panel.extend_choice.value == first.iteration
    # The old prompt is out of the box (so Generate cannot resend it by accident) and named.
    assert panel.prompt.value == ""
    assert "continues" in panel.prompt.placeholder
    assert banner.box.layout.display is None
    text = banner.text.value
    assert first.video.video_id[:8] in text
    assert "Extending" in text and "“a paper lantern floats up between snowy pines”" in text
    assert "set aside" in text and "Cancel extend" in text
    # The browser is told to scroll the banner into view and focus the prompt.
    assert scrolls == [
        {"do": "reveal", "focus": ".luma-nb-prompt textarea", "scope": ".luma-nb-form"}
    ]
    # An empty prompt is a valid extend: Generate is ready, and sends no prompt.
    assert panel.form_message.value == "" and not panel.generate_button.disabled
    assert panel.request().prompt is None

    # Cancel extend: back to a new video, with the set-aside prompt back in the box.
    banner.cancel_button.click()
    assert panel.action.value == "generate" and panel.extend_choice.value == ""
    assert panel.prompt.value == "a paper lantern floats up between snowy pines"
    assert banner.box.layout.display == "none" and banner.set_aside == ""
    assert "Describe the video" in panel.prompt.placeholder


@async_test
async def test_new_text_typed_for_the_extend_is_kept_when_switching_back(rig: Rig) -> None:
    panel = rig.panel()
    await _one_result(panel, "a kite")
    panel.results.cards[0].extend_button.click()
    panel.prompt.value = "the kite climbs higher"
    panel.action.value = "generate"  # the toggle, not Cancel extend
    assert panel.prompt.value == "the kite climbs higher"  # new text is never overwritten
    assert panel._form.banner.set_aside == ""


@async_test
async def test_the_banner_follows_a_pasted_reference_and_an_empty_pick(rig: Rig) -> None:
    panel = rig.panel()
    panel.action.value = "extend"
    banner = panel._form.banner
    assert "pick one of this session's videos" in banner.text.value
    assert "set aside" not in banner.text.value  # nothing was cleared
    panel.extend_ref.value = "abcdef0123456789"
    assert "video <b" in banner.text.value and "abcdef0123456789" in banner.text.value
    assert "(pasted)" in banner.text.value
    panel.extend_ref.value = "https://cdn.example/v/<b>clip</b>.mp4"
    assert "the video at https://cdn.example/v/&lt;b&gt;clip&lt;/b&gt;.mp4" in banner.text.value


@async_test
async def test_an_extend_job_row_says_what_it_extends(rig: Rig) -> None:
    panel = rig.panel()
    first = await _one_result(panel, "a clock tower at noon")
    panel.results.cards[0].extend_button.click()
    panel.prompt.value = "the hands spin backwards"
    extend = panel.submit()
    short = first.video.video_id[:8]
    assert extend.label == f"extend of {short} “a clock tower at noon” → the hands spin backwards"
    assert "extend of" in extend._label.value and short in extend._label.value
    await extend.future
    # Rerun of the extend: the same label (the parent is the same).
    card = next(c for c in panel.results.cards if c.job is extend)
    card.rerun_button.click()
    assert panel.jobs[-1].label == extend.label
    await panel.idle()


def test_job_labels_without_a_parent_row() -> None:
    plain = VideoRequest(prompt="a fox")
    assert job_label(plain) == "a fox"
    by_id = VideoRequest(action="extend", video_id="0123456789abcdef0123")
    assert job_label(by_id) == "extend of 0123456789a…"
    by_url = VideoRequest(action="extend", video_url="https://cdn.example/v.mp4", prompt="on")
    assert job_label(by_url) == "extend of https://cdn.example/v.mp4 → on"
    parent = {"video_id": "fedcba9876543210", "prompt": "x" * 80}
    label = job_label(by_id, parent)
    assert label.startswith("extend of fedcba98 “xxx") and label.endswith("…”")
    assert len(label) < 60
    assert clip("  two\n lines  ", 20) == "two lines"


# ----------------------------------------------------------------------------- copy as code


@async_test
async def test_copy_as_code_copies_in_the_browser_and_shows_the_code(rig: Rig) -> None:
    panel = rig.panel()
    job = await _one_result(panel, 'a "quoted" prompt')
    card = panel.results.cards[0]
    assert isinstance(card.code_button, CopyButton)
    # The code is on the button before any click: the browser copies it within the click.
    assert card.code_button.text == panel.code(job.request)
    assert card.code_button.label == "Copy as code"
    assert card.code_area.layout.display == "none"

    # The browser copied it: the code is shown too, and the line says so.
    card.code_button._handle_custom_msg({"event": "copy", "ok": True, "problem": ""}, [])
    assert card.code_area.layout.display is None
    assert card.code_area.value == card.code_button.text
    assert "Copied to the clipboard" in card.code_hint.value

    # The browser refused: the line says why and how to copy by hand (escaped).
    refusal = {"event": "copy", "ok": False, "problem": "NotAllowedError <b>"}
    card.code_button._handle_custom_msg(refusal, [])
    hint = card.code_hint.value
    assert "Could not copy" in hint and "NotAllowedError &lt;b&gt;" in hint
    assert "Ctrl/Cmd+C" in hint
    ast.parse(card.code_area.value)  # what is shown runs as is

    # Only a real success counts as copied; other messages are ignored.
    outcomes: list[CopyOutcome] = []
    card.code_button.on_copy(outcomes.append)
    card.code_button._handle_custom_msg({"event": "copy", "ok": "yes"}, [])
    card.code_button._handle_custom_msg({"event": "other"}, [])
    card.code_button._handle_custom_msg("copy", [])
    card.code_button._handle_custom_msg({"event": "copy", "ok": False, "problem": "x" * 999}, [])
    assert [o.copied for o in outcomes] == [False, False]
    assert len(outcomes[1].problem) == 200

    # A click from code (no browser): the code is shown, with how to copy it.
    card.code_button.click()
    assert outcomes[-1] == CopyOutcome(None)
    assert "Select the code" in card.code_hint.value


# ----------------------------------------------------------------------------- labels


@async_test
async def test_labels_are_whole_words(rig: Rig) -> None:
    panel = rig.panel()
    first = await _one_result(panel, "a very long prompt " * 6)
    # Mode: short labels, explained beside them (a long label was cut at narrow widths).
    assert [label for label, _ in panel.mode.options] == ["async", "sync"]
    assert all(len(tip) > 20 for tip in panel.mode.tooltips)
    # The extend picker: the short id first, so a narrow box cuts only the prompt's end.
    label = panel.extend_choice.options[1][0]
    assert label.startswith(first.video.video_id[:8] + " · a very long prompt")
    assert label.endswith("…") and "..." not in label
    # The file pickers: no count in brackets.
    for picker in (panel.start_image_upload, panel.end_image_upload):
        assert picker.label == "Local file…" and picker.status == "none chosen"


def test_the_frontend_module_imports_and_fetches_nothing() -> None:
    from luma_nb.panel import _frontend

    esm = _frontend._ESM
    assert "export default" in esm
    code = "\n".join(line for line in esm.splitlines() if not line.lstrip().startswith("//"))
    for word in ("import ", "import(", "fetch(", "XMLHttpRequest", "http:", "https:", "eval("):
        assert word not in code, word
