"""The history: this session's recent iterations, read from the session log, newest first.

Each row shows a thumbnail, the prompt, what the service added to it (the echo as a word
diff, two lines at most, when enhancement rewrote it), what was asked (aspect ratio, flags)
and how it went (state, rating); its Restore button puts the iteration's settings back into
the form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from luma_nb._html import esc
from luma_nb.panel._controls import button
from luma_nb.panel._media import thumbnail_html
from luma_nb.render.diff import diff_markup

__all__ = ["History"]

#: How many iterations the history shows (the log keeps them all).
RECENT = 12
# Two lines of the echo at most (inline: a sanitiser may strip the sheet); its title has it all.
_ECHO_STYLE = (
    "display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;"
    "overflow-wrap:anywhere"
)


def _echo(row: dict[str, Any]) -> str:
    """The echoed prompt as a diff of the one sent, when the service rewrote it."""
    sent, echoed = row.get("prompt"), row.get("echoed_prompt")
    if not isinstance(sent, str) or not isinstance(echoed, str) or not echoed or sent == echoed:
        return ""
    return (
        f'<div class="luma-nb-history-echo luma-nb-muted" title="{esc(echoed)}" '
        f'style="{_ECHO_STYLE}">echoed: {diff_markup(sent, echoed)}</div>'
    )


def _summary(row: dict[str, Any]) -> str:
    prompt = row.get("prompt")
    if row.get("action") == "extend":
        target = row.get("video_id_sent") or row.get("video_url_sent") or "?"
        title = f"extend {target[:12]}" + (f": {prompt}" if prompt else "")
    else:
        title = prompt or "(no prompt)"
    if len(title) > 90:
        title = title[:87] + "..."
    facts = [
        str(row.get("state") or "?"),
        str(row.get("aspect_ratio") or "original ratio"),
        "enhancement on" if row.get("enhancement") else "enhancement off",
    ]
    if row.get("loop"):
        facts.append("loop")
    if row.get("start_image_url") or row.get("end_image_url"):
        facts.append("keyframes")
    if row.get("rating"):
        facts.append(f"{row['rating']}/5")
    return (
        f'<div class="luma-nb-history-prompt" title="{esc(prompt or "")}">{esc(title)}</div>'
        + _echo(row)
        + f'<div class="luma-nb-muted">{esc(" · ".join(facts))}</div>'
    )


class _Row:
    """One history row's widgets, kept and updated in place (widgets are not free)."""

    def __init__(self, iteration: str, on_restore: Callable[[str], None]) -> None:
        self.thumbnail = widgets.HTML()
        self.summary = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self.restore_button = button(
            "Restore",
            "undo",
            lambda _b: on_restore(iteration),
            tooltip="Put this iteration's settings back into the form",
        )
        self.widget = widgets.HBox(
            [self.thumbnail, self.summary, self.restore_button],
            layout=widgets.Layout(align_items="center"),
        )
        self.widget.add_class("luma-nb-history-row")

    def close(self) -> None:
        for widget in (self.widget, self.thumbnail, self.summary, self.restore_button):
            widget.close()


class History:
    """The recent-iterations list (CSS class ``luma-nb-history``).

    Parameters
    ----------
    on_restore : callable
        Called with an iteration id when its Restore button is clicked.
    thumbnail : callable
        ``thumbnail(row) -> src or None`` for a row's thumbnail.
    """

    def __init__(
        self,
        on_restore: Callable[[str], None],
        thumbnail: Callable[[dict[str, Any]], str | None],
    ) -> None:
        self._on_restore = on_restore
        self._thumbnail = thumbnail
        self._rows: dict[str, _Row] = {}
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", layout=widgets.Layout(width="auto")
        )
        self._empty = widgets.HTML('<span class="luma-nb-muted">No iterations yet.</span>')
        self.box = widgets.VBox([self._empty])
        self.box.add_class("luma-nb-history")

    @property
    def iterations(self) -> list[str]:
        """The iterations shown, newest first."""
        return list(self._rows)

    def show(self, records: list[dict[str, Any]]) -> None:
        """Show the newest :data:`RECENT` of ``records`` (log rows, oldest first)."""
        recent = list(reversed(records[-RECENT:]))
        rows: dict[str, _Row] = {}
        for record in recent:
            iteration = str(record["iteration"])
            row = self._rows.pop(iteration, None) or _Row(iteration, self._on_restore)
            row.thumbnail.value = thumbnail_html(self._thumbnail(record), width=80)
            row.summary.value = _summary(record)
            rows[iteration] = row
        for gone in self._rows.values():
            gone.close()
        self._rows = rows
        self.box.children = tuple(row.widget for row in rows.values()) or (self._empty,)

    def button(self, iteration: str) -> widgets.Button:
        """The Restore button of ``iteration``'s row (KeyError when it is not shown)."""
        return self._rows[iteration].restore_button
