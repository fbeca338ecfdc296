"""The extend banner: what the form is extending, said above the prompt.

While the form is on *Extend a video*, a line above the prompt names the video (its short id
and prompt, or the pasted id or URL) and offers *Cancel extend*. A result's *Extend this*
scrolls the banner to the top of the view and focuses the prompt, which it clears first: the
prompt that made the earlier video is set aside (and named in the banner), so clicking
Generate does not send it again by accident. Cancel extend, or switching back to *New video*
with the prompt still empty, brings it back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets

from luma_nb._html import esc
from luma_nb.panel._controls import button
from luma_nb.panel._frontend import ScrollAnchor

__all__ = ["ExtendBanner", "clip", "short_id"]


def clip(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def short_id(row: Mapping[str, Any]) -> str:
    """The first 8 characters of a log row's video id (or task id), as the panel shows ids."""
    return str(row.get("video_id") or row.get("task_id") or "")[:8]


def _quoted(text: str, limit: int) -> str:
    return f"“{esc(clip(text, limit))}”"


class ExtendBanner:
    """The banner's widgets: a scroll anchor, the line, and *Cancel extend*.

    Parameters
    ----------
    on_cancel : callable
        What *Cancel extend* does (the form switches back to a new video).
    """

    def __init__(self, on_cancel: Callable[[], None]) -> None:
        #: The prompt that *Extend this* cleared ("" when none was).
        self.set_aside = ""
        self.anchor = ScrollAnchor(layout=widgets.Layout(height="0px", margin="0px"))
        self.text = widgets.HTML(layout=widgets.Layout(flex="1 1 16em", min_width="0"))
        self.text.add_class("luma-nb-extend-text")
        self.cancel_button = button(
            "Cancel extend",
            "times",
            lambda _button: on_cancel(),
            tooltip="Back to a new video (a prompt set aside by Extend this comes back)",
            css_class="luma-nb-cancel-extend",
        )
        self.box = widgets.HBox(
            [self.text, self.cancel_button],
            layout=widgets.Layout(display="none", align_items="center"),
        )
        self.box.add_class("luma-nb-extend-banner")
        self.widget = widgets.VBox([self.anchor, self.box])

    def show(
        self,
        extending: bool,
        picked: Mapping[str, Any] | None = None,
        pasted: str = "",
    ) -> None:
        """Show what is extended (``picked`` log row, or a ``pasted`` id or URL), or hide."""
        self.box.layout.display = None if extending else "none"
        if not extending:
            self.text.value = ""
            return
        if picked is not None:
            prompt = picked.get("prompt") or picked.get("echoed_prompt") or ""
            what = f'<b class="luma-nb-mono">{esc(short_id(picked))}</b>'
            what += f": {_quoted(prompt, 90)}" if prompt else " (no prompt)"
        elif pasted and "://" in pasted:
            what = f"the video at {esc(clip(pasted, 70))}"
        elif pasted:
            what = f'video <b class="luma-nb-mono">{esc(clip(pasted, 40))}</b> (pasted)'
        else:
            what = "a video: pick one of this session's videos below, or paste its id or URL"
        guide = "Write how the video continues, or leave the prompt empty."  # HTML: no escapes
        if self.set_aside:
            guide = (
                f"The prompt box was cleared: its text ({_quoted(self.set_aside, 60)}) is set "
                "aside, so it is not sent again by accident. " + guide + " Cancel extend "
                "brings the text back."
            )
        self.text.value = (
            f'<div class="luma-nb-extend-what"><b>Extending</b> {what}</div>'
            f'<div class="luma-nb-muted">{guide}</div>'
        )

    def reveal(self) -> None:
        """Scroll the banner into view and put the cursor in the prompt."""
        self.anchor.reveal(focus=".luma-nb-prompt textarea", scope=".luma-nb-form")
