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
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._servers import free_port, private_environment, stop_tree, wait_http

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
class JupyterLab:
    """A JupyterLab server started by :meth:`start` and stopped by :meth:`stop`."""

    root_dir: Path
    home: Path
    log_path: Path
    cache_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ lifecycle

    def _environment(self) -> dict[str, str]:
        return private_environment(self.home, self.cache_dir)

    def _write_settings(self) -> None:
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

    def start(self, timeout: float = 60.0) -> None:
        self._write_settings()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        for _attempt in range(3):
            self.port = free_port()
            self._log = self.log_path.open("ab")
            self.process = subprocess.Popen(
                self._command(),
                cwd=self.root_dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() signals the group
            )
            if self._wait_ready(timeout):
                self.startup_seconds = time.monotonic() - began
                return
            # Exited early: most likely another process took the port between the probe and
            # the bind. Anything else repeats and ends up in the error below.
            self._log.close()
        raise RuntimeError(f"JupyterLab did not start; its log:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self.process is not None
        ready = wait_http(self.process, f"{self.url}/api/status", timeout)
        if ready is None:
            self.stop()
            raise RuntimeError(
                f"JupyterLab did not answer /api/status in {timeout:.0f} s; its log:\n"
                + self.log_tail()
            )
        return ready

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

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

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every process it started; raise if any survives."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self.shutdown_kernels()
        try:
            stop_tree(process, "JupyterLab", timeout)
        finally:
            if self._log is not None:
                self._log.close()
            self.process = None


def copy_notebooks(source: Path, target: Path) -> Path:
    """A scratch copy of the tutorial notebooks (their session logs land in the copy)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "luma_*"))
    return target
