"""A throwaway Voila server for the browser tests.

Voila serves a folder (a scratch copy of the notebooks) on a free loopback port, without a
token or a browser, with the same private environment as the test JupyterLab: the simulator
backend, a scratch media cache, Jupyter/IPython folders of its own (nothing of the machine's
user leaks in). A page at ``/voila/render/<notebook>?theme=dark`` runs the notebook in a new
kernel and shows its outputs in the dark theme (``light`` by default): Voila lets the URL
choose the theme unless ``allow_theme_override`` says otherwise, so one server serves both.

Voila executes every cell before it shows the page, then keeps the page's kernel for its
widgets; :meth:`Voila.shutdown_kernel` ends one (as Voila's front end asks when a page
unloads). :meth:`Voila.stop` stops the server, which shuts down its kernels, and kills by pid
any process it started that is still alive.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._servers import descendants, free_port, private_environment, stop_tree, wait_http


@dataclass
class Voila:
    """A Voila server started by :meth:`start` and stopped by :meth:`stop`."""

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

    def page_url(self, notebook: str, theme: str = "light") -> str:
        """Where ``notebook`` (relative to the served folder) renders in ``theme``."""
        return f"{self.url}/voila/render/{notebook}?theme={theme}"

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "voila",
            str(self.root_dir),
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={self.port}",
            "--Voila.port_retries=0",
            # Errors reach the page (and so the test's failure message), not only the log.
            "--show_tracebacks=True",
            # The tests shut a page's kernel down with a plain POST (no XSRF cookie): a
            # token-less loopback test server needs no such check.
            "--Voila.tornado_settings=disable_check_xsrf=True",
        ]

    def _environment(self) -> dict[str, str]:
        env = private_environment(self.home, self.cache_dir)
        # Voila shows nothing until every cell ran, so the simulator runs ten times faster
        # than its default here (a generation: 0.2 s instead of 2-3 s); no test of this
        # server measures the simulated time. A notebook may set its own speed first.
        env["LUMA_NB_SIM_SPEED"] = "600"
        return env

    def start(self, timeout: float = 60.0) -> None:
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
            # The tree page answers once the server listens (it starts no kernel).
            ready = wait_http(self.process, f"{self.url}/voila/tree", timeout)
            if ready:
                self.startup_seconds = time.monotonic() - began
                return
            if ready is None:
                self.stop()
                raise RuntimeError(
                    f"Voila did not answer in {timeout:.0f} s; its log:\n{self.log_tail()}"
                )
            # Exited early: most likely another process took the port between the probe and
            # the bind. Anything else repeats and ends up in the error below.
            self._log.close()
        raise RuntimeError(f"Voila did not start; its log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def kernels(self) -> list[int]:
        """The pids of the kernels running now (the server's descendants running ipykernel)."""
        if self.process is None:
            return []
        found = []
        for pid in descendants(self.process.pid):
            with contextlib.suppress(OSError):
                if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
        return found

    def shutdown_kernel(self, kernel_id: str, timeout: float = 10.0) -> None:
        """Shut a page's kernel down as Voila's front end does when a page unloads, and
        wait until no kernel process is left (best effort: stop() ends any that remain)."""
        request = urllib.request.Request(
            f"{self.url}/voila/api/shutdown/{kernel_id}", method="POST", data=b""
        )
        with contextlib.suppress(OSError, urllib.error.URLError):
            urllib.request.urlopen(request, timeout=timeout).close()
        deadline = time.monotonic() + timeout
        while self.kernels() and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every process it started; raise if any survives."""
        process = self.process
        if process is None:
            return
        try:
            stop_tree(process, "Voila", timeout)
        finally:
            if self._log is not None:
                self._log.close()
            self.process = None
