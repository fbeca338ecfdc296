"""A content-addressed cache of downloaded media.

Files live in ``<cache>/blobs/<sha256><suffix>``; ``<cache>/urls/<sha256 of the URL>`` holds
the digest a URL resolved to, so a second download of the same URL costs no request. The
folder is ``LUMA_NB_CACHE_DIR``, else ``$XDG_CACHE_HOME/luma_nb``, else ``~/.cache/luma_nb``.

Every cache made in this process is remembered (:func:`active_roots`): those folders, and
the default one, are the only places whose files luma_nb embeds into a page
(:mod:`luma_nb._media_policy`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

_SUFFIXES = {".mp4", ".webm", ".mov", ".jpg", ".jpeg", ".png", ".webp", ".gif"}
_TYPES = {
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
}
# What an index file may name: a blob's digest and one of our suffixes, nothing path-like.
_BLOB_NAME = re.compile(r"[0-9a-f]{64}(?:\.[a-z0-9]{1,5})?")
# The folders of caches made in this process, most recent last; bounded so a long session
# (or a test run) that makes many clients does not grow the list without end.
_MAX_ROOTS = 64
_roots: OrderedDict[str, None] = OrderedDict()
_roots_lock = threading.Lock()


def default_cache_dir() -> Path:
    """Where media is cached unless a client is given ``cache_dir``."""
    explicit = os.environ.get("LUMA_NB_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "luma_nb"


def active_roots() -> list[Path]:
    """The cache folders luma_nb writes to: the default one and every cache made here."""
    with _roots_lock:
        made = [Path(root) for root in _roots]
    return [default_cache_dir(), *reversed(made)]


def _remember(root: Path) -> None:
    key = os.path.abspath(root)
    with _roots_lock:
        _roots[key] = None
        _roots.move_to_end(key)
        while len(_roots) > _MAX_ROOTS:
            _roots.popitem(last=False)


class MediaCache:
    """Content-addressed media files, looked up by URL or digest."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        _remember(self.root)

    def lookup(self, url: str) -> Path | None:
        """The cached file for ``url``, if it was downloaded before and is still there."""
        index = self._index_path(url)
        try:
            name = index.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if not _BLOB_NAME.fullmatch(name):
            return None  # a damaged or edited index must not point anywhere else
        blob = self.root / "blobs" / name
        return blob if blob.is_file() else None

    def open_temp(self) -> BinaryIO:
        """A temporary file inside the cache, to stream a download into."""
        folder = self.root / "blobs"
        folder.mkdir(parents=True, exist_ok=True)
        handle: BinaryIO = tempfile.NamedTemporaryFile(  # type: ignore[assignment]  # noqa: SIM115
            dir=folder, prefix=".part-", delete=False
        )
        return handle

    def commit(self, temp: BinaryIO, url: str, content_type: str | None = None) -> Path:
        """Move a finished download to its content address and index it under ``url``."""
        temp.flush()
        temp.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: temp.read(1 << 20), b""):
            digest.update(chunk)
        temp.close()
        name = digest.hexdigest() + _suffix(url, content_type)
        blob = self.root / "blobs" / name
        os.replace(temp.name, blob)
        index = self._index_path(url)
        index.parent.mkdir(parents=True, exist_ok=True)
        tmp_index = index.with_suffix(".tmp")
        tmp_index.write_text(name, encoding="utf-8")
        os.replace(tmp_index, index)
        return blob

    @staticmethod
    def discard(temp: BinaryIO) -> None:
        """Remove an unfinished download."""
        temp.close()
        Path(temp.name).unlink(missing_ok=True)

    @staticmethod
    def place(blob: Path, path: Path | str | None) -> Path:
        """Return ``blob`` itself, or a copy of it at ``path`` (a folder keeps the blob's name)."""
        if path is None:
            return blob
        target = Path(path)
        if target.is_dir():
            target = target / blob.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(blob, target)
        return target

    def _index_path(self, url: str) -> Path:
        return self.root / "urls" / hashlib.sha256(url.encode("utf-8")).hexdigest()


def _suffix(url: str, content_type: str | None) -> str:
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    if suffix in _SUFFIXES:
        return suffix
    if content_type:
        return _TYPES.get(content_type.split(";")[0].strip().lower(), "")
    return ""
