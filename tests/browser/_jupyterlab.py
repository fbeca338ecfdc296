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
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Lab settings that make runs deterministic: every cell stays in the DOM (no virtual
# scrolling), and no "would you like news?" toast covers the screenshots.
_USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proc_stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of a live process from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[1]), rest[0], int(rest[19])


def _descendants(root: int) -> dict[int, int]:
    """Every live descendant of ``root``: pid -> start time (to detect pid reuse later)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat is None:
            continue
        children.setdefault(stat[0], []).append(int(entry.name))
        starts[int(entry.name)] = stat[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = starts[child]
                todo.append(child)
    return found


def _alive(pid: int, start: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[2] == start and stat[1] not in ("Z", "X")


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
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("ACEDATACLOUD_API_TOKEN", "ACEDATACLOUD_API_BASE_URL")
            and not key.startswith(("JUPYTER_", "JPY_"))
        }
        bindir = str(Path(sys.executable).parent)
        env.update(
            PATH=bindir + os.pathsep + env.get("PATH", ""),
            LUMA_NB_BACKEND="simulator",
            LUMA_NB_CACHE_DIR=str(self.cache_dir),
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        return env

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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            status = f"{self.url}/api/status"
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(status, timeout=2) as response,
            ):
                if response.status == 200:
                    return True
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer /api/status in {timeout:.0f} s; its log:\n"
            + self.log_tail()
        )

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
        children = _descendants(process.pid)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        # The kernels live in sessions of their own; kill, by pid, what is still there.
        for pid, start in children.items():
            if _alive(pid, start):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p, s) for p, s in children.items()):
            time.sleep(0.05)
        if self._log is not None:
            self._log.close()
        self.process = None
        assert process.returncode is not None, "JupyterLab is still running"
        survivors = [pid for pid, start in children.items() if _alive(pid, start)]
        assert not survivors, f"processes started by JupyterLab survived: {survivors}"


def copy_notebooks(source: Path, target: Path) -> Path:
    """A scratch copy of the tutorial notebooks (their session logs land in the copy)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "luma_*"))
    return target
