"""Shared pieces of the benchmarks: timing, tables, loopback simulators and child processes.

Every benchmark measures luma_nb side by side with the baseline a user would otherwise write,
in the same run and on the same machine, so the figures to read are the ratios. Loops are
bounded in count and time, servers listen on 127.0.0.1 only, and every process a benchmark
starts is stopped by its pid before it returns.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPT = "A red fox trots through a snowy birch forest at dawn, slow dolly-in, golden hour light"
AUTH = {"authorization": "Bearer bench-token"}


def machine() -> str:
    """One line about where the figures come from."""
    import httpx

    return (
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPU(s), httpx {httpx.__version__}"
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return float(ordered[index])


def timed(function: Callable[[], object]) -> float:
    """Seconds one call of ``function`` takes."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def interleaved(
    variants: dict[str, Callable[[], object]], rounds: int, warmup: int = 20
) -> dict[str, list[float]]:
    """Time each variant ``rounds`` times, alternating them call by call.

    Alternating (A, B, C, A, B, C, ...) spreads any drift of the machine (another process, a
    frequency change) over every variant alike, which a block of A then a block of B would not.
    """
    for _ in range(warmup):
        for function in variants.values():
            function()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, function in variants.items():
            samples[name].append(timed(function))
    return samples


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    """A plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
        for i, h in enumerate(headers)
    ]
    numeric = [
        bool(rows) and all(isinstance(r[i], (int, float)) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]
    lines = []
    if title:
        lines.append(title)
    lines.append(
        "  ".join(
            (str(h).rjust(w) if numeric[i] else str(h).ljust(w))
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                (c.rjust(w) if numeric[i] else c.ljust(w))
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if magnitude >= 0.1 or value == 0 else f"{value:.3f}"
    return str(value)


def ratio(value: float, baseline: float) -> str:
    """``value / baseline`` as ``1.04x``."""
    if not baseline:
        return "-"
    return f"{value / baseline:.2f}x"


def goal(met: bool) -> str:
    return "met" if met else "MISSED"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this checkout importable, no API token."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ACEDATACLOUD_API_TOKEN", "ACEDATACLOUD_API_BASE_URL")
    }
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@contextmanager
def child_process(command: list[str], **extra_env: str) -> Iterator[subprocess.Popen[str]]:
    """A child process whose first stdout line the caller reads; stopped by pid on exit."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_env(**extra_env),
    )
    try:
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL, this one process (by its pid) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    for stream in (process.stdout, process.stderr, process.stdin):
        if stream is not None:
            stream.close()


@contextmanager
def loopback_simulator(*args: str) -> Iterator[str]:
    """``python -m luma_nb.simulator ARGS`` in its own process (no GIL shared); yields its URL."""
    command = [sys.executable, "-m", "luma_nb.simulator", "--port", "0", *args]
    with child_process(command) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the simulator did not start (first line {url!r})")
        yield url


def python_run(code: str, *, timeout: float = 120.0, **extra_env: str) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout (raise on failure)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(**extra_env),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout
