"""The widget panel: iterate on Luma prompts without writing code.

``luma_nb.Panel()`` builds any request the API accepts, submits it without blocking the
kernel, shows every job's progress, plays the results inline and keeps the session log, as the
notebook helpers do. See ``docs/panel.md``.

Importing this package imports ipywidgets; ``import luma_nb`` alone does not.
"""

from __future__ import annotations

from luma_nb.panel._jobs import Job
from luma_nb.panel._panel import Panel

__all__ = ["Job", "Panel"]
