"""One decoding pass over a video: every metric, and the filmstrip's frames, as frames stream by.

PyAV decodes each frame once. FFmpeg scales every frame's luma (with its area filter, to full
range) to a small *analysis* image, at most :data:`ANALYSIS_SIDE` pixels on its longer side,
from which the luma measures and the comparisons between frames are taken. A dozen evenly
spaced frames (:data:`SAMPLED_FRAMES`) also give the colourfulness (from an R'G'B' image of
the same size) and the
sharpness (from their native luma plane, read in place). The filmstrip's frames are scaled to
their own size. Memory stays bounded: two analysis images (the first and the previous), the
filmstrip's thumbnails and a few numbers per frame (its mean luma and its step) are all that
is kept.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb.errors import ConfigError, ValidationError
from luma_nb.video_metrics import _formulas as formulas
from luma_nb.video_metrics._result import VideoDecodeError, VideoMetrics

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "ANALYSIS_SIDE",
    "SAMPLED_FRAMES",
    "Decoded",
    "check_path",
    "decode_pass",
    "modules",
]

#: The longer side, in pixels, of the images most measures are taken from (never upscaled).
ANALYSIS_SIDE = 256
#: At most about this many evenly spaced frames give the sharpness (read at native resolution)
#: and the colourfulness: both change slowly within a clip, and a dozen frames keep the pass
#: within 1.5 times the decoding time (``bench/bench_metrics.py``).
SAMPLED_FRAMES = 12
# Formats whose first plane is 8-bit luma: read in place, no conversion.
_PLANAR_8BIT = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}
)
_LIMITED_TO_FULL = 255 / 219
_AVCOL_RANGE_JPEG = 2


@dataclass
class Decoded:
    """What the pass gives back: the metrics, and the filmstrip's frames when asked."""

    metrics: VideoMetrics
    thumbnails: list[tuple[int, float, Any]] = field(default_factory=list)


def modules() -> tuple[Any, Any, Any]:
    """PyAV, numpy and Pillow, or a ConfigError naming the extra that brings them."""
    try:
        import av
        import numpy
        import PIL.Image
    except ImportError as exc:
        raise ConfigError(
            "video metrics and filmstrips need PyAV, numpy and Pillow: "
            'pip install "luma_nb[research]"'
        ) from exc
    return av, numpy, PIL.Image


def check_path(path: object) -> Path:
    """``path`` as a Path to an existing regular file, else a ValidationError."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError(f"path must be a file path, not {type(path).__name__}", field="path")
    file = Path(path)
    if not file.is_file():
        raise ValidationError(f"no video file at {os.fspath(file)!r}", field="path")
    return file


def decode_pass(
    path: Path,
    *,
    start_image: object = None,
    end_image: object = None,
    strip_frames: int = 0,
    strip_height: int = 0,
) -> Decoded:
    """Decode ``path`` once; measure everything and keep the filmstrip's thumbnails.

    Raises
    ------
    VideoDecodeError
        The file is not a video, has no video stream, or cannot be decoded to its end.
    ValidationError
        A keyframe image cannot be decoded.
    """
    av, _, _ = modules()
    label = path.name
    try:
        container = av.open(os.fspath(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise VideoDecodeError(
            f"{label} is not a video file ({_why(exc)})", path=str(path)
        ) from exc
    with container:
        format_name = str(getattr(container.format, "name", ""))
        if "_pipe" in format_name or format_name == "image2":
            raise VideoDecodeError(f"{label} is an image, not a video", path=str(path))
        if not container.streams.video:
            raise VideoDecodeError(f"{label} has no video stream", path=str(path))
        stream = container.streams.video[0]
        # Frame threads: FFmpeg decodes the next frames while this thread measures the last.
        stream.thread_type = "AUTO"
        width = int(stream.codec_context.width or 0)
        height = int(stream.codec_context.height or 0)
        scan = _Scan(width, height, _expected_frames(stream, container), strip_frames, strip_height)
        scan.keyframes(start_image, end_image)
        packets = 0
        try:
            for packet in container.demux(stream):
                if packet.size:  # the last packet, empty, flushes the decoder
                    packets += 1
                    if packet.is_corrupt:
                        raise VideoDecodeError(
                            f"{label} is damaged or cut short after {scan.count} frame(s)",
                            path=str(path),
                        )
                for frame in packet.decode():
                    scan.add(frame)
        except av.FFmpegError as exc:
            raise VideoDecodeError(
                f"{label} is damaged or cut short: decoding stopped after {scan.count} "
                f"frame(s) ({_why(exc)})",
                path=str(path),
            ) from exc
        # Frame threads swallow a truncated file's errors: the count of frames the index
        # announces and the data found for them must agree.
        if stream.frames and packets < stream.frames:
            raise VideoDecodeError(
                f"{label} is cut short: it holds {packets} of its {stream.frames} frames",
                path=str(path),
            )
        return scan.finish(stream, container, path)


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)[:200]


def _expected_frames(stream: Any, container: Any) -> int:
    """The container's frame count, else duration x rate (for planning; may be off)."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    seconds = _duration(stream, container, 0, None)
    if seconds and rate:
        return max(1, round(seconds * float(rate)))
    return 0


class _Scan:
    """The running sums of one pass; :meth:`add` each frame, then :meth:`finish`."""

    def __init__(
        self, width: int, height: int, expected: int, strip_frames: int, strip_height: int
    ) -> None:
        self.width, self.height = width, height
        self.size = _analysis_size(width, height)
        self.count = 0
        self.means: list[float] = []
        self.steps: list[float] = []
        self.contrast = 0.0
        self.colour: list[float] = []
        self.sharpness: list[float] = []
        self.sample_every = max(1, math.ceil(expected / SAMPLED_FRAMES)) if expected else 1
        self.first: NDArray[np.float32] | None = None
        self.previous: NDArray[np.float32] | None = None
        self.start: NDArray[np.float32] | None = None
        self.end: NDArray[np.float32] | None = None
        self.strip_at = frozenset(formulas.spread(expected, strip_frames))
        self.strip_wanted = strip_frames
        self.strip_size = _strip_size(width, height, strip_height) if strip_frames else (0, 0)
        self.thumbnails: list[tuple[int, float, Any]] = []
        self.last_frame: Any = None
        from av.video.reformatter import VideoReformatter

        # One scaler per output size and format: each keeps its FFmpeg context (filters are
        # computed once per clip, not once per frame, which costs more than the scaling).
        self.scalers = {name: VideoReformatter() for name in ("gray", "rgb24", "strip")}

    def keyframes(self, start_image: object, end_image: object) -> None:
        self.start = _keyframe_luma(start_image, self.size, "start_image")
        self.end = _keyframe_luma(end_image, self.size, "end_image")

    def add(self, frame: Any) -> None:
        index = self.count
        # FFmpeg's own luma, scaled to full range: the picture's Y' as coded, not a
        # recomputation from R'G'B' (which clips saturated colours).
        grey = self._scaled(frame, "gray", self.size, "gray")
        y = grey.astype("float32")
        self.means.append(float(y.mean(dtype="float64")))
        self.contrast += float(y.std(dtype="float64"))
        if self.previous is None:
            self.first = y
        else:
            self.steps.append(formulas.mean_abs_diff(y, self.previous))
        self.previous = y
        if index % self.sample_every == 0:
            rgb = self._scaled(frame, "rgb24", self.size, "rgb24")
            self.colour.append(formulas.colorfulness(rgb))
            value = _frame_sharpness(frame)
            if value is not None:
                self.sharpness.append(value)
        if index in self.strip_at:
            self.thumbnails.append((index, _frame_time(frame, index), self._thumbnail(frame)))
        if self.strip_wanted:
            self.last_frame = frame  # a reference only: the strip must end on the last frame
        self.count += 1

    def _scaled(self, frame: Any, scaler: str, size: tuple[int, int], format: str) -> Any:
        scaled = self.scalers[scaler].reformat(
            frame, width=size[0], height=size[1], format=format, interpolation="AREA"
        )
        return scaled.to_ndarray()

    def _thumbnail(self, frame: Any) -> Any:
        return self._scaled(frame, "strip", self.strip_size, "rgb24")

    def finish(self, stream: Any, container: Any, path: Path) -> Decoded:
        count = self.count
        fps = _rate(stream)
        duration = _duration(stream, container, count, fps)
        measured: dict[str, Any] = {}
        if count:
            measured = {
                "brightness": sum(self.means) / count,
                "contrast": self.contrast / count,
                "colorfulness": _mean(self.colour),
                "sharpness": _mean(self.sharpness),
            }
        if self.steps:
            cuts = formulas.cut_frames(self.steps)
            measured.update(
                motion=sum(self.steps) / len(self.steps),
                flicker=formulas.flicker(self.means),
                cuts=len(cuts),
                cut_frames=cuts,
            )
        if self.first is not None and self.previous is not None:
            measured["loop_seam"] = formulas.loop_seam(self.first, self.previous, self.steps)
            if self.start is not None:
                measured["start_match"] = formulas.ssim(self.first, self.start)
            if self.end is not None:
                measured["end_match"] = formulas.ssim(self.previous, self.end)
        metrics = VideoMetrics(
            duration=duration,
            fps=fps,
            frames=count,
            width=self.width or None,
            height=self.height or None,
            bitrate=_bitrate(stream, container, path, duration),
            **measured,
        )
        return Decoded(metrics, self._strip_frames())

    def _strip_frames(self) -> list[tuple[int, float, Any]]:
        """The thumbnails, ending on the last frame even when the header's count was off."""
        thumbnails, last_frame = self.thumbnails, self.last_frame
        self.last_frame = None
        last = self.count - 1
        if last_frame is None or (thumbnails and thumbnails[-1][0] == last):
            return thumbnails
        if self.strip_wanted == 1 and thumbnails:
            return thumbnails  # one frame: the middle one, wherever the end is
        entry = (last, _frame_time(last_frame, last), self._thumbnail(last_frame))
        if len(thumbnails) >= self.strip_wanted:
            thumbnails[-1] = entry  # more frames than announced: the last slot moves to the end
        else:
            thumbnails.append(entry)  # fewer: the slots past the end were never filled
        return thumbnails


# ----------------------------------------------------------------------------- helpers


def _analysis_size(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        return (ANALYSIS_SIDE, ANALYSIS_SIDE)
    scale = min(1.0, ANALYSIS_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _strip_size(width: int, height: int, strip_height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        return (strip_height, strip_height)
    return max(1, round(width * strip_height / height)), strip_height


def _frame_sharpness(frame: Any) -> float | None:
    import numpy as np

    name = frame.format.name
    if name in _PLANAR_8BIT:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8)
        pitch = plane.line_size
        luma = rows[: pitch * plane.height].reshape(plane.height, pitch)[:, : plane.width]
        full = name.startswith("yuvj") or name == "gray" or frame.color_range == _AVCOL_RANGE_JPEG
        return formulas.laplacian_variance(luma, 1.0 if full else _LIMITED_TO_FULL)
    # Other formats (10-bit, RGB...): FFmpeg converts to full-range 8-bit grey first.
    return formulas.laplacian_variance(frame.to_ndarray(format="gray"))


def _frame_time(frame: Any, index: int) -> float:
    time = frame.time
    return round(float(time), 3) if time is not None else float(index)


def _rate(stream: Any) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _duration(stream: Any, container: Any, count: int, fps: float | None) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000
    if count and fps:
        return count / fps
    return None


def _bitrate(stream: Any, container: Any, path: Path, duration: float | None) -> int | None:
    if stream.bit_rate:
        return int(stream.bit_rate)
    if container.bit_rate:
        return int(container.bit_rate)
    if duration:
        return round(path.stat().st_size * 8 / duration)
    return None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _keyframe_luma(image: object, size: tuple[int, int], name: str) -> NDArray[np.float32] | None:
    """The image's luma at the analysis size: cover-fitted (centre crop) as a player would."""
    if image is None:
        return None
    from PIL import Image, ImageOps

    if isinstance(image, (bytes, bytearray, memoryview)):
        source: Any = io.BytesIO(bytes(image))
    elif isinstance(image, (str, os.PathLike)):
        source = os.fspath(image)
    else:
        raise ValidationError(
            f"{name} must be image bytes or a file path, not {type(image).__name__}", field=name
        )
    try:
        with Image.open(source) as opened:
            opened.draft("RGB", size)  # JPEG: decode at a reduced scale that still covers it
            upright = ImageOps.exif_transpose(opened)
            flat = _flatten(upright)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(f"{name} is not a decodable image: {exc}", field=name) from exc
    import numpy as np

    fitted = ImageOps.fit(flat, size, Image.Resampling.BOX)
    return formulas.luma(np.asarray(fitted, dtype=np.uint8))


def _flatten(image: Any) -> Any:
    """R'G'B', any transparency composed over black (as the simulator and a player show it)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (0, 0, 0))
        flat.paste(rgba, (0, 0), rgba)
        return flat
    return image.convert("RGB")
