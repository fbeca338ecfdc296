"""Bench polling: 200 concurrent tasks, ``wait_many`` vs per-task polling loops.

Run: ``python bench/bench_polling.py [--tasks 200] [--interval 0.5] [--speed 30] [--runs 2]``.

A loopback simulator runs in its own process ``--speed`` times faster than real time: a
generation (120-160 simulated seconds) takes 4-5.3 s, and a poll interval of 0.5 s is 15
simulated seconds, the cadence the official tools use. Each run submits fresh tasks, then waits
for all of them one of three ways, all polling at the same fixed interval (start to start):

* baseline: a per-task loop with raw httpx (``retrieve`` each pending task, then sleep out the
  rest of the interval, repeat) — what one writes without luma_nb;
* per-task ``AsyncClient.wait``: one concurrent ``wait(id)`` per task, each its own loop;
* ``Client.wait_many(ids)``: one ``retrieve_batch`` per 50 pending tasks per round.

Counted (by a counting transport on the client side): the ``POST /luma/tasks`` requests made
while waiting, the wall time, and the lag: how long after the last task finished (by the
simulator's own clock, mapped to real time) the wait returned. Goals: at least 40x fewer
requests than the per-task loop, and a lag of at most one poll interval.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from _bench import AUTH, PROMPT, child_process, goal, machine, median, table

import luma_nb
from luma_nb.config import PollPolicy

TERMINAL = ("completed", "failed")
Waiter = Callable[[str, list[str], float, "Counter"], None]


class Counter:
    """Counts the ``/luma/tasks`` requests of the transports it wraps."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def hit(self, request: httpx.Request) -> None:
        if request.url.path == "/luma/tasks":
            with self._lock:
                self.count += 1

    def sync(self) -> httpx.BaseTransport:
        inner = httpx.HTTPTransport()
        counter = self

        class Counting(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                counter.hit(request)
                return inner.handle_request(request)

            def close(self) -> None:
                inner.close()

        return Counting()

    def asynchronous(self) -> httpx.AsyncBaseTransport:
        inner = httpx.AsyncHTTPTransport()
        counter = self

        class Counting(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                counter.hit(request)
                return await inner.handle_async_request(request)

            async def aclose(self) -> None:
                await inner.aclose()

        return Counting()


def _policy(interval: float) -> PollPolicy:
    return PollPolicy.fixed(interval, max_wait=600)


def per_task_loop(url: str, ids: list[str], interval: float, counter: Counter) -> None:
    """Retrieve every pending task, sleep out the rest of the interval, repeat."""
    pending = list(ids)
    with httpx.Client(base_url=url, headers=AUTH, transport=counter.sync()) as http:
        while pending:
            began = time.monotonic()
            still = []
            for task_id in pending:
                record = http.post("/luma/tasks", json={"action": "retrieve", "id": task_id})
                state = (record.json().get("response") or {}).get("state")
                if state not in TERMINAL:
                    still.append(task_id)
            pending = still
            if pending:
                time.sleep(max(0.0, interval - (time.monotonic() - began)))


def per_task_async(url: str, ids: list[str], interval: float, counter: Counter) -> None:
    async def go() -> None:
        async with luma_nb.AsyncClient(
            "bench-token", base_url=url, poll=_policy(interval), transport=counter.asynchronous()
        ) as client:
            tasks = await asyncio.gather(*(client.wait(task_id) for task_id in ids))
        assert all(task.is_terminal for task in tasks)

    asyncio.run(go())


def wait_many(url: str, ids: list[str], interval: float, counter: Counter) -> None:
    with luma_nb.Client(
        "bench-token", base_url=url, poll=_policy(interval), transport=counter.sync()
    ) as client:
        tasks = client.wait_many(ids)
    assert all(task.is_terminal for task in tasks)


def run_once(
    url: str, epoch0: float, speed: float, count: int, interval: float, waiter: Waiter
) -> tuple[int, float, float]:
    """(requests while waiting, wall seconds, lag in real seconds after the last finish)."""
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        body = {"prompt": PROMPT, "async": True}
        ids = [http.post("/luma/videos", json=body).json()["task_id"] for _ in range(count)]
        counter = Counter()
        started = time.perf_counter()
        waiter(url, ids, interval, counter)
        returned = time.time()
        wall = time.perf_counter() - started
        finished = []
        for start in range(0, count, 50):
            answer = http.post(
                "/luma/tasks", json={"action": "retrieve_batch", "ids": ids[start : start + 50]}
            ).json()
            finished.extend(float(item["finished_at"]) for item in answer["items"])
    last_finish = epoch0 + max(finished) / speed  # simulated seconds since epoch0, in real time
    return counter.count, wall, returned - last_finish


def serve(speed: float) -> None:
    """Child-process mode: a simulator whose time 0 is the printed epoch, until SIGTERM."""
    from luma_nb.simulator import ScaledClock, Simulator, SimulatorServer

    clock = ScaledClock(speed, start=0.0)
    epoch0 = time.time()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SimulatorServer(Simulator(clock=clock, seed=1, journal_size=100)) as server:
        print(server.url, flush=True)
        print(repr(epoch0), flush=True)
        stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.5, help="poll interval, seconds")
    parser.add_argument("--speed", type=float, default=30.0, help="simulated s per real s")
    parser.add_argument("--runs", type=int, default=2, help="runs per variant (medians)")
    parser.add_argument("--serve", type=float, metavar="SPEED", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(machine())
    print(
        f"{args.tasks} tasks, poll every {args.interval:g} s (= {args.interval * args.speed:g} "
        f"simulated s), generations of 120-160 simulated s at {args.speed:g}x"
    )
    print()
    baseline = "baseline: per-task loop, raw httpx"
    variants: dict[str, Waiter] = {
        baseline: per_task_loop,
        "per-task AsyncClient.wait, concurrent": per_task_async,
        "Client.wait_many": wait_many,
    }
    results: dict[str, list[tuple[int, float, float]]] = {name: [] for name in variants}
    command = [sys.executable, __file__, "--serve", str(args.speed)]
    with child_process(command) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        epoch0 = float(process.stdout.readline())
        for _ in range(args.runs):
            for name, waiter in variants.items():
                results[name].append(
                    run_once(url, epoch0, args.speed, args.tasks, args.interval, waiter)
                )
    base_requests = median([r[0] for r in results[baseline]])
    rows: list[list[Any]] = []
    for name, runs in results.items():
        requests = median([r[0] for r in runs])
        lags = [r[2] for r in runs]
        rows.append(
            [
                name,
                int(requests),
                f"{base_requests / requests:.1f}x",
                median([r[1] for r in runs]),
                median(lags) * 1000,
                max(lags) * 1000,
                f"{max(lags) / args.interval:.2f}",
            ]
        )
    headers = [
        "waiting for all tasks",
        "requests",
        "fewer",
        "wall s",
        "lag ms median",
        "lag ms max",
        "max lag / interval",
    ]
    print(table(headers, rows, f"Median of {args.runs} run(s) per variant"))
    many = results["Client.wait_many"]
    fewer = base_requests / median([r[0] for r in many])
    late = max(r[2] for r in many)
    print()
    print(f"goal >= 40x fewer requests than the per-task loop: {fewer:.1f}x, {goal(fewer >= 40)}")
    print(
        f"goal lag <= one interval ({args.interval * 1000:.0f} ms): "
        f"max {late * 1000:.0f} ms, {goal(late <= args.interval)}"
    )


if __name__ == "__main__":
    main()
