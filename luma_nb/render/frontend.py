"""Where are we running? The one notebook check, and the display calls built on it.

Neither IPython nor ipykernel is imported here: a kernel has loaded both long before any of
this runs, so a module missing from ``sys.modules`` already means "not in a notebook".
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["display_html", "html_object", "in_notebook"]


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


def display_html(markup: str, *, display_id: bool = False) -> Any:
    """Display HTML in the notebook; with ``display_id`` return a handle to update it."""
    from IPython.display import HTML, display

    return display(HTML(markup), display_id=display_id)  # type: ignore[no-untyped-call]


def html_object(markup: str) -> Any:
    """An IPython HTML object, for ``handle.update(...)``."""
    from IPython.display import HTML

    return HTML(markup)  # type: ignore[no-untyped-call]
