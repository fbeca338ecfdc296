"""Filmstrips: composing the thumbnails into one JPEG, and caching it beside the media cache.

A strip is made once per file content and size: ``<cache>/filmstrips/<sha256 of the video>-
<frames>x<height>.jpg``, with a small JSON sidecar holding the frames' indices and times. The
cache folder is a :class:`~luma_nb._media_cache.MediaCache` root, so the pages luma_nb writes
may embed the strip (:func:`luma_nb._media_policy.read_media` reads only cached files). Both
files are written to a temporary name and renamed, so a reader never sees half of one, and
two processes making the same strip write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from luma_nb._media_cache import MediaCache
from luma_nb.errors import ValidationError
from luma_nb.video_metrics._result import Filmstrip

__all__ = [
    "FILMSTRIP_FRAMES",
    "FILMSTRIP_HEIGHT",
    "GAP",
    "check_strip",
    "file_digest",
    "load_strip",
    "save_strip",
    "strip_folder",
]

#: Frames in a filmstrip unless asked otherwise.
FILMSTRIP_FRAMES = 6
#: Height in pixels of a filmstrip (and of each of its frames) unless asked otherwise.
FILMSTRIP_HEIGHT = 120
#: Black pixels between neighbouring frames.
GAP = 2
_MAX_FRAMES = 32
_HEIGHTS = (16, 1080)
_JPEG_QUALITY = 80
_SIDECAR_VERSION = 1


def check_strip(frames: object, height: object) -> tuple[int, int]:
    """The frame count (1..32) and height (16..1080 px), else a ValidationError."""
    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= _MAX_FRAMES:
        raise ValidationError(
            f"frames must be a whole number 1 to {_MAX_FRAMES}, not {frames!r}", field="frames"
        )
    low, high = _HEIGHTS
    if isinstance(height, bool) or not isinstance(height, int) or not low <= height <= high:
        raise ValidationError(
            f"height must be a whole number of pixels {low} to {high}, not {height!r}",
            field="height",
        )
    return frames, height


def strip_folder(cache_dir: str | os.PathLike[str] | None) -> Path:
    """``<cache>/filmstrips`` of the media cache at ``cache_dir`` (default: the usual one)."""
    root = Path(cache_dir) if cache_dir is not None else None
    return MediaCache(root).root / "filmstrips"


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes (the strip's cache key: a renamed copy shares it)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _names(folder: Path, digest: str, frames: int, height: int) -> tuple[Path, Path]:
    stem = f"{digest}-{frames}x{height}"
    return folder / f"{stem}.jpg", folder / f"{stem}.json"


def load_strip(folder: Path, digest: str, frames: int, height: int) -> Filmstrip | None:
    """The cached strip, or None when it is missing, damaged or was hand-edited."""
    image, sidecar = _names(folder, digest, frames, height)
    try:
        facts = json.loads(sidecar.read_text(encoding="utf-8"))
        with image.open("rb") as handle:
            if handle.read(3) != b"\xff\xd8\xff":
                return None
    except (OSError, ValueError):
        return None
    if not isinstance(facts, dict) or facts.get("v") != _SIDECAR_VERSION:
        return None
    sizes = [facts.get(key) for key in ("width", "height", "frame_width", "frame_height", "gap")]
    indices, times = facts.get("indices"), facts.get("times")
    whole = [value for value in sizes if type(value) is int and value >= 0]
    if not (
        len(whole) == len(sizes)
        and isinstance(indices, list)
        and isinstance(times, list)
        and len(indices) == len(times)
        and all(type(index) is int for index in indices)
        and all(type(time) in (int, float) for time in times)
    ):
        return None
    width, total_height, frame_width, frame_height, gap = whole
    return Filmstrip(
        path=image,
        width=width,
        height=total_height,
        frame_width=frame_width,
        frame_height=frame_height,
        indices=tuple(indices),
        times=tuple(float(time) for time in times),
        gap=gap,
    )


def save_strip(
    folder: Path,
    digest: str,
    frames: int,
    height: int,
    thumbnails: Sequence[tuple[int, float, Any]],
) -> Filmstrip | None:
    """Compose the thumbnails side by side into the cached JPEG (None for a clip with none)."""
    if not thumbnails:
        return None
    import numpy as np
    from PIL import Image

    frame_height, frame_width = thumbnails[0][2].shape[:2]
    count = len(thumbnails)
    width = count * frame_width + (count - 1) * GAP
    canvas = np.zeros((frame_height, width, 3), dtype=np.uint8)
    for slot, (_, _, pixels) in enumerate(thumbnails):
        left = slot * (frame_width + GAP)
        canvas[:, left : left + frame_width] = pixels[:frame_height, :frame_width]
    image, sidecar = _names(folder, digest, frames, height)
    folder.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(canvas, mode="RGB")
    _write_atomic(image, lambda handle: picture.save(handle, format="JPEG", quality=_JPEG_QUALITY))
    strip = Filmstrip(
        path=image,
        width=width,
        height=frame_height,
        frame_width=frame_width,
        frame_height=frame_height,
        indices=tuple(index for index, _, _ in thumbnails),
        times=tuple(time for _, time, _ in thumbnails),
        gap=GAP,
    )
    facts = {
        "v": _SIDECAR_VERSION,
        "width": strip.width,
        "height": strip.height,
        "frame_width": strip.frame_width,
        "frame_height": strip.frame_height,
        "gap": strip.gap,
        "indices": list(strip.indices),
        "times": list(strip.times),
    }
    text = json.dumps(facts).encode("utf-8")
    _write_atomic(sidecar, lambda handle: handle.write(text))
    return strip


def _write_atomic(target: Path, write: Any) -> None:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        dir=target.parent, prefix=".part-", delete=False
    )
    try:
        with handle:
            write(handle)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
