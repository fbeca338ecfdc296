"""Bench the video metrics: one pass of ``measure_video`` against PyAV decoding the clip alone.

Run: ``python bench/bench_metrics.py [--rounds 7]``. The clip is made here with PyAV, nothing
is downloaded: 5 s at the service's 1360x752 and 24 fps, H.264 (libx264, CRF 23), moving
colour gradients over a drifting grain texture, about 3 Mbit/s like the service's files. The
simulator's own 384x216 clip is measured too. Each variant runs once per round, alternating
with the others, and the table gives medians of wall-clock and CPU time (CPU time is the
steadier figure on a shared machine).

The baseline is the faster of two plain decodes of the same file: PyAV's defaults and PyAV
with frame threads (``thread_type="AUTO"``, which ``measure_video`` uses). The goal: every
variant of the measurement (with keyframe images, with a filmstrip made) takes at most 1.5
times the decode, in wall-clock and in CPU time.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _bench import goal, machine, table  # noqa: E402

from luma_nb.video_metrics import measure_video  # noqa: E402

GOAL = 1.5
WIDTH, HEIGHT, FPS, SECONDS = 1360, 752, 24, 5


def make_clip(path: Path) -> None:
    """The service-sized test clip: gradients that move, over grain that drifts."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    grain = (rng.random((HEIGHT * 2, WIDTH * 2)) * 60).astype(np.float32)
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(FPS * SECONDS):
            t = index / FPS
            shift_x, shift_y = int(t * 40), int(t * 25)
            texture = grain[shift_y : shift_y + HEIGHT, shift_x : shift_x + WIDTH]
            channels = [
                100 + 90 * np.sin(cols / 90 + t * 2),
                100 + 90 * np.sin(rows / 70 - t * 1.3),
                100 + 90 * np.sin((cols + rows) / 150 + t),
            ]
            rgb = np.dstack([np.clip(c + texture, 0, 255).astype(np.uint8) for c in channels])
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def simulator_clip(path: Path) -> None:
    from luma_nb.simulator._media import ClipSpec, render_clip

    path.write_bytes(render_clip(ClipSpec("a paper boat drifts down a rainy street")).mp4)


def keyframe_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize((640, 360)).save(buffer, format="PNG")
    return buffer.getvalue()


def decoder(path: Path, thread_type: str | None) -> Callable[[], object]:
    def decode() -> int:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if thread_type:
                stream.thread_type = thread_type
            return sum(1 for _ in container.decode(stream))

    return decode


def variants(path: Path, cache: Path) -> dict[str, Callable[[], object]]:
    image = keyframe_png()

    def with_strip() -> object:
        shutil.rmtree(cache, ignore_errors=True)  # a fresh strip every time: no cache hit
        return measure_video(path, filmstrip=True, cache_dir=cache)

    return {
        "decode (PyAV defaults)": decoder(path, None),
        "decode (frame threads)": decoder(path, "AUTO"),
        "measure_video": lambda: measure_video(path),
        "  + start/end images": lambda: measure_video(path, start_image=image, end_image=image),
        "  + filmstrip (made)": with_strip,
    }


def run(path: Path, cache: Path, rounds: int) -> list[tuple[str, float, float, str, str]]:
    chosen = variants(path, cache)
    for function in chosen.values():  # warm-up: imports, the file in the page cache
        function()
    wall: dict[str, list[float]] = {name: [] for name in chosen}
    cpu: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(rounds):
        for name, function in chosen.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            function()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
    medians = {
        name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in chosen
    }
    decodes = [name for name in chosen if name.startswith("decode")]
    base_wall = min(medians[name][0] for name in decodes)
    base_cpu = min(medians[name][1] for name in decodes)
    return [
        (name, w * 1000, c * 1000, f"{w / base_wall:.2f}x", f"{c / base_cpu:.2f}x")
        for name, (w, c) in medians.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed runs of each variant")
    args = parser.parse_args()
    print(machine())
    folder = Path(tempfile.mkdtemp(prefix="luma_nb-bench-metrics-"))
    try:
        service, simulator = folder / "service.mp4", folder / "simulator.mp4"
        make_clip(service)
        simulator_clip(simulator)
        headers = ["variant", "wall ms", "cpu ms", "wall ratio", "cpu ratio"]
        worst_wall = worst_cpu = 0.0
        for label, path in (
            (f"{WIDTH}x{HEIGHT} {FPS} fps {SECONDS} s H.264, {path_size(service)}", service),
            (f"simulator 384x216 12 fps 5 s, {path_size(simulator)}", simulator),
        ):
            rows = run(path, folder / "cache", args.rounds)
            print()
            print(table(headers, rows, title=f"{label}; ratios against the faster decode"))
            if path is service:
                measured = [row for row in rows if not row[0].startswith("decode")]
                worst_wall = max(float(row[3].rstrip("x")) for row in measured)
                worst_cpu = max(float(row[4].rstrip("x")) for row in measured)
        print()
        print(
            f"goal: metrics (+ keyframes, + filmstrip) <= {GOAL}x the decode at the service's "
            f"size: worst {worst_wall:.2f}x wall, {worst_cpu:.2f}x CPU "
            f"{goal(max(worst_wall, worst_cpu) <= GOAL)}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def path_size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


if __name__ == "__main__":
    sys.exit(main())
