"""Bench session logs at scale: the Python fold vs the DuckDB fold, side by side in one run.

Run: ``python bench/bench_session_scale.py [--events 1000000] [--runs 3] [--large 10]``
(the ``duckdb`` extra installed).

* ``--events`` events in one realistic session log (written by ``SessionLog`` itself, see
  ``bench_session_log.py``): ``load_sessions(path, engine="python")`` vs
  ``engine="duckdb"``, each in a fresh process, alternating (python, duckdb, python, ...),
  ``--runs`` times; the median wall time and the peak resident memory of the process
  (``VmHWM``: DuckDB's memory is not Python's, so ``tracemalloc`` would not see it), the
  interpreter and pandas included ("at start"). Goals: at most 0.5x the time and 0.6x the
  peak memory of the Python fold.
* ``--large`` session files of that size (a lab's folder: ``--large`` x ``--events``
  events), with ``memory_limit="1GB"``: ``to_parquet`` (rows written a batch of files at a
  time: memory bounded by the setting) and ``load_sessions(engine="duckdb")`` (a DataFrame,
  whose own size grows with the rows), then the Python fold of the same files, each in a
  fresh process, once.

The machine's load (``/proc/loadavg``) is printed with each table: the figures to read are
the ratios, measured alternately in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from _bench import goal, machine, median, python_run, ratio, table
from bench_session_log import SESSION_NAME, build_log

LOAD = """
import time, warnings
import pandas, luma_nb, luma_nb.session_log
{imports}

def high_water():  # VmHWM: this process's peak resident memory
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))

start = high_water()
started = time.perf_counter()
{call}
seconds = time.perf_counter() - started
print(seconds, rows, high_water(), start)
"""
FRAME = "rows = len(luma_nb.load_sessions({path!r}, engine={engine!r}{options}))"
PARQUET = (
    "target = luma_nb.session_log.to_parquet({path!r}, {target!r}{options})\n"
    "rows = duckdb.sql(f\"SELECT count(*) FROM read_parquet('{{target}}/**/*.parquet')\")"
    ".fetchall()[0][0]"
)


def load(
    path: Path, engine: str, options: str = "", target: Path | None = None
) -> tuple[float, int, int, int]:
    """Seconds, rows, peak and starting resident bytes of one fold in a fresh process."""
    call = (FRAME if target is None else PARQUET).format(
        path=str(path), engine=engine, options=options, target=str(target)
    )
    code = LOAD.format(call=call, imports="import duckdb, pyarrow" if engine == "duckdb" else "")
    seconds, rows, peak, start = python_run(code, timeout=3600).split()
    return float(seconds), int(rows), int(peak), int(start)


def loadavg() -> str:
    with open("/proc/loadavg") as file:
        return "load average " + " ".join(file.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in one log")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per engine")
    parser.add_argument("--large", type=int, default=10, help="logs in the large run (0: skip)")
    args = parser.parse_args()
    import duckdb
    import pyarrow

    print(machine(), f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}")
    folder = Path(tempfile.mkdtemp(prefix="luma-bench-scale-"))
    try:
        one = folder / "one" / SESSION_NAME
        one.parent.mkdir()
        build_log(one, args.events)
        size = one.stat().st_size
        before = loadavg()
        samples: dict[str, list[tuple[float, int, int, int]]] = {"python": [], "duckdb": []}
        for _ in range(args.runs):
            for engine in samples:
                samples[engine].append(load(one, engine))
        base_time = median([s[0] for s in samples["python"]])
        base_peak = median([s[2] for s in samples["python"]])
        rows = []
        for engine, runs in samples.items():
            seconds = median([s[0] for s in runs])
            peak = median([s[2] for s in runs])
            verdict = (
                "-"
                if engine == "python"
                else f"time {goal(seconds <= 0.5 * base_time)}, "
                f"memory {goal(peak <= 0.6 * base_peak)}"
            )
            rows.append(
                [
                    f'load_sessions(engine="{engine}")',
                    seconds,
                    min(s[0] for s in runs),
                    ratio(seconds, base_time),
                    peak / 2**20,
                    max(s[3] for s in runs) / 2**20,
                    ratio(peak, base_peak),
                    verdict,
                ]
            )
        headers = ["fold", "s (median)", "s (best)", "time", "peak MiB", "at start", "memory"]
        print()
        print(
            table(
                [*headers, "goals <=0.5x, <=0.6x"],
                rows,
                f"{args.events:,} events ({size / 2**20:.0f} MiB, {samples['python'][0][1]:,} "
                f"rows), fresh process each, alternating, median of {args.runs}; "
                f"{before} before, {loadavg()} after",
            )
        )
        if args.large:
            large_run(folder, one, args.large, args.events)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def large_run(folder: Path, one: Path, copies: int, events: int) -> None:
    large = folder / "large"
    large.mkdir()
    for n in range(copies):  # sessions of the same size: a lab's folder
        os.link(one, large / f"session-{n:04d}.jsonl")
    total = one.stat().st_size * copies
    limit = ', memory_limit="1GB"'
    lines = []
    before = loadavg()
    for name, engine, target in (
        ('to_parquet(memory_limit="1GB")', "duckdb", folder / "rows"),
        ('load_sessions(engine="duckdb", memory_limit="1GB")', "duckdb", None),
        ('load_sessions(engine="python")', "python", None),
    ):
        options = limit if engine == "duckdb" else ""
        seconds, count, peak, start = load(large, engine, options, target)
        lines.append([name, seconds, count, peak / 2**20, start / 2**20])
    print()
    print(
        table(
            ["fold", "s", "rows", "peak MiB", "at start"],
            lines,
            f"{copies * events:,} events in {copies} files ({total / 2**30:.2f} GiB), "
            f"one fresh process each; {before} before, {loadavg()} after",
        )
    )


if __name__ == "__main__":
    main()
