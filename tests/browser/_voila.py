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
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ._servers import LocalServer, descendants, private_environment


@dataclass
class Voila(LocalServer):
    """A Voila server started by :meth:`start` and stopped by :meth:`stop`."""

    NAME = "Voila"
    READY_PATH = "/voila/tree"  # the tree page answers once it listens (no kernel)

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
