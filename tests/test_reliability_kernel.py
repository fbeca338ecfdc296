"""Kernel death: a kernel killed while it waits for a video; a new kernel resumes from the log.

A loopback simulator runs in its own process (``python -m luma_nb.simulator``) slowly enough
that a generation takes several seconds. Kernel one (a real ipykernel, started by
``jupyter_client`` with ``ACEDATACLOUD_API_BASE_URL`` pointing at the simulator) runs
``luma_nb.generate(...)``; once the log shows the task submitted and running, the kernel is
killed with SIGKILL — no cleanup, no ``finally``. Kernel two opens the same session log,
resumes, and gets the video: the row ends completed, with the local file on disk. Every
process started here is stopped by its pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SPEED = "40"  # a generation (120-160 simulated s) takes 3-4 real seconds
PROMPT = "A kite over a windy beach, survives a crash"


@contextmanager
def loopback_simulator() -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACEDATACLOUD_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "luma_nb.simulator", "--port", "0", "--speed", SPEED, "--seed", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        process.terminate()  # this one process, by its pid
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _kernel_env(url: str, tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ACEDATACLOUD_", "LUMA_NB_", "JPY_", "JUPYTER_"))
    }
    env.update(
        ACEDATACLOUD_API_BASE_URL=url,  # no token: connect() picks this loopback simulator
        LUMA_NB_CACHE_DIR=str(tmp / "cache"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


@contextmanager
def kernel(url: str, tmp: Path) -> Iterator[tuple[Any, Any]]:
    manager = jupyter_client.KernelManager(kernel_name="python3")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    manager.start_kernel(env=_kernel_env(url, tmp), cwd=str(tmp), **quiet)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        pid = manager.provisioner.pid if manager.provisioner is not None else None
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
        else:
            manager.cleanup_resources()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)  # by pid, if it outlived its manager


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too (reaped by whoever started it)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _run(client: Any, code: str, timeout: float = 120) -> str:
    out: list[str] = []

    def hook(message: dict[str, Any]) -> None:
        kind = message["header"]["msg_type"]
        if kind == "stream":
            out.append(message["content"]["text"])
        elif kind == "error":
            out.append("\n".join(message["content"]["traceback"]))

    reply = client.execute_interactive(code, output_hook=hook, timeout=timeout)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_a_killed_kernel_loses_nothing_and_a_new_one_resumes(tmp_path: Path) -> None:
    log_path = tmp_path / "session.jsonl"
    with loopback_simulator() as url:
        with kernel(url, tmp_path) as (manager, client):
            _run(
                client,
                "import luma_nb\n"
                f"luma_nb.use(luma_nb.connect(), luma_nb.SessionLog({str(log_path)!r}))\n",
            )
            # The cell blocks in generate(); we do not wait for its reply.
            client.execute(f"video = luma_nb.generate({PROMPT!r})")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                kinds = [(e["event"], e.get("state")) for e in _events(log_path)]
                if ("update", "processing") in kinds:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"the kernel never got to waiting: {kinds}")
            pid = manager.provisioner.pid
            os.kill(pid, signal.SIGKILL)  # mid-wait: no cleanup runs in the kernel
            deadline = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < deadline:
                manager.is_alive()  # lets the manager reap its child
                time.sleep(0.05)
            assert not _alive(pid)
        events = _events(log_path)
        assert [e["event"] for e in events[:2]] == ["submitting", "submitted"]
        assert all(e.get("state") != "completed" for e in events), "killed too late"
        task_id = events[1]["task_id"]

        with kernel(url, tmp_path) as (_manager, client):
            out = _run(
                client,
                "import json, luma_nb\n"
                f"log = luma_nb.SessionLog({str(log_path)!r})\n"
                "pending = [row['task_id'] for row in log.pending()]\n"
                "[task] = log.resume(luma_nb.connect(banner=False))\n"
                "path = luma_nb.connect(banner=False).download(task)\n"
                "row = log.row(log.find(task_id=task.id))\n"
                "print(json.dumps({'pending': pending, 'state': task.state.value,\n"
                "    'row': row['state'], 'url': row['video_url'], 'video': task.video.video_url,\n"
                "    'path': str(path), 'size': path.stat().st_size,\n"
                "    'head': path.read_bytes()[4:8].decode('latin-1')}))\n",
            )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["pending"] == [task_id]
    assert result["state"] == "completed" and result["row"] == "completed"
    assert result["url"] == result["video"]
    assert result["head"] == "ftyp" and result["size"] > 1000  # a real MP4 arrived
    rows = [e for e in _events(log_path) if e["event"] == "update"]
    assert rows[-1]["state"] == "completed"
