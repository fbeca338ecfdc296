"""The panel's browser-side parts: copy to the clipboard, scroll into view, pick a local file.

ipywidgets run their logic in the kernel, which cannot touch the reader's clipboard or scroll
their page; and a ``FileUpload`` keeps the chosen bytes in the widget's state (saved with the
notebook) and labels itself "Upload (0)". These three small `anywidget
<https://anywidget.dev>`_ views do those jobs in the browser, from one ES module of our own
(``_frontend.js``, next to this file: no imports, nothing fetched from anywhere):

- :class:`CopyButton` copies its text with the browser's clipboard API (the older
  ``execCommand("copy")`` where that API is unavailable, e.g. a plain-http server), says
  "Copied" on the button, and tells the kernel how it went, so the panel can show the code to
  select by hand when copying failed.
- :class:`ScrollAnchor` scrolls itself to the top of the view when told to, and focuses a
  field next to it.
- :class:`FilePicker` is a button with a status in words ("none chosen"); the file's bytes
  reach the kernel as one message, never as widget state.

Every message from the browser is checked like any input: wrong shapes are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["ChosenFile", "CopyButton", "CopyOutcome", "FilePicker", "ScrollAnchor"]

_ESM = (Path(__file__).parent / "_frontend.js").read_text(encoding="utf-8")
#: Longest file name or reason kept from a browser message (they are shown on the page).
_MAX_TEXT = 200


def _text(value: object) -> str:
    return value[:_MAX_TEXT] if isinstance(value, str) else ""


class _Part(anywidget.AnyWidget):
    """One view of ``_frontend.js``; ``kind`` picks which."""

    _esm = _ESM
    kind = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **traits: Any) -> None:
        super().__init__(**traits)
        self.on_msg(self._received)

    def _received(self, _widget: object, content: object, buffers: list[Any]) -> None:
        if isinstance(content, dict):
            self._message(content, buffers or [])

    def _message(self, content: dict[str, Any], buffers: list[Any]) -> None:
        """A message from the browser (a dict; anything else was dropped)."""


# ----------------------------------------------------------------------------- copy


@dataclass(frozen=True)
class CopyOutcome:
    """How a click on a :class:`CopyButton` went.

    Attributes
    ----------
    copied : bool or None
        True: the text is on the clipboard. False: the browser did not allow it (``problem``
        says why). None: not known (a click from code, which has no browser).
    problem : str
        The browser's reason, in a few words ("" when copied).
    """

    copied: bool | None
    problem: str = ""


class CopyButton(_Part):
    """A button that copies ``text`` to the reader's clipboard and says "Copied".

    Parameters
    ----------
    text : str
        What to copy.
    label : str
        The button's words.
    """

    kind = traitlets.Unicode("copy").tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("Copy").tag(sync=True)

    def __init__(self, text: str = "", label: str = "Copy") -> None:
        self._handlers: list[Callable[[CopyOutcome], None]] = []
        super().__init__(text=text, label=label)

    def on_copy(self, handler: Callable[[CopyOutcome], None]) -> None:
        """Call ``handler(outcome)`` after each click."""
        self._handlers.append(handler)

    def click(self) -> None:
        """What a click does in the kernel, without a browser: the handlers learn of it, with
        ``copied=None`` (as ``ipywidgets.Button.click`` runs a button's handlers)."""
        self._tell(CopyOutcome(None))

    def _message(self, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("event") != "copy":
            return
        copied = content.get("ok") is True
        self._tell(CopyOutcome(copied, "" if copied else _text(content.get("problem"))))

    def _tell(self, outcome: CopyOutcome) -> None:
        for handler in self._handlers:
            handler(outcome)


# ----------------------------------------------------------------------------- scroll


class ScrollAnchor(_Part):
    """An empty spot that scrolls itself to the top of the view on :meth:`reveal`."""

    kind = traitlets.Unicode("anchor").tag(sync=True)

    def reveal(self, focus: str = "", scope: str = "") -> None:
        """Scroll the anchor into view in every browser showing it, then focus the element
        matching the CSS selector ``focus`` inside the anchor's closest ``scope`` ancestor."""
        self.send({"do": "reveal", "focus": focus, "scope": scope})


# ----------------------------------------------------------------------------- local file


@dataclass(frozen=True)
class ChosenFile:
    """A file the reader chose in a :class:`FilePicker`.

    Attributes
    ----------
    name : str
        Its name (no folder: browsers do not tell).
    size : int
        Its size in bytes, as the browser reported it.
    data : bytes or None
        Its bytes; None when the browser did not send them (over ``max_bytes``).
    """

    name: str
    size: int
    data: bytes | None


class FilePicker(_Part):
    """A button to choose a local file, and a status in words beside it.

    The chosen file's bytes come to the kernel as a message, so they never enter the widget's
    state (which a saved notebook keeps); a file over ``max_bytes`` is not sent at all.
    """

    kind = traitlets.Unicode("file").tag(sync=True)
    label = traitlets.Unicode("Local file…").tag(sync=True)
    #: What the picker says beside its button ("none chosen", "uploading a.png…").
    status = traitlets.Unicode("none chosen").tag(sync=True)
    #: The button's tooltip. Not the inherited ``tooltip`` trait: with it set, the view
    #: failed to render ("Could not create a view", anywidget 0.11, JupyterLab 4.6).
    hint = traitlets.Unicode("").tag(sync=True)
    accept = traitlets.Unicode("").tag(sync=True)
    max_bytes = traitlets.Int(0).tag(sync=True)  # 0: no limit
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **traits: Any) -> None:
        self._handlers: list[Callable[[ChosenFile], None]] = []
        super().__init__(**traits)

    def on_file(self, handler: Callable[[ChosenFile], None]) -> None:
        """Call ``handler(chosen)`` for each file chosen."""
        self._handlers.append(handler)

    def _message(self, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("event") != "file":
            return
        data = bytes(buffers[0]) if buffers else None
        size = content.get("size")
        if data is not None:
            size = len(data)  # what arrived, whatever the message claims
        elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
            size = 0
        if data is not None and self.max_bytes and len(data) > self.max_bytes:
            data = None  # the browser sent more than allowed: treat it as not sent
        chosen = ChosenFile(_text(content.get("name")) or "file", size, data)
        for handler in self._handlers:
            handler(chosen)
