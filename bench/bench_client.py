"""Bench the client's overhead: ``get_task`` and ``submit`` through luma_nb vs raw httpx.

Run: ``python bench/bench_client.py [--rounds 300]``. One loopback simulator runs in its own
process (``python -m luma_nb.simulator``, so it shares no GIL with the client); each row times
the same request made two ways against it, alternating call by call:

* baseline: a raw ``httpx.Client`` / ``httpx.AsyncClient`` with a hand-built JSON body and
  ``response.json()`` (what a user without luma_nb would write);
* luma_nb: ``Client.get_task(id)`` / ``Client.submit(prompt)`` and the ``AsyncClient`` twins,
  which also validate, build the body, map errors and parse the record into a typed ``Task``.

Figures are medians; read them as the ratio luma_nb / baseline (goal: within 10%, i.e. at most
1.10x). A second table does the same over the in-process transport (no socket), where the
difference is the toolkit's own cost in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from _bench import (
    AUTH,
    PROMPT,
    goal,
    interleaved,
    loopback_simulator,
    machine,
    median,
    ratio,
    table,
)

import luma_nb
from luma_nb.simulator import Simulator, VirtualClock

GOAL = 1.10
SUBMIT_BODY = {
    "action": "generate",
    "prompt": PROMPT,
    "aspect_ratio": "16:9",
    "loop": False,
    "enhancement": True,
    "async": True,
}


def _raw_get(http: httpx.Client, task_id: str) -> Callable[[], object]:
    def call() -> object:
        response = http.post("/luma/tasks", json={"action": "retrieve", "id": task_id})
        response.raise_for_status()
        return response.json()

    return call


def _raw_submit(http: httpx.Client) -> Callable[[], object]:
    def call() -> object:
        response = http.post("/luma/videos", json=SUBMIT_BODY)
        response.raise_for_status()
        return response.json()["task_id"]

    return call


def sync_rows(base_url: str, rounds: int, transport: Any = None) -> list[list[Any]]:
    """get_task and submit, raw httpx vs luma_nb.Client, alternating."""
    with (
        httpx.Client(base_url=base_url, headers=AUTH, transport=transport) as http,
        luma_nb.Client("bench-token", base_url=base_url, transport=transport) as client,
    ):
        task_id = _raw_submit(http)()
        assert isinstance(task_id, str)
        gets = interleaved(
            {"raw": _raw_get(http, task_id), "luma": lambda: client.get_task(task_id)}, rounds
        )
        submits = interleaved(
            {"raw": _raw_submit(http), "luma": lambda: client.submit(PROMPT)}, rounds // 2
        )
    return [
        _row("get_task  Client", gets),
        _row("submit    Client", submits),
    ]


async def _async_samples(
    variants: dict[str, Callable[[], Awaitable[object]]], rounds: int, warmup: int = 20
) -> dict[str, list[float]]:
    for _ in range(warmup):
        for function in variants.values():
            await function()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, function in variants.items():
            started = time.perf_counter()
            await function()
            samples[name].append(time.perf_counter() - started)
    return samples


async def _async_rows(base_url: str, rounds: int, transport: Any) -> list[list[Any]]:
    async with (
        httpx.AsyncClient(base_url=base_url, headers=AUTH, transport=transport) as http,
        luma_nb.AsyncClient("bench-token", base_url=base_url, transport=transport) as client,
    ):

        async def raw_get() -> object:
            response = await http.post("/luma/tasks", json={"action": "retrieve", "id": task_id})
            response.raise_for_status()
            return response.json()

        async def raw_submit() -> object:
            response = await http.post("/luma/videos", json=SUBMIT_BODY)
            response.raise_for_status()
            return response.json()["task_id"]

        task_id = str(await raw_submit())
        gets = await _async_samples(
            {"raw": raw_get, "luma": lambda: client.get_task(task_id)}, rounds
        )
        submits = await _async_samples(
            {"raw": raw_submit, "luma": lambda: client.submit(PROMPT)}, rounds // 2
        )
    return [_row("get_task  AsyncClient", gets), _row("submit    AsyncClient", submits)]


def async_rows(base_url: str, rounds: int, transport: Any = None) -> list[list[Any]]:
    return asyncio.run(_async_rows(base_url, rounds, transport))


def _row(name: str, samples: dict[str, list[float]]) -> list[Any]:
    raw, luma = median(samples["raw"]), median(samples["luma"])
    return [
        name,
        raw * 1e3,
        luma * 1e3,
        (luma - raw) * 1e6,
        ratio(luma, raw),
        goal(luma / raw <= GOAL),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="calls per variant (get_task)")
    args = parser.parse_args()
    print(machine())
    print()
    headers = ["operation", "httpx ms", "luma_nb ms", "+us", "ratio", "goal <=1.10x"]
    with loopback_simulator("--speed", "100000", "--seed", "1") as url:
        rows = sync_rows(url, args.rounds) + async_rows(url, args.rounds)
    print(table(headers, rows, "Loopback simulator (separate process), median per call"))
    print()
    sim = Simulator(clock=VirtualClock(), seed=1)
    try:
        transport = sim.transport()
        rows = sync_rows(sim.base_url, args.rounds, transport)
        rows += async_rows(sim.base_url, args.rounds, transport)
    finally:
        sim.close()
    headers[-1] = "(info)"
    for row in rows:
        row[-1] = ""
    print(table(headers, rows, "In-process simulator transport (no socket), median per call"))


if __name__ == "__main__":
    main()
