"""Keyframe images for the renderer: decoded, flattened and cover-fitted to the clip's size.

Split from :mod:`._media`. Pillow is imported inside the functions only (the ``render`` extra is
optional); :func:`sniff_image` works without it.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["load_image", "sniff_image"]


def load_image(data: bytes | None, size: tuple[int, int], name: str) -> PIL.Image.Image | None:
    """Decode an image and cover-fit it to the clip's size (centre crop, like a video would).

    ``None`` gives None. Raises ``ValueError``, naming ``name``, for bytes that do not decode.
    """
    from PIL import Image, ImageOps

    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            # JPEG only: decode at a reduced scale that still covers the frame; much faster.
            image.draft("RGB", (max(size), max(size)))
            upright = ImageOps.exif_transpose(image)
            flat = _flatten(upright)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{name}: not a decodable image ({len(data)} bytes): {exc}") from exc
    return ImageOps.fit(flat, size, Image.Resampling.BICUBIC)


def _flatten(image: PIL.Image.Image) -> PIL.Image.Image:
    """RGB, with any transparency composed over black (as a player shows it)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (0, 0, 0))
        flat.paste(rgba, (0, 0), rgba)
        return flat
    return image.convert("RGB")


def sniff_image(data: bytes | None, name: str) -> None:
    """Without Pillow, reject at least bytes that no common image format starts with.

    Raises ``ValueError``, naming ``name``, for such bytes.
    """
    if data is None:
        return
    signatures = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
    is_webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if not (data.startswith(signatures) or is_webp):
        raise ValueError(f"{name}: not a JPEG, PNG, GIF, WebP or BMP image ({len(data)} bytes)")
