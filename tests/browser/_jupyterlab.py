"""A throwaway JupyterLab server for the browser tests, and helpers that drive it from a page.

The server runs as a subprocess of the test session, in its own process group, on a free
loopback port, with no token, no outside network lookups and private Jupyter/IPython folders,
so nothing from the user's own configuration (or a running Lab) leaks in. Its kernels get the
simulator backend and a scratch media cache.

Kernels are started by the server in sessions of their own (``start_new_session``), so
killing the server's process group does not reach them: ``stop()`` shuts them down through the
REST API first, lets the server stop the rest on SIGTERM, and finally kills, by pid, any child
process it recorded that is still alive.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._servers import LocalServer

# Lab settings that make runs deterministic: every cell stays in the DOM (no virtual
# scrolling), and no "would you like news?" toast covers the screenshots.
_USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class JupyterLab(LocalServer):
    """A JupyterLab server started by :meth:`start` and stopped by :meth:`stop`."""

    NAME = "JupyterLab"
    READY_PATH = "/api/status"

    def _before_start(self) -> None:
        settings = self.home / "config" / "lab" / "user-settings"
        for name, values in _USER_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.disable_check_xsrf=True",
            "--ServerApp.terminals_enabled=False",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut every kernel down through the API (best effort: the server may be gone)."""
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            for kernel in self.api("GET", "/api/kernels"):
                with contextlib.suppress(OSError, urllib.error.URLError):
                    self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def _before_stop(self) -> None:
        self.shutdown_kernels()


def copy_notebooks(source: Path, target: Path) -> Path:
    """A scratch copy of the tutorial notebooks (their session logs land in the copy)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "luma_*"))
    return target
