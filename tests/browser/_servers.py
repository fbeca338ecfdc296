"""What the browser tests' servers (JupyterLab, Voila) share: a free port, a private
environment, waiting for the first answer, and stopping a server with every process it started.

A server runs in its own process group (``start_new_session``); its kernels are started in
sessions of their own, so signalling the group does not reach them: :func:`stop_tree` records
the server's descendants first, signals the group, then kills by pid whatever is still alive
and fails the test if anything survives.
"""

from __future__ import annotations

import contextlib
import os
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_environment(home: Path, cache_dir: Path) -> dict[str, str]:
    """This process's environment with no API token, no Jupyter/IPython configuration of the
    machine's user, the simulator backend and a scratch media cache; this venv first on PATH."""
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
        LUMA_NB_CACHE_DIR=str(cache_dir),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_http(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool | None:
    """Poll ``url`` until it answers 200 (True), the process exits (False) or ``timeout``
    seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                return True
        time.sleep(0.1)
    return None


def _proc_stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of a live process from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[1]), rest[0], int(rest[19])


def descendants(root: int) -> dict[int, int]:
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


def alive(pid: int, start: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[2] == start and stat[1] not in ("Z", "X")


def stop_tree(process: subprocess.Popen[bytes], name: str, timeout: float = 15.0) -> None:
    """SIGTERM ``process``'s group (SIGKILL after ``timeout``), then SIGKILL, by pid, every
    descendant recorded before that is still alive; raise if anything survives."""
    children = descendants(process.pid)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    # Kernels live in sessions of their own; kill, by pid, what is still there.
    for pid, start in children.items():
        if alive(pid, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p, s) for p, s in children.items()):
        time.sleep(0.05)
    assert process.returncode is not None, f"{name} is still running"
    survivors = [pid for pid, start in children.items() if alive(pid, start)]
    assert not survivors, f"processes started by {name} survived: {survivors}"


@dataclass
class LocalServer:
    """A notebook server on loopback for the browser tests (JupyterLab or Voila).

    A subclass names itself (``NAME``), says which path answers once it listens
    (``READY_PATH``) and builds its ``_command()`` and ``_environment()``; starting (with
    retries when another process takes the probed port first), its log and stopping it with
    every process it started are the same for both.
    """

    NAME = "server"
    READY_PATH = "/"

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

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        return private_environment(self.home, self.cache_dir)

    def _before_start(self) -> None:
        """Anything to write before the first start (nothing by default)."""

    def _before_stop(self) -> None:
        """Anything to ask the running server before it is stopped (nothing by default)."""

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``READY_PATH`` answers (three ports at most)."""
        self._before_start()
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
            ready = wait_http(self.process, f"{self.url}{self.READY_PATH}", timeout)
            if ready:
                self.startup_seconds = time.monotonic() - began
                return
            if ready is None:
                self.stop()
                raise RuntimeError(
                    f"{self.NAME} did not answer {self.READY_PATH} in {timeout:.0f} s; "
                    f"its log:\n{self.log_tail()}"
                )
            # Exited early: most likely another process took the port between the probe and
            # the bind. Anything else repeats and ends up in the error below.
            self._log.close()
        raise RuntimeError(f"{self.NAME} did not start; its log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the server's log, for failure messages."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every process it started; raise if any survives."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._before_stop()
        try:
            stop_tree(process, self.NAME, timeout)
        finally:
            if self._log is not None:
                self._log.close()
            self.process = None
