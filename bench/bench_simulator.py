"""Bench the simulator: clip render time and size, and loopback requests per second.

Run: ``python bench/bench_simulator.py [--seconds 2] [--renders 3]``. The request rates are
measured against a baseline (a stdlib HTTP/1.1 server answering the same record as a fixed JSON
body, on the same machine), so read them as ratios. Each server runs in its own process, so the
client does not share a GIL with it; every loop is bounded in count and time and talks to
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from luma_nb.simulator import Simulator, VirtualClock  # noqa: E402
from luma_nb.simulator._media import ClipSpec, can_render, render_clip  # noqa: E402

AUTH = {"authorization": "Bearer bench"}
PROMPT = "A red fox trots through a snowy birch forest at dawn, slow dolly-in, golden hour light"
MAX_REQUESTS = 20_000


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def bench_renders(runs: int) -> list[tuple[str, float, float, int, int, int]]:
    """(name, median ms, min ms, mp4 bytes, jpeg bytes, frames) per clip kind."""
    base = ClipSpec(PROMPT, seed=1)
    specs = {
        "default 16:9 5 s": base,
        "keyframes start+end": ClipSpec(
            PROMPT, seed=2, start_image=_png((220, 40, 40)), end_image=_png((40, 60, 220))
        ),
        "loop 9:16": ClipSpec(PROMPT, aspect_ratio="9:16", seed=3, loop=True),
        "extend (5 s + 5 s)": ClipSpec("and it keeps going", seed=4, parent=base),
    }
    rows = []
    for name, spec in specs.items():
        times = []
        clip = None
        for _ in range(runs):
            start = time.perf_counter()
            clip = render_clip(spec)
            times.append((time.perf_counter() - start) * 1000)
        assert clip is not None
        rows.append(
            (
                name,
                statistics.median(times),
                min(times),
                len(clip.mp4),
                len(clip.jpeg),
                clip.frame_count,
            )
        )
    return rows


class _Fixed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the simulator's server: no 40 ms Nagle stalls
    body = b"{}"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_baseline(body_path: str) -> None:
    """Child-process mode: answer every POST with the JSON in ``body_path`` until killed."""
    body = Path(body_path).read_bytes()
    handler = type("Fixed", (_Fixed,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


@contextmanager
def child_server(command: list[str]) -> Iterator[str]:
    """Run a server in its own process (no GIL shared with the client); yield its URL."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def rate(send: Callable[[], int], seconds: float, threads: int = 1) -> float:
    """Requests per second of ``send`` from ``threads`` threads for about ``seconds``."""
    for _ in range(20):  # warm up connections and caches
        assert send() == 200
    counts = [0] * threads
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        while time.perf_counter() < stop_at and counts[index] < MAX_REQUESTS:
            assert send() == 200
            counts[index] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def rate_over_http(url: str, query: dict[str, Any], seconds: float, threads: int) -> float:
    """Retrieve rate against ``url``, one keep-alive httpx.Client per thread."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def send() -> int:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, headers=AUTH)
            clients.append(local.client)
        return int(local.client.post("/luma/tasks", json=query).status_code)

    try:
        return rate(send, seconds, threads)
    finally:
        for client in clients:
            client.close()


def bench_requests(seconds: float) -> list[tuple[str, float]]:
    """(name, requests per second) for retrieve calls and the baseline."""
    rows: list[tuple[str, float]] = []
    sim = Simulator(clock=VirtualClock(), seed=1)
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url, headers=AUTH) as client:
        ack = client.post("/luma/videos", json={"prompt": PROMPT, "async": True}).json()
        assert isinstance(sim.clock, VirtualClock)
        sim.clock.advance(200)
        query = {"action": "retrieve", "id": ack["task_id"]}
        record = client.post("/luma/tasks", json=query).content
        rows.append(
            (
                "retrieve, in-process transport (no socket)",
                rate(lambda: client.post("/luma/tasks", json=query).status_code, seconds),
            )
        )
    sim.close()
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp) / "record.json"
        body_path.write_bytes(record)
        baseline = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-baseline",
            str(body_path),
        ]
        with child_server(baseline) as url:
            for threads in (1, 4):
                rows.append(
                    (
                        f"baseline: stdlib server, fixed JSON, {threads} client(s)",
                        rate_over_http(url, query, seconds, threads),
                    )
                )
    simulator = [sys.executable, "-m", "luma_nb.simulator", "--speed", "100000", "--seed", "1"]
    with child_server(simulator) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        task_id = client.post("/luma/videos", json={"prompt": PROMPT, "async": True}).json()
        query = {"action": "retrieve", "id": task_id["task_id"]}
        time.sleep(0.1)  # 150 simulated seconds at 100000x
        assert client.post("/luma/tasks", json=query).json()["response"]["state"] == "completed"
        for threads in (1, 4):
            rows.append(
                (
                    f"retrieve, loopback simulator, {threads} client(s)",
                    rate_over_http(url, query, seconds, threads),
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per rate row")
    parser.add_argument("--renders", type=int, default=3, help="renders per clip kind")
    parser.add_argument("--serve-baseline", metavar="BODY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}, render={can_render()}")
    print()
    print(f"{'clip':<24} {'median ms':>10} {'min ms':>8} {'mp4 KB':>8} {'jpg KB':>7} {'frames':>7}")
    for name, median, best, mp4, jpeg, frames in bench_renders(args.renders):
        print(
            f"{name:<24} {median:>10.0f} {best:>8.0f} {mp4 / 1024:>8.1f} "
            f"{jpeg / 1024:>7.1f} {frames:>7}"
        )
    print()
    rows = bench_requests(args.seconds)
    baseline = next(r for name, r in rows if name.startswith("baseline") and "1 client" in name)
    print(f"{'requests':<48} {'req/s':>8} {'vs baseline':>12}")
    for name, value in rows:
        print(f"{name:<48} {value:>8.0f} {value / baseline:>11.2f}x")


if __name__ == "__main__":
    main()
