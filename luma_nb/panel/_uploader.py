"""Keyframe fields: an image URL with a preview, a validity mark and the keyframe preflight's
result, and a local-file upload.

The API fetches keyframes itself, so it needs a *public* URL; a file on this machine has none.
With an uploader (``Panel(uploader=fn)``, ``fn(data: bytes, filename: str) -> str`` returning a
public https URL) a chosen file is uploaded and its URL fills the field. Without one the panel
says why it cannot use the file and how to plug an uploader in. Either way the file's bytes
reach the kernel as a message of the picker (:class:`~luma_nb.panel._frontend.FilePicker`),
never as widget state, so they are not saved with the notebook; the picker says in words what
happened to the file ("none chosen", "uploading a.png…").

Beside the preview the field shows what the keyframe preflight (:mod:`luma_nb._preflight`,
through the panel's client) found: whether the API can fetch the image, what it is, and
whether its shape fits the chosen aspect ratio. The check starts a moment after the URL
stops changing, runs in the background, and is cached by the client, so the submit that
follows does not fetch the image again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from luma_nb._html import esc, human_bytes
from luma_nb._preflight import MAX_KEYFRAME_BYTES
from luma_nb.models import check_http_url
from luma_nb.panel._frontend import ChosenFile, FilePicker
from luma_nb.panel._messages import human_message

if TYPE_CHECKING:
    from luma_nb._preflight import KeyframeReport

__all__ = ["NO_UPLOADER", "Checker", "KeyframeField", "Uploader"]

Uploader = Callable[[bytes, str], str]
Start = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]
#: ``checker(url, aspect_ratio)`` runs the preflight; None when it is switched off.
Checker = Callable[[str, "str | None"], Awaitable["KeyframeReport | None"]]
#: Seconds the URL must stay unchanged before it is checked (typing changes it per key).
CHECK_DELAY = 0.4
_OFF = "not checked (the keyframe check is off)"
#: The file picker's status before any file (and after the URL was changed by hand).
NONE_CHOSEN = "none chosen"

#: What the panel says when a local file is chosen but no uploader is configured.
NO_UPLOADER = (
    "The Luma API fetches keyframes from a public URL, so a file on this machine cannot be "
    "sent as it is. Paste the image's public http(s) URL, or plug in an uploader that puts "
    "the file somewhere public and returns its URL: "
    "Panel(uploader=my_upload_fn), where my_upload_fn(data: bytes, filename: str) -> str."
)


class KeyframeField:
    """One keyframe: URL text, upload button and preview (thumbnail + validity).

    Parameters
    ----------
    label : str
        "Start image" or "End image".
    uploader : callable or None
        ``uploader(bytes, filename) -> public URL``.
    start : callable
        Runs a coroutine in the background (the panel's scheduler).
    on_change : callable
        Called after the URL changed (the panel revalidates the form).
    checker : callable, optional
        ``await checker(url, aspect_ratio)`` runs the keyframe preflight (None: it is off).
    ratio : callable, optional
        The form's aspect ratio now (the check's shape judgement follows it).
    enabled : callable, optional
        Whether the check is switched on now (off: the preview says "not checked").
    """

    def __init__(
        self,
        label: str,
        uploader: Uploader | None,
        start: Start,
        on_change: Callable[[], None],
        checker: Checker | None = None,
        ratio: Callable[[], str | None] = lambda: None,
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self.label = label
        self.uploader = uploader
        self._start = start
        self._on_change = on_change
        self._checker = checker
        self._ratio = ratio
        self._enabled = enabled
        self.pending: asyncio.Task[None] | None = None
        #: The running (or last) preflight of the URL, and what it found.
        self.checking: asyncio.Task[None] | None = None
        self.report: KeyframeReport | None = None
        self.check_note = ""  # "checking...", "not checked...", or why the check itself failed
        self.check_delay = CHECK_DELAY
        self.url = widgets.Text(
            description=label,
            placeholder="https://... (a public image URL)",
            layout=widgets.Layout(flex="1 1 auto"),
            style={"description_width": "7em"},
        )
        self.upload = FilePicker(
            label="Upload a file…" if uploader else "Local file…",
            accept="image/jpeg,image/png,image/webp",
            max_bytes=MAX_KEYFRAME_BYTES,
            hint=(
                f"Choose a local image for the {label.lower()}: your uploader makes it public"
                if uploader
                else "A local file needs an uploader: see the note under the keyframes"
            ),
            layout=widgets.Layout(width="auto"),
        )
        self.preview = widgets.HTML()
        self.preview.add_class("luma-nb-keyframe-preview")
        self.message = ""
        self._uploaded = ""  # the URL the last upload filled in
        self.url.observe(lambda _change: self._url_changed(), "value")
        self.upload.on_file(self._file_chosen)
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.url, self.upload], layout=widgets.Layout(align_items="center")),
                self.preview,
            ]
        )

    # ------------------------------------------------------------------ URL

    def value(self) -> str | None:
        """The URL to send (``None`` when empty)."""
        text = self.url.value.strip()
        return text or None

    def _url_changed(self) -> None:
        self.message = ""
        if self.url.value != self._uploaded:
            self.upload.status = NONE_CHOSEN  # the picker's last file is no longer in play
        self.recheck()
        self._on_change()

    # ------------------------------------------------------------------ the preflight

    def recheck(self, delay: float | None = None) -> None:
        """Check the current URL again (after ``delay``, default :attr:`check_delay`), e.g.
        when the aspect ratio or the panel's preflight switch changed; redraws at once."""
        if self.checking is not None and not self.checking.done():
            self.checking.cancel()
        self.checking = None
        self.report = None
        self.check_note = ""
        url = self.value()
        checker = self._checker
        if checker is not None and url is not None and _usable(url):
            if not self._enabled():
                self.check_note = _OFF
            else:
                self.check_note = "checking that the API can fetch it..."
                wait = self.check_delay if delay is None else delay
                self.checking = self._start(self._check(checker, url, wait))
        self.render()

    async def _check(self, checker: Checker, url: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)  # typing: only the URL that stays gets fetched
        try:
            report = await checker(url, self._ratio())
        except Exception as exc:  # the check itself broke: say so, the submit checks again
            report, note = None, f"could not be checked: {human_message(exc)}"
        else:
            note = "" if report is not None else _OFF
        if url != self.value():
            return  # the URL changed meanwhile: its own check is under way
        self.report, self.check_note = report, note
        self.render()

    def render(self) -> None:
        """Redraw the preview: thumbnail and validity mark, or the last message."""
        if self.message:
            self.preview.value = f'<div class="luma-nb-note">{esc(self.message)}</div>'
            return
        url = self.value()
        if url is None:
            self.preview.value = ""
            return
        if not _usable(url):
            self.preview.value = (
                '<span class="luma-nb-invalid">&#10007; not usable: the API needs an absolute '
                "http(s) URL it can reach</span>"
            )
            return
        self.preview.value = (
            f'<img src="{esc(url)}" alt="" style="max-height:72px;max-width:128px;'
            'border-radius:4px;vertical-align:middle"> '
            '<span class="luma-nb-valid">&#10003; an http(s) URL: the API fetches it when you '
            "generate, so it must be public</span>" + self._check_html()
        )

    def _check_html(self) -> str:
        """The preflight's line: checking, passed (with warnings), failed, or not checked."""
        report = self.report
        if report is None:
            if not self.check_note:
                return ""
            return f'<div class="luma-nb-keyframe-check luma-nb-muted">{esc(self.check_note)}</div>'
        if not report.ok:
            mark, css = "&#10007; the API cannot use it:", "luma-nb-invalid"
        elif report.warnings:
            mark, css = "&#9888; usable, but:", "luma-nb-warn"
        else:
            mark, css = "&#10003; checked:", "luma-nb-valid"
        return (
            f'<div class="luma-nb-keyframe-check {css}" data-ok="{str(report.ok).lower()}">'
            f"{mark} {esc(report.summary())}</div>"
        )

    # ------------------------------------------------------------------ upload

    def _file_chosen(self, chosen: ChosenFile) -> None:
        name, data = chosen.name, chosen.data
        if data is None:
            self.upload.status = f"{name}: too large"
            self.message = (
                f"{name} is {human_bytes(chosen.size)}: a keyframe must be at most "
                f"{human_bytes(self.upload.max_bytes)} (the API refuses larger images)."
            )
        elif self.uploader is None:
            self.upload.status = f"{name}: not used (see below)"
            self.message = f"{name}: {NO_UPLOADER}"
        else:
            self.upload.status = f"uploading {name}…"
            self.message = f"Uploading {name}..."
            self.pending = self._start(self._upload(self.uploader, data, name))
        self.render()

    async def _upload(self, uploader: Uploader, data: bytes, name: str) -> None:
        try:
            # The uploader blocks (network): a worker thread keeps the kernel free.
            url = await asyncio.to_thread(uploader, data, name)
        except Exception as exc:
            self.upload.status = f"{name}: upload failed"
            self.message = f"Uploading {name} failed: {human_message(exc)}"
            self.render()
            return
        if not isinstance(url, str):
            self.upload.status = f"{name}: upload failed"
            self.message = f"The uploader returned {type(url).__name__}, not a URL string."
            self.render()
            return
        self.upload.status = f"{name} uploaded"
        self._uploaded = url
        self.message = ""
        if self.url.value == url:
            self._url_changed()  # no change event for the same text: redraw by hand
        self.url.value = url  # the observer redraws the preview and revalidates the form


def _usable(url: str) -> bool:
    try:
        check_http_url(url, "url")
    except ValueError:
        return False
    return True
