"""Where are we running? (Without importing IPython when it is not already loaded.)"""

from __future__ import annotations

import sys
from typing import Any


def in_notebook() -> bool:
    """True inside a Jupyter kernel (rich display works), False in plain Python or a terminal."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None) if ipython else None
    shell = get() if callable(get) else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def display_html(markup: str, *, display_id: bool = False) -> Any:
    """Display HTML in the notebook; with ``display_id`` return a handle to update it."""
    from IPython.display import HTML, display

    return display(HTML(markup), display_id=display_id)  # type: ignore[no-untyped-call]


def html_object(markup: str) -> Any:
    """An IPython HTML object, for ``handle.update(...)``."""
    from IPython.display import HTML

    return HTML(markup)  # type: ignore[no-untyped-call]
