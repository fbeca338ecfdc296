"""Encoding the simulator's frames: H.264 in MP4 with PyAV, and the JPEG thumbnail.

Split from :mod:`._media`. PyAV and Pillow are imported inside the functions only.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ._drawing import stamp

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["FPS", "encode"]

FPS = 12
"""Frame rate of every clip: low, since the frames are cheap slides and small files matter."""

# x264 "veryfast" at CRF 28: ~28 KB and ~0.2 s for 5 s here, where "ultrafast" gives ~80 KB
# and "faster" is slower yet no smaller. (The encoder also runs on one thread, see _write_mp4.)
_X264_OPTIONS = {"preset": "veryfast", "crf": "28"}
_JPEG_QUALITY = 82


def encode(frames: Iterable[PIL.Image.Image], size: tuple[int, int]) -> tuple[bytes, bytes, int]:
    """Encode the frames; return the MP4 bytes, the first frame as JPEG, and the frame count."""
    # The muxer's faststart pass rewrites the file to move the index (moov) to the front, so
    # browsers can play before the end has arrived; that needs a real, seekable file.
    handle, name = tempfile.mkstemp(prefix="luma_nb-", suffix=".mp4")
    os.close(handle)
    path = Path(name)
    try:
        thumbnail, count = _write_mp4(path, frames, size)
        return path.read_bytes(), thumbnail, count
    finally:
        path.unlink(missing_ok=True)


def _write_mp4(
    path: Path, frames: Iterable[PIL.Image.Image], size: tuple[int, int]
) -> tuple[bytes, int]:
    import av
    from av.video.reformatter import (
        ColorPrimaries,
        ColorRange,
        Colorspace,
        ColorTrc,
        VideoReformatter,
    )

    thumbnail = b""
    count = 0
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=FPS, options=dict(_X264_OPTIONS))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        # One thread: byte-identical output for a spec, and the other core stays free.
        stream.thread_count = 1
        # Tag BT.709 explicitly: untagged video leaves players guessing, and they differ.
        context = stream.codec_context
        context.colorspace = 1  # AVCOL_SPC_BT709
        context.color_primaries = ColorPrimaries.BT709
        context.color_trc = ColorTrc.BT709
        context.color_range = ColorRange.MPEG
        reformatter = VideoReformatter()  # reused: it caches the conversion context
        for image in frames:
            stamped = stamp(image)
            if count == 0:
                thumbnail = _jpeg(stamped)
            # from_image has no annotation in PyAV's stubs; from_bytes takes no rgb24.
            rgb = av.VideoFrame.from_image(stamped)  # type: ignore[no-untyped-call]
            frame = reformatter.reformat(
                rgb,
                format="yuv420p",
                dst_colorspace=Colorspace.ITU709,
                dst_color_range=ColorRange.MPEG,
            )
            frame.pts = count
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode(None))
    return thumbnail, count


def _jpeg(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return buffer.getvalue()
