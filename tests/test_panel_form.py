"""The panel's form, uploader, token field, escaping, defaults and the no-loop fallback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets
import pytest

import luma_nb
from luma_nb.panel import Panel
from luma_nb.panel._backend import API_LINE, SIMULATOR_LINE
from luma_nb.panel._frontend import FilePicker
from tests._paneltools import Rig, all_html, async_test, png_bytes, state_text


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def _choose(picker: Any, name: str, data: bytes | None, size: int | None = None) -> None:
    """What the browser sends when a file is chosen: a message, the bytes as its buffer
    (none when the file is over the picker's limit)."""
    content = {"event": "file", "name": name, "type": "image/png"}
    content["size"] = len(data) if size is None and data is not None else size
    picker._handle_custom_msg(content, [memoryview(data)] if data is not None else [])


def _all_widget_states() -> str:
    from ipywidgets.widgets.widget import _instances

    return "\n".join(repr(widget.get_state()) for widget in list(_instances.values()))


# ----------------------------------------------------------------------------- validation


@async_test
async def test_an_invalid_form_disables_generate_and_says_why(rig: Rig) -> None:
    panel = rig.panel()
    assert panel.generate_button.disabled
    assert "Write a prompt" in panel.form_message.value
    with pytest.raises(luma_nb.ValidationError):
        panel.submit()
    panel.generate_button.click()  # a click on a disabled-looking form does nothing
    assert panel.jobs == [] and rig.log.to_records() == []

    panel.prompt.value = "   "
    assert panel.generate_button.disabled and "prompt" in panel.form_message.value

    panel.prompt.value = "a good prompt"
    assert not panel.generate_button.disabled and panel.form_message.value == ""

    panel.start_image_url.value = "ftp://example.com/a.png"
    assert panel.generate_button.disabled
    assert "start image URL must be an http(s) URL" in panel.form_message.value
    assert "luma-nb-invalid" in panel.start_image_preview.value
    panel.start_image_url.value = "https://images.example/a.png"
    assert not panel.generate_button.disabled
    assert "<img" in panel.start_image_preview.value and "luma-nb-valid" in (
        panel.start_image_preview.value
    )

    panel.end_image_url.value = "not a url"
    assert "end image URL" in panel.form_message.value
    panel.end_image_url.value = ""

    panel.callback_url.value = "javascript:alert(1)"
    assert "callback URL" in panel.form_message.value
    panel.callback_url.value = ""

    panel.api_timeout.value = "soon"
    assert "API timeout" in panel.form_message.value
    panel.api_timeout.value = "99999"
    assert "API timeout" in panel.form_message.value
    panel.api_timeout.value = ""

    panel.aspect_ratio.value = ""
    assert "Aspect ratio" in panel.form_message.value
    panel.aspect_ratio.value = "3:4"

    panel.action.value = "extend"
    assert "Extend needs a video" in panel.form_message.value
    assert panel.generate_button.disabled
    panel.action.value = "generate"
    assert panel.aspect_ratio.value == "3:4" and not panel.generate_button.disabled
    assert rig.sim.stats.requests == 0


def test_aspect_ratio_offers_the_seven_values(rig: Rig) -> None:
    panel = Panel(rig.sync_client(), rig.log)
    values = [value for _, value in panel.aspect_ratio.options]
    assert values[:7] == list(luma_nb.models.ASPECT_RATIOS) and values[7:] == [""]
    panel.action.value = "extend"
    assert panel.aspect_ratio.value == ""  # an extend keeps the original's by default
    panel.action.value = "generate"
    assert panel.aspect_ratio.value == "16:9"


# ----------------------------------------------------------------------------- uploader


@async_test
async def test_uploader_fills_the_url_and_clears_the_file(rig: Rig) -> None:
    calls: list[tuple[bytes, str, str]] = []

    def uploader(data: bytes, filename: str) -> str:
        calls.append((data, filename, threading.current_thread().name))
        return f"https://images.example/{filename}"

    panel = rig.panel(uploader=uploader)
    picker = panel.start_image_upload
    assert (picker.label, picker.status) == ("Upload a file…", "none chosen")
    data = png_bytes()
    _choose(picker, "start.png", data)
    # The bytes came as a message: no trait of the picker holds them (nothing to save).
    assert all(not isinstance(v, (bytes, memoryview)) for v in picker.get_state().values())
    assert "Uploading start.png" in panel.start_image_preview.value
    assert picker.status == "uploading start.png…"
    await panel.idle()
    assert calls and calls[0][:2] == (data, "start.png")
    assert calls[0][2] != threading.current_thread().name  # off the loop's thread
    assert panel.start_image_url.value == "https://images.example/start.png"
    assert "<img" in panel.start_image_preview.value
    assert picker.status == "start.png uploaded"

    panel.prompt.value = "from a keyframe"
    job = panel.submit()
    await job.future
    assert job.state == "completed", job.message
    assert rig.log.to_records()[0]["start_image_url"] == "https://images.example/start.png"


@async_test
async def test_a_failing_uploader_says_so(rig: Rig) -> None:
    def uploader(data: bytes, filename: str) -> str:
        raise ConnectionError("bucket unreachable")

    panel = rig.panel(uploader=uploader)
    _choose(panel.end_image_upload, "end.png", b"png")
    await panel.idle()
    assert "Uploading end.png failed" in panel.end_image_preview.value
    assert "bucket unreachable" in panel.end_image_preview.value
    assert panel.end_image_url.value == ""
    assert panel.end_image_upload.status == "end.png: upload failed"
    # Typing a URL by hand: the picker's file is out of play, and its status says so.
    panel.end_image_url.value = "https://images.example/typed.png"
    assert panel.end_image_upload.status == "none chosen"


@async_test
async def test_a_file_over_the_limit_is_refused_without_its_bytes(rig: Rig) -> None:
    calls: list[str] = []
    panel = rig.panel(uploader=lambda data, name: calls.append(name) or "https://x.example/a")
    picker = panel.start_image_upload
    assert picker.max_bytes == 20 * 1024 * 1024  # the browser does not even send larger files
    _choose(picker, "huge.png", None, size=30 * 1024 * 1024)
    assert picker.status == "huge.png: too large"
    assert "huge.png is 30 MB: a keyframe must be at most 20 MB" in panel.start_image_preview.value
    # A browser that sent the bytes anyway is held to the same limit.
    picker.max_bytes = 10
    _choose(picker, "sneaky.png", b"x" * 11)
    await panel.idle()
    assert calls == []
    assert picker.status == "sneaky.png: too large"
    assert "sneaky.png is 11 bytes" in panel.start_image_preview.value
    # Malformed messages from the browser are ignored.
    for content in ({"event": "nope"}, {"name": "x"}, ["event", "file"], None):
        picker._handle_custom_msg(content, [])
    assert picker.status == "sneaky.png: too large" and calls == []


def test_without_an_uploader_a_local_file_explains_what_to_do(rig: Rig) -> None:
    panel = Panel(rig.sync_client(), rig.log)
    assert "Panel(uploader=my_upload_fn)" in all_html(panel.widget)
    picker = panel.start_image_upload
    assert (picker.label, picker.status) == ("Local file…", "none chosen")  # never "(0)"
    _choose(picker, "me.png", b"png")
    assert picker.status == "me.png: not used (see below)"
    preview = panel.start_image_preview.value
    assert "public URL" in preview and "Panel(uploader=my_upload_fn)" in preview
    assert panel.start_image_url.value == ""
    with pytest.raises(luma_nb.ValidationError):
        Panel(rig.sync_client(), rig.log, uploader="not callable")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- token


@async_test
async def test_a_pasted_token_switches_to_the_real_api_and_is_never_kept(rig: Rig) -> None:
    secret = "sk-live-0123456789abcdef"
    real = Rig(rig.tmp / "real", sim_options={"accepted_tokens": [secret]})
    (rig.tmp / "real").mkdir()
    try:
        panel = rig.panel()
        assert SIMULATOR_LINE in all_html(panel.widget)
        assert panel.client.backend == "simulator"
        panel._client_for_token = lambda token: real.client(token, backend="api")
        panel.token.value = secret
        assert panel.client.backend == "api"
        assert panel.token.value == ""
        assert API_LINE in all_html(panel.widget)
        assert secret not in _all_widget_states()

        panel.prompt.value = "a real one"
        job = panel.submit()
        await job.future
        assert job.state == "completed", job.message
        [row] = rig.log.to_records()
        assert row["backend"] == "api"
        assert secret not in rig.log.path.read_text()
        assert secret not in repr(panel) and secret not in repr(panel.client)
        assert secret not in _all_widget_states()

        # Back to the simulator, the original client.
        panel._backend.simulator_button.click()
        assert panel.client.backend == "simulator"
        assert SIMULATOR_LINE in all_html(panel.widget)
    finally:
        real.close()


def test_the_default_token_client_is_the_real_api(rig: Rig) -> None:
    panel = Panel(rig.sync_client(), rig.log)
    panel.token.value = "  sk-some-token  "
    assert panel.client.backend == "api"
    assert isinstance(panel.client, luma_nb.AsyncClient)
    assert panel.token.value == ""
    assert "sk-some-token" not in _all_widget_states()
    assert "sk-some-token" not in repr(panel.client)


# ----------------------------------------------------------------------------- escaping


@async_test
async def test_everything_shown_is_escaped(rig: Rig) -> None:
    panel = rig.panel()
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    panel.prompt.value = evil
    job = panel.submit()
    await job.future
    assert job.state == "completed", job.message
    # Every place that shows the prompt as HTML: the job row, the result card, the history.
    html = all_html(panel.board.box) + all_html(panel.results.box) + all_html(panel.history.box)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


# ----------------------------------------------------------------------------- defaults, display


def test_defaults_are_the_simulator_and_the_kernel_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ACEDATACLOUD_API_TOKEN", "ACEDATACLOUD_API_BASE_URL", "LUMA_NB_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    luma_nb.notebook.reset()
    try:
        panel = luma_nb.Panel()
        assert panel.client.backend == "simulator"
        assert isinstance(panel.client, luma_nb.AsyncClient)
        assert panel.log is luma_nb.session()
        assert "SIMULATED" in capsys.readouterr().err  # connect()'s banner
        assert SIMULATOR_LINE in all_html(panel.widget)
        assert "luma-nb-panel" in panel.widget._dom_classes
        assert "luma-nb-generate" in panel.generate_button._dom_classes
        assert "luma-nb-prompt" in panel.prompt._dom_classes
        bundle = panel._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == (
            panel.widget.model_id
        )
        assert "Panel(backend='simulator'" in repr(panel)
    finally:
        luma_nb.notebook.reset()


def test_without_a_running_loop_jobs_run_on_the_private_loop(rig: Rig) -> None:
    panel = rig.panel()  # built outside any event loop, as in plain Python
    panel.prompt.value = "a job in the background"
    panel.generate_button.click()
    job = panel.jobs[-1]
    assert job.future.get_loop() is not None
    deadline = time.monotonic() + 20
    while job.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state == "completed", job.message
    assert state_text(job) == "completed"  # the traits were set from the loop's thread
    assert "<video" in panel.results.cards[0].player.value
    assert rig.log.to_records()[0]["state"] == "completed"


def test_import_luma_nb_does_not_import_ipywidgets() -> None:
    import subprocess
    import sys

    code = "import sys, luma_nb; luma_nb.Panel; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"  # only touching Panel imports it
    code = "import sys, luma_nb; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_widgets_are_ipywidgets(rig: Rig) -> None:
    panel = Panel(rig.sync_client(), rig.log)
    expected = {
        "prompt": ipywidgets.Textarea,
        "action": ipywidgets.ToggleButtons,
        "aspect_ratio": ipywidgets.Dropdown,
        "loop": ipywidgets.Checkbox,
        "enhancement": ipywidgets.Checkbox,
        "start_image_url": ipywidgets.Text,
        "end_image_url": ipywidgets.Text,
        "start_image_upload": FilePicker,
        "end_image_upload": FilePicker,
        "extend_choice": ipywidgets.Dropdown,
        "extend_ref": ipywidgets.Text,
        "callback_url": ipywidgets.Text,
        "mode": ipywidgets.ToggleButtons,
        "generate_button": ipywidgets.Button,
        "form_message": ipywidgets.HTML,
        "token": ipywidgets.Password,
    }
    for name, kind in expected.items():
        assert isinstance(getattr(panel, name), kind), name
    assert isinstance(panel.api_timeout, ipywidgets.Widget)
    assert [value for _, value in panel.action.options] == ["generate", "extend"]
    assert [value for _, value in panel.mode.options] == ["async", "sync"]
