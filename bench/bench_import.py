"""Bench ``import luma_nb``: how long it takes and what it drags in.

Run: ``python bench/bench_import.py [--runs 9]``. Each figure is the median over fresh
interpreters (``python -X importtime -c "import X"``; the cumulative time of the top-level
package, so interpreter start-up is not counted). Side by side, in the same run: the imports a
user of the API would otherwise pay for (httpx, IPython, ipywidgets, pandas). The second table
lists which heavy packages ``import luma_nb`` loads (none should be), and what the first use of
each part costs on top. Goal: ``import luma_nb`` under 0.3 s, without pandas.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from typing import Any

from _bench import child_env, goal, machine, median, ratio, table

HEAVY = ("pandas", "numpy", "ipywidgets", "IPython", "httpx", "anyio", "av", "PIL", "traitlets")


def import_seconds(statement: str, top: str) -> float:
    """Cumulative import time of module ``top`` when running ``statement`` (fresh process)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
    )
    total = 0
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if match and match.group(4) == top and len(match.group(3)) == 1:
            total += int(match.group(2))
    return total / 1e6


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; import json; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), check=True
    )
    return set(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    print(machine())
    print()
    cases = [
        ("import luma_nb", "luma_nb"),
        ("import httpx", "httpx"),
        ("import IPython", "IPython"),
        ("import ipywidgets", "ipywidgets"),
        ("import pandas", "pandas"),
    ]
    samples: dict[str, list[float]] = {statement: [] for statement, _ in cases}
    for _ in range(args.runs):  # interleaved, so machine drift hits every row alike
        for statement, top in cases:
            samples[statement].append(import_seconds(statement, top))
    luma = median(samples["import luma_nb"])
    httpx_time = median(samples["import httpx"])
    rows: list[list[Any]] = []
    for statement, _ in cases:
        seconds = median(samples[statement])
        rows.append([statement, seconds * 1000, ratio(seconds, httpx_time)])
    print(table(["statement", "ms (median)", "vs import httpx"], rows, "Import time"))
    print()
    base = loaded_after("pass")
    parts = [
        ("import luma_nb", "import luma_nb"),
        ("+ luma_nb.Client", "import luma_nb; luma_nb.Client"),
        ("+ luma_nb.SessionLog", "import luma_nb; luma_nb.SessionLog"),
        ("+ luma_nb.show", "import luma_nb; luma_nb.show"),
        ("+ luma_nb.Panel", "import luma_nb; luma_nb.Panel"),
    ]
    rows = []
    for name, statement in parts:
        modules = loaded_after(statement) - base
        heavy = [h for h in HEAVY if h in modules]
        own = len([m for m in modules if m.startswith("luma_nb")])
        rows.append([name, len(modules), own, ", ".join(heavy) or "(none)"])
    print(table(["what", "modules", "of luma_nb", "heavy packages loaded"], rows, "Imports"))
    first = loaded_after("import luma_nb")
    print()
    print(f"goal import luma_nb < 300 ms: {luma * 1000:.0f} ms, {goal(luma < 0.3)}")
    print(f"goal no pandas on import: {goal('pandas' not in first)}")


if __name__ == "__main__":
    main()
