"""Execute notebooks top to bottom with nbclient; exit non-zero on the first error.

Usage: python scripts/run_notebook.py NOTEBOOK [NOTEBOOK ...] [--output-dir DIR]
Each notebook runs from its own folder, with the environment of this process. With
``--output-dir`` the executed copy of each (outputs included, also when it failed) is written
there, and its absolute path printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run(path: Path, output_dir: Path | None, timeout: int) -> bool:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.monotonic()
    try:
        client.execute()
        ok = True
    except CellExecutionError as exc:
        print(f"FAILED {path}:\n{exc}", file=sys.stderr)
        ok = False
    print(f"{'ok' if ok else 'FAILED'}  {path}  {time.monotonic() - started:.1f} s")
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        saved = output_dir / path.name
        nbformat.write(notebook, saved)
        # Failed or not, the executed copy holds every output up to the error.
        print(f"      executed copy: {saved.resolve()}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, default=None, help="save executed copies here")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args()
    results = [run(nb, args.output_dir, args.timeout) for nb in args.notebooks]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
