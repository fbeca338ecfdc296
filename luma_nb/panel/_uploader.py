"""Keyframe fields: an image URL with a preview and a validity mark, and a local-file upload.

The API fetches keyframes itself, so it needs a *public* URL; a file on this machine has none.
With an uploader (``Panel(uploader=fn)``, ``fn(data: bytes, filename: str) -> str`` returning a
public https URL) a chosen file is uploaded and its URL fills the field. Without one the panel
says why it cannot use the file and how to plug an uploader in. Either way the file's bytes are
cleared from the upload widget at once, so they are not saved in the notebook's widget state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import ipywidgets as widgets

from luma_nb._html import esc
from luma_nb.models import check_http_url
from luma_nb.panel._messages import human_message

__all__ = ["NO_UPLOADER", "KeyframeField", "Uploader"]

Uploader = Callable[[bytes, str], str]
Start = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]

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
    """

    def __init__(
        self,
        label: str,
        uploader: Uploader | None,
        start: Start,
        on_change: Callable[[], None],
    ) -> None:
        self.label = label
        self.uploader = uploader
        self._start = start
        self._on_change = on_change
        self.pending: asyncio.Task[None] | None = None
        self.url = widgets.Text(
            description=label,
            placeholder="https://... (a public image URL)",
            layout=widgets.Layout(flex="1 1 auto"),
            style={"description_width": "7em"},
        )
        self.upload = widgets.FileUpload(
            accept="image/*",
            multiple=False,
            description="Upload" if uploader else "Local file",
            tooltip=(
                "Upload a local image through your uploader"
                if uploader
                else "Needs an uploader: see the note"
            ),
            layout=widgets.Layout(width="auto"),
        )
        self.preview = widgets.HTML()
        self.preview.add_class("luma-nb-keyframe-preview")
        self.message = ""
        self.url.observe(lambda _change: self._url_changed(), "value")
        self.upload.observe(self._file_chosen, "value")
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
        self.render()
        self._on_change()

    def render(self) -> None:
        """Redraw the preview: thumbnail and validity mark, or the last message."""
        if self.message:
            self.preview.value = f'<div class="luma-nb-note">{esc(self.message)}</div>'
            return
        url = self.value()
        if url is None:
            self.preview.value = ""
            return
        try:
            check_http_url(url, "url")
        except ValueError:
            self.preview.value = (
                '<span class="luma-nb-invalid">&#10007; not usable: the API needs an absolute '
                "http(s) URL it can reach</span>"
            )
            return
        self.preview.value = (
            f'<img src="{esc(url)}" alt="" style="max-height:72px;max-width:128px;'
            'border-radius:4px;vertical-align:middle"> '
            '<span class="luma-nb-valid">&#10003; an http(s) URL: the API fetches it when you '
            "generate, so it must be public</span>"
        )

    # ------------------------------------------------------------------ upload

    def _file_chosen(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        chosen = files[0]
        name = str(chosen.get("name") or "image")
        data = bytes(chosen.get("content") or b"")
        # The bytes must not stay in the widget: they would be saved with the notebook.
        self.upload.value = ()
        if self.uploader is None:
            self.message = f"{name}: {NO_UPLOADER}"
            self.render()
            return
        self.message = f"Uploading {name}..."
        self.render()
        self.pending = self._start(self._upload(self.uploader, data, name))

    async def _upload(self, uploader: Uploader, data: bytes, name: str) -> None:
        try:
            # The uploader blocks (network): a worker thread keeps the kernel free.
            url = await asyncio.to_thread(uploader, data, name)
        except Exception as exc:
            self.message = f"Uploading {name} failed: {human_message(exc)}"
            self.render()
            return
        if not isinstance(url, str):
            self.message = f"The uploader returned {type(url).__name__}, not a URL string."
            self.render()
            return
        self.message = ""
        if self.url.value == url:
            self._url_changed()  # no change event for the same text: redraw by hand
        self.url.value = url  # the observer redraws the preview and revalidates the form
