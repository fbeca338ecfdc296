"""The request form: every field of ``POST /luma/videos``, validated as you type.

The form turns its widgets into a :class:`~luma_nb.models.VideoRequest` (which validates
itself) and says in plain words why it cannot, so Generate is only enabled for a request the
client would accept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets

from luma_nb._html import esc
from luma_nb.errors import ValidationError
from luma_nb.models import ASPECT_RATIOS, MAX_API_TIMEOUT, VideoRequest
from luma_nb.panel._controls import checkbox
from luma_nb.panel._extend import ExtendBanner, clip, short_id
from luma_nb.panel._media import thumbnail_html
from luma_nb.panel._uploader import Checker, KeyframeField, Start, Uploader

__all__ = ["KEEP_RATIO", "Form"]

#: The aspect-ratio choice that sends none (an extend keeps its parent's ratio).
KEEP_RATIO = ""
_NO_VIDEO = ""
_WIDE = {"description_width": "7em"}


def _text_field(description: str, placeholder: str) -> widgets.Text:
    """A one-line field of the form, its label in the form's label column."""
    return widgets.Text(
        description=description,
        placeholder=placeholder,
        style=_WIDE,
        layout=widgets.Layout(width="32em"),
    )


_PLACEHOLDER = "Describe the video: subject, action, camera, light, style..."
_EXTEND_PLACEHOLDER = "How the video continues (optional: left empty, the video simply goes on)..."

# Form-level wording for the fields a person edits; the request's own message otherwise.
_FIELD_MESSAGES = {
    "video_id": "Extend needs a video: pick one of this session's videos, or paste a video id "
    "or URL.",
    "video_url": "The video to extend must be an http(s) URL (or paste its video id instead).",
    "start_image_url": "The start image URL must be an http(s) URL the API can reach.",
    "end_image_url": "The end image URL must be an http(s) URL the API can reach.",
    "callback_url": "The callback URL must be an http(s) URL the API can reach.",
    "timeout": f"The API timeout must be seconds between 0 and {MAX_API_TIMEOUT:.0f} (leave it "
    "empty for the API's 300 s).",
}


def _looks_like_url(text: str) -> bool:
    return "://" in text or text.lower().startswith(("http:", "https:"))


class Form:
    """The form's widgets and the request they make.

    Parameters
    ----------
    uploader : callable or None
        Passed to the keyframe fields.
    start : callable
        Runs a coroutine in the background (uploads).
    thumbnail : callable
        ``thumbnail(row) -> src or None`` for the extend picker's preview.
    checker : callable, optional
        Runs the keyframe preflight for the keyframe fields (see
        :class:`~luma_nb.panel._uploader.KeyframeField`).
    """

    def __init__(
        self,
        uploader: Uploader | None,
        start: Start,
        thumbnail: Callable[[dict[str, Any]], str | None],
        checker: Checker | None = None,
    ) -> None:
        self._thumbnail = thumbnail
        self._listeners: list[Callable[[], None]] = []
        self._videos: dict[str, dict[str, Any]] = {}  # iteration -> finished log row
        self._hushed = 0  # > 0 while fields are set in bulk: one change event at the end

        self.banner = ExtendBanner(self.cancel_extend)
        self.prompt = widgets.Textarea(
            placeholder=_PLACEHOLDER,
            layout=widgets.Layout(width="auto", height="6em"),
        )
        self.prompt.add_class("luma-nb-prompt")
        self.action = widgets.ToggleButtons(
            options=[("New video", "generate"), ("Extend a video", "extend")],
            value="generate",
            tooltips=["Make a new video", "Continue one of your videos"],
            style={"button_width": "auto"},
        )
        # No description beside the picker: the line above names it, and the whole width is
        # left to the choice (a native <select> cuts a label it has no room for).
        self.extend_choice = widgets.Dropdown(
            options=[("(choose a video of this session)", _NO_VIDEO)],
            value=_NO_VIDEO,
            layout=widgets.Layout(width="26em"),
        )
        self.extend_preview = widgets.HTML()
        self.extend_ref = _text_field("or paste", "a video id, or the URL of an earlier Luma video")
        self.extend_box = widgets.VBox(
            [
                widgets.HTML(
                    '<span class="luma-nb-muted">Video to extend: one of this session\'s '
                    "(id · prompt), or paste its id or URL.</span>"
                ),
                widgets.HBox(
                    [self.extend_choice, self.extend_preview],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.extend_ref,
            ],
            layout=widgets.Layout(display="none"),
        )
        self.aspect_ratio = widgets.Dropdown(
            options=[*((ratio, ratio) for ratio in ASPECT_RATIOS), ("keep the original's", "")],
            value="16:9",
            description="Aspect ratio",
            style=_WIDE,
            layout=widgets.Layout(width="20em"),
        )
        self.loop = checkbox("Loop", False, "A seamless loop: the video ends where it starts")
        self.enhancement = checkbox(
            "Enhancement",
            True,
            "Let the API optimise the prompt (the echoed prompt shows what it made)",
        )
        self.preflight = checkbox(
            "Check keyframes before submitting",
            True,
            "Fetch each keyframe as the API would (no token sent) and check that it is "
            "a JPEG, PNG or WebP the API can reach and that its shape fits the aspect ratio; "
            "a keyframe that fails is not submitted (nothing billed)",
        )
        self.preflight.add_class("luma-nb-preflight")

        def ratio() -> str | None:
            return self.aspect_ratio.value or None

        def enabled() -> bool:
            return bool(self.preflight.value)

        self.start, self.end = (
            KeyframeField(label, uploader, start, self.changed, checker, ratio, enabled)
            for label in ("Start image", "End image")
        )
        self.api_timeout = _text_field("API timeout", "seconds; empty = not sent (the API's 300 s)")
        self.callback_url = _text_field(
            "Callback URL", "https://... (the API POSTs the result there)"
        )
        # Short labels (a long one was cut at narrow widths); the line under them explains.
        self.mode = widgets.ToggleButtons(
            options=[("async", "async"), ("sync", "sync")],
            value="async",
            description="Mode",
            tooltips=[
                "Submit, then poll the task until the video is ready (the default)",
                "One long request that returns with the video (up to the API timeout)",
            ],
            style={**_WIDE, "button_width": "auto"},
        )
        mode_note = widgets.HTML(
            '<span class="luma-nb-muted">async: submit, then poll until the video is ready '
            "(the default). sync: one long request that returns with the video.</span>"
        )
        self.advanced = widgets.Accordion(
            children=[widgets.VBox([self.api_timeout, self.callback_url, self.mode, mode_note])],
            titles=("Advanced",),
        )
        self.upload_hint = widgets.HTML(
            ""
            if uploader
            else '<span class="luma-nb-muted">Keyframes need public image URLs; to use local '
            "files, pass an uploader: <code>Panel(uploader=my_upload_fn)</code>.</span>"
        )
        for widget in (
            self.prompt,
            self.extend_ref,
            self.aspect_ratio,
            self.loop,
            self.enhancement,
            self.api_timeout,
            self.callback_url,
            self.mode,
        ):
            widget.observe(lambda _change: self.changed(), "value")
        self.action.observe(self._action_changed, "value")
        # The keyframes' shape judgement follows the ratio; the switch turns the checks on/off.
        self.aspect_ratio.observe(lambda _change: self._recheck_keyframes(), "value")
        self.preflight.observe(lambda _change: self._recheck_keyframes(), "value")
        self.extend_ref.observe(self._reference_typed, "value")
        self.extend_choice.observe(self._choice_changed, "value")
        self.widget = widgets.VBox(
            [
                self.banner.widget,
                self.prompt,
                self.action,
                self.extend_box,
                widgets.HBox(
                    [self.aspect_ratio, self.loop, self.enhancement],
                    layout=widgets.Layout(align_items="center", grid_gap="12px"),
                ),
                self.start.widget,
                self.end.widget,
                self.preflight,
                self.upload_hint,
                self.advanced,
            ]
        )
        self.widget.add_class("luma-nb-form")

    # ------------------------------------------------------------------ events

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after any field changes."""
        self._listeners.append(listener)

    def changed(self) -> None:
        """Tell the listeners (unless a bulk update is under way)."""
        if self._hushed:
            return
        self._show_banner()
        for listener in self._listeners:
            listener()

    @contextmanager
    def _hush(self) -> Iterator[None]:
        self._hushed += 1
        try:
            yield
        finally:
            self._hushed -= 1

    def _recheck_keyframes(self) -> None:
        for field in (self.start, self.end):
            if field.value() is not None:
                field.recheck(delay=0)  # cached by the client: only a new URL is fetched

    def _show_banner(self) -> None:
        if self.action.value != "extend":
            self.banner.show(False)
            return
        pasted = self.extend_ref.value.strip()
        picked = None if pasted else self._videos.get(self.extend_choice.value)
        self.banner.show(True, picked, pasted)

    def _action_changed(self, change: dict[str, Any]) -> None:
        extend = change["new"] == "extend"
        self.extend_box.layout.display = None if extend else "none"
        self.prompt.placeholder = _EXTEND_PLACEHOLDER if extend else _PLACEHOLDER
        with self._hush():
            if not extend:
                # Back to a new video: the prompt Extend this set aside returns, unless the
                # box holds new text.
                if self.banner.set_aside and not self.prompt.value.strip():
                    self.prompt.value = self.banner.set_aside
                self.banner.set_aside = ""
            # An extend keeps its parent's ratio unless told otherwise; a new video needs one.
            if extend and self.aspect_ratio.value == "16:9":
                self.aspect_ratio.value = KEEP_RATIO
            elif not extend and self.aspect_ratio.value == KEEP_RATIO:
                self.aspect_ratio.value = "16:9"
        self.changed()

    def _choice_changed(self, change: dict[str, Any]) -> None:
        row = self._videos.get(change["new"])
        self.extend_preview.value = thumbnail_html(self._thumbnail(row), width=80) if row else ""
        if row is not None and self.extend_ref.value:
            with self._hush():
                self.extend_ref.value = ""  # a picked video replaces a pasted reference
        self.changed()

    def _reference_typed(self, change: dict[str, Any]) -> None:
        if change["new"].strip() and self.extend_choice.value != _NO_VIDEO:
            with self._hush():
                self.extend_choice.value = _NO_VIDEO  # a pasted reference replaces a pick

    # ------------------------------------------------------------------ the request

    def video_reference(self) -> tuple[str | None, str | None, str | None]:
        """``(video_id, video_url, parent iteration)`` of the extend fields."""
        pasted = self.extend_ref.value.strip()
        if pasted:
            if _looks_like_url(pasted):
                return None, pasted, None
            return pasted, None, None
        row = self._videos.get(self.extend_choice.value)
        if row is None:
            return None, None, None
        if row.get("video_id"):
            return row["video_id"], None, row["iteration"]
        return None, row.get("video_url"), row["iteration"]

    def request(self) -> VideoRequest:
        """The form as a validated request (raises :class:`~luma_nb.ValidationError`)."""
        action = self.action.value
        prompt = self.prompt.value.strip() or None
        ratio = self.aspect_ratio.value or None
        if action == "generate" and ratio is None:
            raise ValidationError(
                "Aspect ratio: choose one for a new video (keeping the original's is for extend).",
                field="aspect_ratio",
            )
        video_id = video_url = None
        if action == "extend":
            video_id, video_url, _parent = self.video_reference()
        return VideoRequest(
            action=action,
            prompt=prompt,
            aspect_ratio=ratio,
            loop=bool(self.loop.value),
            enhancement=bool(self.enhancement.value),
            video_id=video_id,
            video_url=video_url,
            start_image_url=self.start.value(),
            end_image_url=self.end.value(),
            callback_url=self.callback_url.value.strip() or None,
            timeout=self._timeout(),
        )

    def _timeout(self) -> float | None:
        text = self.api_timeout.value.strip()
        if not text:
            return None
        try:
            seconds = float(text)
        except ValueError:
            raise ValidationError(_FIELD_MESSAGES["timeout"], field="timeout") from None
        if not math.isfinite(seconds):
            raise ValidationError(_FIELD_MESSAGES["timeout"], field="timeout")
        return seconds

    def problem(self) -> str:
        """Why the form cannot be submitted, in a sentence ("" when it can)."""
        try:
            self.request()
        except ValidationError as exc:
            if exc.field == "prompt" and self.action.value == "generate" and not self.prompt.value:
                return "Write a prompt to generate a video."
            return _FIELD_MESSAGES.get(exc.field or "", str(exc))
        return ""

    @property
    def sync(self) -> bool:
        """Whether sync mode is chosen."""
        return bool(self.mode.value == "sync")

    # ------------------------------------------------------------------ choices and restore

    def set_videos(self, rows: list[dict[str, Any]]) -> None:
        """Offer these finished log rows (oldest first) in the extend picker."""
        self._videos = {str(row["iteration"]): row for row in rows}
        options: list[tuple[str, str]] = [("(choose a video of this session)", _NO_VIDEO)]
        for row in reversed(rows):
            # The id first, the prompt short: the label fits a narrow notebook (the banner
            # shows the whole prompt of the video picked).
            text = clip(row.get("prompt") or row.get("echoed_prompt") or "(no prompt)", 24)
            options.append((f"{short_id(row)} · {text}", str(row["iteration"])))
        current = self.extend_choice.value
        with self._hush():
            self.extend_choice.options = options
            self.extend_choice.value = current if current in self._videos else _NO_VIDEO
        self._choice_changed({"new": self.extend_choice.value})

    def extend(self, iteration: str) -> None:
        """Switch to extending ``iteration``'s video (what a result's *Extend this* does).

        The prompt is cleared and its text set aside (the banner says so), so that the
        prompt that made the earlier video is not sent again by accident; the banner is
        scrolled into view and the prompt focused.
        """
        with self._hush():
            if self.prompt.value.strip():
                self.banner.set_aside = self.prompt.value
            self.prompt.value = ""
            self.action.value = "extend"
            self.extend_ref.value = ""
            self.extend_choice.value = iteration
        self._choice_changed({"new": self.extend_choice.value})
        self.banner.reveal()

    def cancel_extend(self) -> None:
        """Back to a new video (*Cancel extend*): the set-aside prompt, if any, returns."""
        with self._hush():
            self.extend_ref.value = ""
            self.extend_choice.value = _NO_VIDEO
        self.action.value = "generate"

    def restore(self, row: dict[str, Any]) -> None:
        """Put a log row's settings back into the fields."""
        self.banner.set_aside = ""  # a restored iteration brings its own prompt
        with self._hush():
            self.action.value = row.get("action") or "generate"
            self.prompt.value = row.get("prompt") or ""
            self.aspect_ratio.value = row.get("aspect_ratio") or KEEP_RATIO
            self.loop.value = bool(row.get("loop"))
            enhancement = row.get("enhancement")
            self.enhancement.value = True if enhancement is None else bool(enhancement)
            self.start.url.value = row.get("start_image_url") or ""
            self.end.url.value = row.get("end_image_url") or ""
            self.callback_url.value = row.get("callback_url") or ""
            timeout = row.get("timeout")
            self.api_timeout.value = "" if timeout is None else f"{timeout:g}"
            self.extend_ref.value = ""
            self.extend_choice.value = _NO_VIDEO
            if self.action.value == "extend":
                self._restore_reference(row)
        self._choice_changed({"new": self.extend_choice.value})

    def _restore_reference(self, row: dict[str, Any]) -> None:
        video_id = row.get("video_id_sent")
        for iteration, finished in self._videos.items():
            if video_id and finished.get("video_id") == video_id:
                self.extend_choice.value = iteration
                return
        self.extend_ref.value = video_id or row.get("video_url_sent") or ""

    def message_html(self, text: str) -> str:
        """``text`` as the form message's HTML (escaped)."""
        return f'<span class="luma-nb-form-message">{esc(text)}</span>' if text else ""
