"""What a keyframe's bytes say: JPEG, PNG or WebP, and its size as displayed.

Sans-I/O and dependency-free: :func:`parse_header` reads the size from the file's header (the
JPEG frame header with its EXIF orientation, PNG's ``IHDR``, WebP's ``VP8``/``VP8L``/``VP8X``)
and never raises whatever the bytes hold; :func:`read_image` also decodes the file with Pillow
when it is installed (the ``render`` extra), so a damaged file is caught.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from io import BytesIO

__all__ = ["ImageFacts", "parse_header", "read_image"]


@dataclass(frozen=True)
class ImageFacts:
    """What an image's bytes say: its format and size as displayed."""

    format: str
    width: int
    height: int
    rotated: bool = False


_PNG = b"\x89PNG\r\n\x1a\n"
_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)})


def parse_header(data: bytes) -> ImageFacts | None:
    """The format and size from a JPEG, PNG or WebP header, without Pillow; None otherwise.

    Never raises, whatever ``data`` holds. A JPEG's EXIF orientation is applied (a portrait
    photo stored sideways reports its portrait size).
    """
    try:
        if data[:8] == _PNG and data[12:16] == b"IHDR" and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
            return _facts("PNG", width, height, 1)
        if data[:3] == b"\xff\xd8\xff":
            return _jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
            return _webp(data)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def _facts(fmt: str, width: int, height: int, orientation: int) -> ImageFacts | None:
    if width <= 0 or height <= 0:
        return None
    rotated = orientation in (5, 6, 7, 8)
    if rotated:
        width, height = height, width
    return ImageFacts(fmt, width, height, rotated)


def _jpeg(data: bytes) -> ImageFacts | None:
    index, size, orientation = 2, len(data), 1
    while index + 4 <= size:
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # a fill byte
            index += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            index += 2
            continue
        if marker in (0xD9, 0xDA):  # the end, or the scan, before any frame header
            return None
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if length < 2:
            return None
        segment = data[index + 4 : index + 2 + length]
        if marker == 0xE1 and segment[:6] == b"Exif\x00\x00":
            orientation = _exif_orientation(segment[6:]) or orientation
        if marker in _SOF:
            if len(segment) < 5:
                return None
            height, width = struct.unpack(">HH", segment[1:5])
            return _facts("JPEG", width, height, orientation)
        index += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> int | None:
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        return None
    offset = struct.unpack(order + "I", tiff[4:8])[0]
    if offset + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[offset : offset + 2])[0]
    for number in range(min(count, 512)):
        entry = tiff[offset + 2 + 12 * number : offset + 14 + 12 * number]
        if len(entry) < 12:
            break
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == 0x0112 and kind == 3:
            value: int = struct.unpack(order + "H", entry[8:10])[0]
            return value if 1 <= value <= 8 else None
    return None


def _webp(data: bytes) -> ImageFacts | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
    elif chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        bits = int.from_bytes(data[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        return None
    return _facts("WebP", width, height, 1)


def read_image(data: bytes) -> ImageFacts | None:
    """Format and displayed size of a JPEG, PNG or WebP image; None when it is not one or is
    damaged. With Pillow the file is also decoded far enough to be verified; without it the
    header (:func:`parse_header`) must do."""
    header = parse_header(data)
    if header is None:
        return None
    try:
        from PIL import Image
    except ImportError:
        return header
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as image:
                width, height = image.size
                image.verify()  # must come first after open
            with Image.open(BytesIO(data)) as image:
                orientation = image.getexif().get(0x0112, 1)
    except Image.DecompressionBombError:
        return header  # enormous, yet an image: its header says how large
    except Exception:
        return None
    facts = _facts(header.format, width, height, orientation if isinstance(orientation, int) else 1)
    return facts
