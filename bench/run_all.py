"""Run every benchmark and print their tables, one after another.

Run: ``python bench/run_all.py [--quick] [--only client,polling,...]``. ``--quick`` uses
fewer repeats (about two minutes in all, figures a little noisier); the default takes about
eight minutes, five of them ``bench_session_scale.py`` (1,000,000 and 10,000,000 events).
Each benchmark is its own process and prints its own table with its baseline side by
side (see each script's docstring for what is measured); ``docs/performance.md`` explains the
figures and the goals.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES: dict[str, tuple[list[str], list[str]]] = {
    # name: (default arguments, --quick arguments)
    "client": ([], ["--rounds", "120"]),
    "polling": ([], ["--runs", "1"]),
    "schedule": ([], ["--waits", "20", "--batch", "100"]),
    "session_log": ([], ["--runs", "3", "--appends", "5000"]),
    "session_scale": ([], ["--events", "200000", "--runs", "1", "--large", "2"]),
    "import": ([], ["--runs", "5"]),
    "panel": ([], ["--clicks", "20", "--seconds", "2"]),
    "simulator": ([], ["--seconds", "1", "--renders", "2"]),
    "metrics": ([], ["--rounds", "3"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", default="", help="comma-separated subset: " + ",".join(BENCHES))
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHES)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    failed = []
    for name in chosen:
        default, quick = BENCHES[name]
        command = [
            sys.executable,
            str(HERE / f"bench_{name}.py"),
            *(quick if args.quick else default),
        ]
        print(f"=== bench_{name}.py {' '.join(command[2:])}".rstrip(), flush=True)
        started = time.perf_counter()
        done = subprocess.run(command, check=False)
        print(f"--- {time.perf_counter() - started:.0f} s\n", flush=True)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
