"""Synthetic video clips for the metrics and filmstrip tests, written with PyAV from numpy."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from luma_nb.simulator._media import ClipSpec, render_clip


def write_clip(
    path: Path, frames: Iterable[np.ndarray], *, fps: int = 12, lossless: bool = True
) -> Path:
    """Encode ``(h, w, 3)`` uint8 R'G'B' frames as an H.264 MP4 (luma lossless by default)."""
    import av

    options = {"preset": "ultrafast", "qp": "0"} if lossless else {"preset": "veryfast"}
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = None
        for pixels in frames:
            if stream is None:
                stream = out.add_stream("libx264", rate=fps, options=options)
                stream.height, stream.width = pixels.shape[:2]
                stream.pix_fmt = "yuv420p"
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        if stream is not None:
            out.mux(stream.encode(None))
    return path


def video_without_frames(path: Path) -> Path:
    """A Matroska file whose video stream has no frame (an audio stream keeps it non-empty).

    MP4 cannot hold one: FFmpeg drops a track without samples, so it reads as no video.
    """
    import av

    with av.open(str(path), mode="w", format="matroska") as out:
        video = out.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        write_silence(out)
        out.mux(video.encode(None))
    return path


def write_silence(out: object, seconds: float = 0.5) -> None:
    """Add an AAC stream of silence to an open output container."""
    import av

    stream = out.add_stream("aac", rate=8000)  # type: ignore[attr-defined]
    for _ in range(max(1, round(seconds * 8000 / 1024))):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))  # type: ignore[attr-defined]
    out.mux(stream.encode(None))  # type: ignore[attr-defined]


def grey(level: float, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """A uniform grey frame of ``size`` (width, height)."""
    width, height = size
    return np.full((height, width, 3), round(level), dtype=np.uint8)


def stripes(offset: int, size: tuple[int, int] = (64, 48), period: int = 16) -> np.ndarray:
    """Vertical black and white stripes shifted by ``offset`` pixels (mean brightness constant)."""
    width, height = size
    columns = (np.arange(width) + offset) % period < period // 2
    row = np.where(columns, 220, 30).astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], height, axis=0), 3, axis=2)


def texture_png(seed: int, size: tuple[int, int] = (640, 360)) -> bytes:
    """A smooth random colour texture (structure for SSIM to find), as PNG bytes."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = (rng.random((9, 16, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def simulator_clip(path: Path, spec: ClipSpec) -> Path:
    """The simulator's clip for ``spec``, written to ``path``."""
    clip = render_clip(spec)
    assert clip.rendered, "the render extra is needed for real clips"
    path.write_bytes(clip.mp4)
    return path
