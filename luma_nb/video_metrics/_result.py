"""What a measurement gives back: :class:`VideoMetrics`, :class:`Filmstrip`, and the error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from luma_nb.errors import LumaError

__all__ = ["COLUMNS", "Filmstrip", "VideoDecodeError", "VideoMetrics"]

#: The columns :meth:`VideoMetrics.as_columns` fills, in this order: the metrics, then the
#: technical facts (the session log's and a study's tidy DataFrame's names).
COLUMNS: tuple[str, ...] = (
    "metric_motion",
    "metric_flicker",
    "metric_sharpness",
    "metric_brightness",
    "metric_contrast",
    "metric_colorfulness",
    "metric_loop_seam",
    "metric_start_match",
    "metric_end_match",
    "metric_cuts",
    "duration",
    "fps",
    "frames",
    "width",
    "height",
    "bitrate",
)

#: The columns that hold whole numbers (the others are floats); every column may be ``None``.
WHOLE_COLUMNS = frozenset({"metric_cuts", "frames", "width", "height", "bitrate"})


class VideoDecodeError(LumaError):
    """A local file is not a video PyAV can decode: not a video, damaged or cut short.

    Attributes
    ----------
    path : str
        The file, as given.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Filmstrip:
    """A strip of evenly spaced frames of a video, one JPEG image side by side.

    Attributes
    ----------
    path : Path
        The JPEG, inside the media cache (``<cache>/filmstrips/``), so a page may embed it.
    width, height : int
        The whole image's size in pixels.
    frame_width, frame_height : int
        The size of each frame in it (frames are separated by :attr:`gap` pixels).
    indices : tuple of int
        Which frames (0 = the first), left to right.
    times : tuple of float
        Their presentation times in seconds.
    gap : int
        Pixels of black between neighbouring frames.
    """

    path: Path
    width: int
    height: int
    frame_width: int
    frame_height: int
    indices: tuple[int, ...]
    times: tuple[float, ...]
    gap: int = 2


@dataclass(frozen=True)
class VideoMetrics:
    """Objective measures of one video file (``docs/metrics.md`` defines each).

    Pixel values are 8-bit levels, 0 to 255. A measure that a clip too short cannot define is
    ``None``: with no frame, every measure but the technical facts; with one frame, the
    measures between frames (motion, flicker, loop seam, cuts); with two, flicker and the loop
    seam. ``start_match``/``end_match`` are ``None`` unless the image was given.

    Attributes
    ----------
    duration : float or None
        Seconds, from the stream's header (else the container's, else frames / fps).
    fps : float or None
        Frames per second (the stream's average rate).
    frames : int
        Frames decoded.
    width, height : int or None
        The coded picture size in pixels (``None`` when the stream does not say).
    bitrate : int or None
        The video stream's bits per second (else the whole file's size over its duration).
    motion : float or None
        Mean absolute luma change between consecutive frames (0..255).
    flicker : float or None
        Mean change of a frame's mean luma beyond the local trend (0..255).
    sharpness : float or None
        Variance of the Laplacian of the native-resolution luma, averaged over up to 12
        evenly spaced frames (0 = flat; grows with edges and noise).
    brightness : float or None
        Mean luma (0..255), averaged over frames.
    contrast : float or None
        RMS contrast: the standard deviation of luma (0..127.5), averaged over frames.
    colorfulness : float or None
        Hasler and Süsstrunk's colourfulness (0 for grey; ~109 is "extremely colourful").
    loop_seam : float or None
        Distance from the last frame to the first in typical steps (~1 or less: seamless).
    start_match, end_match : float or None
        SSIM (-1..1) of the first / last frame with the start / end image.
    cuts : int or None
        Scene cuts: steps of at least 30 levels and 3 times the median step.
    cut_frames : tuple of int
        The frame that begins each cut.
    filmstrip : Filmstrip or None
        The strip made in the same pass, when one was asked for.
    """

    duration: float | None
    fps: float | None
    frames: int
    width: int | None
    height: int | None
    bitrate: int | None
    motion: float | None = None
    flicker: float | None = None
    sharpness: float | None = None
    brightness: float | None = None
    contrast: float | None = None
    colorfulness: float | None = None
    loop_seam: float | None = None
    start_match: float | None = None
    end_match: float | None = None
    cuts: int | None = None
    cut_frames: tuple[int, ...] = ()
    filmstrip: Filmstrip | None = None

    def as_columns(self) -> dict[str, float | int | None]:
        """The measures under their column names (:data:`COLUMNS`), in that order.

        The keys of the session log's ``metrics`` event and of a study's tidy DataFrame:
        ``metric_<name>`` for each measure, then ``duration``, ``fps``, ``frames``,
        ``width``, ``height``, ``bitrate``.
        """
        return {column: getattr(self, column.removeprefix("metric_")) for column in COLUMNS}
