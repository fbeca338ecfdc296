"""Bench the kernel's responsiveness with the panel: click latency, and cells while jobs poll.

Run: ``python bench/bench_panel.py [--clicks 40] [--jobs 50] [--seconds 4] [--no-kernel]``.

* Click: the time ``panel.generate_button.click()`` takes to return (the handler validates the
  form, writes the iteration to the session log, adds the job's row, schedules the job and
  refreshes the history; the job itself runs later on the loop). Baseline: ``click()`` of a
  bare ``ipywidgets.Button`` whose handler does nothing. Goal: under 20 ms.
* Loop latency with jobs in flight: while ``--jobs`` panel jobs poll a loopback simulator
  running in real time (so none finishes), how long a trivial new task waits for the event
  loop (what a new cell waits for in a kernel). Baseline: the same with no job running.
* In a real kernel (jupyter_client; skipped with ``--no-kernel``): the round trip of executing
  ``1+1`` before and while the jobs poll.

The simulator runs in its own process; every process started here is stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

from _bench import (
    PROMPT,
    child_env,
    goal,
    loopback_simulator,
    machine,
    median,
    percentile,
    ratio,
    table,
)

import luma_nb
from luma_nb.backend import SIMULATOR_POLL


def _client(url: str, cache: Path) -> luma_nb.AsyncClient:
    return luma_nb.AsyncClient(
        "bench-token", base_url=url, backend="simulator", poll=SIMULATOR_POLL, cache_dir=cache
    )


async def click_latency(url: str, folder: Path, clicks: int) -> tuple[list[float], list[float]]:
    import ipywidgets as widgets

    bare = widgets.Button(description="bare")
    bare.on_click(lambda _button: None)
    log = luma_nb.SessionLog(folder / "clicks.jsonl")
    panel = luma_nb.Panel(_client(url, folder / "cache"), log)
    panel.prompt.value = PROMPT
    base: list[float] = []
    ours: list[float] = []
    for _ in range(5):  # warm up widget and log code paths
        bare.click()
        panel.generate_button.click()
        await asyncio.sleep(0.01)
    for _ in range(clicks):
        started = time.perf_counter()
        bare.click()
        base.append(time.perf_counter() - started)
        started = time.perf_counter()
        panel.generate_button.click()
        ours.append(time.perf_counter() - started)
        await asyncio.sleep(0.02)  # the job submits, as it would between two real clicks
    assert len(panel.jobs) == clicks + 5
    for job in panel.jobs:
        job.cancel()
    await panel.idle()
    return base, ours


async def loop_latency(seconds: float) -> list[float]:
    """How long a new trivial task waits for the loop, sampled every 10 ms."""

    async def trivial() -> None:
        return None

    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        await asyncio.get_running_loop().create_task(trivial())
        samples.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return samples


async def latency_with_jobs(
    url: str, folder: Path, jobs: int, seconds: float
) -> tuple[list[float], list[float], int]:
    idle = await loop_latency(seconds)
    log = luma_nb.SessionLog(folder / "jobs.jsonl")
    panel = luma_nb.Panel(_client(url, folder / "cache"), log)
    panel.prompt.value = PROMPT
    for _ in range(jobs):
        panel.submit()
    while any(job.task_id is None for job in panel.jobs):  # all submitted, now polling
        await asyncio.sleep(0.05)
    busy = await loop_latency(seconds)
    running = sum(job.running for job in panel.jobs)
    for job in panel.jobs:
        job.cancel()
    await panel.idle()
    return idle, busy, running


KERNEL_SETUP = """
import luma_nb
panel = luma_nb.Panel()
panel.prompt.value = {prompt!r}
for _ in range({jobs}):
    panel.submit()
"""


def kernel_latency(url: str, folder: Path, jobs: int, rounds: int) -> tuple[list[float], ...]:
    """Round trip of ``1+1`` in a real kernel, before and while ``jobs`` panel jobs poll."""
    from jupyter_client.manager import KernelManager

    env = child_env(
        ACEDATACLOUD_API_BASE_URL=url,
        LUMA_NB_CACHE_DIR=str(folder / "kernel-cache"),
    )
    env.pop("LUMA_NB_BACKEND", None)
    manager = KernelManager(kernel_name="python3")
    # The kernel's own chatter (a TCP warning) is not part of the table.
    manager.start_kernel(env=env, cwd=str(folder), stdout=DEVNULL, stderr=DEVNULL)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)

        def run(code: str) -> float:
            started = time.perf_counter()
            reply = client.execute_interactive(code, timeout=60, output_hook=lambda _m: None)
            assert reply["content"]["status"] == "ok", reply["content"]
            return time.perf_counter() - started

        for _ in range(5):
            run("1+1")
        before = [run("1+1") for _ in range(rounds)]
        run(KERNEL_SETUP.format(prompt=PROMPT, jobs=jobs))
        run(
            "import asyncio\n"
            "while any(job.task_id is None for job in panel.jobs):\n"
            "    await asyncio.sleep(0.05)\n"
        )
        during = []
        for _ in range(rounds):
            during.append(run("1+1"))
            time.sleep(0.05)
        run("[job.cancel() for job in panel.jobs]\nawait panel.idle()")
        return before, during
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)  # by the manager's own pid


def _stats(name: str, samples: list[float], baseline: list[float] | None) -> list[Any]:
    med = median(samples)
    return [
        name,
        len(samples),
        med * 1000,
        percentile(samples, 0.95) * 1000,
        max(samples) * 1000,
        ratio(med, median(baseline)) if baseline else "1.00x",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=4.0, help="loop sampling time")
    parser.add_argument("--no-kernel", action="store_true", help="skip the real-kernel rows")
    args = parser.parse_args()
    print(machine())
    print()
    headers = ["measure", "n", "median ms", "p95 ms", "max ms", "vs baseline"]
    with tempfile.TemporaryDirectory() as tmp, loopback_simulator("--speed", "1") as url:
        folder = Path(tmp)
        base, ours = asyncio.run(click_latency(url, folder, args.clicks))
        rows = [
            _stats("baseline: click() of a bare Button", base, None),
            _stats("Panel Generate click() -> handler returns", ours, base),
        ]
        print(table(headers, rows, "Click latency"))
        print(
            f"goal click < 20 ms (median): {median(ours) * 1000:.1f} ms, "
            f"{goal(median(ours) < 0.020)}"
        )
        print()
        idle, busy, running = asyncio.run(latency_with_jobs(url, folder, args.jobs, args.seconds))
        rows = [
            _stats("baseline: no job running", idle, None),
            _stats(f"{running} panel jobs polling", busy, idle),
        ]
        print(table(headers, rows, "Event-loop latency of a new task (a cell's wait)"))
        if not args.no_kernel:
            before, during = kernel_latency(url, folder, args.jobs, 30)
            rows = [
                _stats("baseline: execute 1+1, no job", before, None),
                _stats(f"execute 1+1 while {args.jobs} jobs poll", during, before),
            ]
            print()
            print(table(headers, rows, "Real kernel (jupyter_client), execute round trip"))


if __name__ == "__main__":
    main()
