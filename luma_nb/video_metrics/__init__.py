"""Objective measures of a video file, and filmstrips of it: one decoding pass, all local.

>>> from luma_nb.video_metrics import measure_video, make_filmstrip  # doctest: +SKIP
>>> m = measure_video("clip.mp4", start_image="first.png", filmstrip=True)  # doctest: +SKIP
>>> m.motion, m.loop_seam, m.start_match  # doctest: +SKIP
>>> m.as_columns()  # {"metric_motion": ..., ..., "bitrate": ...}  # doctest: +SKIP
>>> log.metrics(iteration, m)  # into the session log's row  # doctest: +SKIP
>>> make_filmstrip("clip.mp4").path  # <cache>/filmstrips/<sha256>-6x120.jpg  # doctest: +SKIP

PyAV decodes the file once; numpy computes every measure as the frames stream by (bounded
memory); Pillow reads keyframe images and writes filmstrips. All three come with the
``research`` extra and load only when a function is called: without them a
:class:`~luma_nb.errors.ConfigError` names the extra. No model weights, no network. Each
measure's definition, formula and range: ``docs/metrics.md``.
"""

from __future__ import annotations

import os

from luma_nb.video_metrics._filmstrip import (
    FILMSTRIP_FRAMES,
    FILMSTRIP_HEIGHT,
    check_strip,
    file_digest,
    load_strip,
    save_strip,
    strip_folder,
)
from luma_nb.video_metrics._measure import check_path, decode_pass, modules
from luma_nb.video_metrics._result import (
    COLUMNS,
    WHOLE_COLUMNS,
    Filmstrip,
    VideoDecodeError,
    VideoMetrics,
)

__all__ = [
    "COLUMNS",
    "FILMSTRIP_FRAMES",
    "FILMSTRIP_HEIGHT",
    "WHOLE_COLUMNS",
    "Filmstrip",
    "VideoDecodeError",
    "VideoMetrics",
    "make_filmstrip",
    "measure_video",
]

ImageSource = bytes | str | os.PathLike[str] | None
"""A keyframe image: its bytes (JPEG, PNG, WebP...) or a file path."""


def measure_video(
    path: str | os.PathLike[str],
    *,
    start_image: ImageSource = None,
    end_image: ImageSource = None,
    filmstrip: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> VideoMetrics:
    """Measure a local video file in one decoding pass.

    Parameters
    ----------
    path : str or PathLike
        An MP4 (or any video PyAV decodes), e.g. a file of the media cache.
    start_image, end_image : bytes or path, optional
        The keyframes sent as ``start_image_url`` / ``end_image_url``: the first / last
        frame is compared with them (``start_match`` / ``end_match``, SSIM).
    filmstrip : bool
        Also make the :func:`make_filmstrip` strip (6 frames, 120 px tall) in the same pass,
        or take it from the cache; it is the result's ``filmstrip``.
    cache_dir : str or PathLike, optional
        The media cache whose ``filmstrips/`` folder holds strips (default: the usual one).

    Returns
    -------
    VideoMetrics
        Every measure, ``None`` where the clip is too short to define it.

    Raises
    ------
    VideoDecodeError
        Not a video, no video stream, damaged or cut short.
    ValidationError
        ``path`` is not a file, or a keyframe image cannot be decoded.
    ConfigError
        PyAV, numpy or Pillow is missing (the ``research`` extra).
    OSError
        The filmstrip cannot be written to the cache folder.
    """
    file = check_path(path)
    modules()
    strip: Filmstrip | None = None
    folder = digest = None
    if filmstrip:
        folder, digest = strip_folder(cache_dir), file_digest(file)
        strip = load_strip(folder, digest, FILMSTRIP_FRAMES, FILMSTRIP_HEIGHT)
    wanted = FILMSTRIP_FRAMES if filmstrip and strip is None else 0
    decoded = decode_pass(
        file,
        start_image=start_image,
        end_image=end_image,
        strip_frames=wanted,
        strip_height=FILMSTRIP_HEIGHT,
    )
    if wanted and folder is not None and digest is not None:
        strip = save_strip(folder, digest, wanted, FILMSTRIP_HEIGHT, decoded.thumbnails)
    if strip is None:
        return decoded.metrics
    from dataclasses import replace

    return replace(decoded.metrics, filmstrip=strip)


def make_filmstrip(
    path: str | os.PathLike[str],
    *,
    frames: int = FILMSTRIP_FRAMES,
    height: int = FILMSTRIP_HEIGHT,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Filmstrip | None:
    """A strip of ``frames`` evenly spaced frames of a video, made once and cached.

    The first and the last frame are always in it (one frame: the middle one). Frames keep
    the video's aspect ratio at ``height`` pixels, separated by 2 black pixels, in one JPEG
    under ``<cache>/filmstrips/`` named by the SHA-256 of the video's bytes, so a second call
    for the same content (a copy included) decodes nothing. Render it in a card with
    :func:`luma_nb.render.filmstrip.filmstrip_part`.

    Parameters
    ----------
    path : str or PathLike
        The video file.
    frames : int
        How many frames (1 to 32); a clip with fewer frames gives them all.
    height : int
        Pixel height of the strip (16 to 1080).
    cache_dir : str or PathLike, optional
        The media cache to keep it in (default: the usual one).

    Returns
    -------
    Filmstrip or None
        ``None`` for a video with no frame at all.

    Raises
    ------
    VideoDecodeError, ValidationError, ConfigError
        As :func:`measure_video`.
    """
    file = check_path(path)
    count, pixels = check_strip(frames, height)
    modules()
    folder, digest = strip_folder(cache_dir), file_digest(file)
    cached = load_strip(folder, digest, count, pixels)
    if cached is not None:
        return cached
    decoded = decode_pass(file, strip_frames=count, strip_height=pixels)
    return save_strip(folder, digest, count, pixels, decoded.thumbnails)
