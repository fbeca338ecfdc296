"""Where are we running? The one notebook check, and the display calls built on it.

Neither IPython nor ipykernel is imported here: a kernel has loaded both long before any of
this runs, so a module missing from ``sys.modules`` already means "not in a notebook".
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

__all__ = ["LiveSnapshot", "display_html", "html_object", "in_cell", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (rich display works), False in plain Python or a terminal.

    The shell must be an instance of ipykernel's ``ZMQInteractiveShell`` — subclasses count,
    as Colab's shell is one — not merely be named like it.
    """
    ipython = sys.modules.get("IPython")
    zmqshell = sys.modules.get("ipykernel.zmqshell")
    if ipython is None or zmqshell is None:
        return False
    kernel_shell = getattr(zmqshell, "ZMQInteractiveShell", None)
    get = getattr(ipython, "get_ipython", None)
    if not isinstance(kernel_shell, type) or not callable(get):
        return False
    return isinstance(get(), kernel_shell)


def in_cell() -> bool:
    """True in a notebook while a cell runs; False elsewhere, and in a widget's callback.

    A button's ``on_click`` runs under a ``comm_msg``, not an ``execute_request``: what it
    displays goes to an ``ipywidgets.Output`` (or the log console), and the Output widget's
    front end drops ``update_display_data``. A line updated in place would freeze there
    and the result meant to replace it would never show, so callers display anew instead.
    """
    if not in_notebook():
        return False
    import IPython

    kernel = getattr(IPython.get_ipython(), "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    try:
        parent = get_parent() if callable(get_parent) else None
    except Exception:  # an unexpected kernel: assume a cell, as before this check existed
        return True
    header = parent.get("header") if isinstance(parent, dict) else None
    kind = header.get("msg_type") if isinstance(header, dict) else None
    return kind != "comm_msg"


def display_html(markup: str, *, display_id: bool = False) -> Any:
    """Display HTML in the notebook; with ``display_id`` return a handle to update it."""
    from IPython.display import HTML, display

    return display(HTML(markup), display_id=display_id)  # type: ignore[no-untyped-call]


def html_object(markup: str) -> Any:
    """An IPython HTML object, for ``handle.update(...)``."""
    from IPython.display import HTML

    return HTML(markup)  # type: ignore[no-untyped-call]


class LiveSnapshot:
    """A widget displayed with a static ``text/html`` snapshot beside it, kept up to date.

    ``html()`` and ``text()`` build the snapshot (see :mod:`luma_nb.render.snapshot`);
    :meth:`show` displays ``widget_bundle`` (the widget's mime bundle, whose ``text/plain``
    becomes ``widget_text``: it is never updated, so it names the widget and points at the
    snapshot) and then the snapshot under a display id; :meth:`refresh` updates
    every snapshot shown so far in place (``update=True``). Outside a notebook, nothing is
    displayed and :meth:`refresh` does nothing.
    """

    def __init__(self, html: Any, text: Any) -> None:
        import uuid

        self.key = uuid.uuid4().hex
        self._html = html
        self._text = text
        self.shown = False

    def bundle(self) -> dict[str, str]:
        """The snapshot's mime bundle (``text/html`` and ``text/plain``)."""
        return {"text/html": self._html(), "text/plain": self._text()}

    def widget_bundle(self, widget: Any, **kwargs: Any) -> Any:
        """``widget``'s mime bundle with the snapshot's text as its ``text/plain``.

        For the owner's ``_repr_mimebundle_``: where widgets cannot render, the text says
        what the widget shows rather than ``VBox(children=...)``.
        """
        bundle = widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = self._text()
        return bundle

    def show(self, widget_bundle: dict[str, Any], widget_text: str) -> None:
        """Display the widget, then the snapshot (call it from ``_ipython_display_``)."""
        from IPython.display import display

        display({**widget_bundle, "text/plain": widget_text}, raw=True)  # type: ignore[no-untyped-call]
        display(self.bundle(), raw=True, display_id=self.key)  # type: ignore[no-untyped-call]
        self.shown = True

    def refresh(self) -> None:
        """Update the displayed snapshots (never raises: a snapshot is a convenience)."""
        if not self.shown:
            return
        from IPython.display import update_display

        # The live widget stays correct whatever happens here; only the copy would be late.
        with contextlib.suppress(Exception):
            update_display(self.bundle(), raw=True, display_id=self.key)  # type: ignore[no-untyped-call]
