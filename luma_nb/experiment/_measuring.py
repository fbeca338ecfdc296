"""Measuring a study's videos: after each download, its metrics and filmstrip, into the log.

Every video a study downloads is measured at once with
:func:`luma_nb.video_metrics.measure_video` — motion, flicker, sharpness, loop seam... and,
when the request sent a keyframe, how well the first (last) frame matches it — and the
numbers go to the session log (``log.metrics``), so the tidy frame, the summary and the
report have them, also after a restart. The filmstrip is made in the same decoding pass and
kept in the client's media cache (``<cache>/filmstrips/``, named by the video's content): the
folder every view's :func:`luma_nb.render.filmstrip.local_filmstrip` looks in for a file of
that cache, so the report, the grid and the review show it without decoding the video again.

A keyframe image is fetched through the client's own download path (its media cache, the
token only ever sent to the API's host), never by a request of our own; a URL the media
policy refuses (a private host) is not fetched at all. A keyframe that cannot be had costs
only its match: the video is measured without it, and the run's warning says why.

Measuring never fails a study: a video that cannot be measured (a damaged file, the
``research`` extra missing, a full disk) keeps its row without metrics, and the run's
:class:`~luma_nb.experiment.ExperimentWarning` names it. ``study.run()`` later measures what
was downloaded but not measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._media_policy import fetch_refusal, inside_media_cache
from luma_nb.errors import ConfigError, LumaError, ValidationError
from luma_nb.experiment._outcomes import METRIC_PREFIX
from luma_nb.render.media import describe_error
from luma_nb.video_metrics import COLUMNS, measure_video

if TYPE_CHECKING:
    from collections.abc import Mapping

    from luma_nb.client import Client
    from luma_nb.experiment._run import RunReport
    from luma_nb.session_log import SessionLog

__all__ = ["Keyframes", "Measurer", "is_measured"]

#: The keyframe URLs a video was sent with: ``(start_image_url, end_image_url)``.
Keyframes = tuple[str | None, str | None]
_FIELDS = ("start_image", "end_image")


def is_measured(row: Mapping[str, Any]) -> bool:
    """Whether a log row already holds a measurement of its video (any measured column)."""
    return row.get("frames") is not None or any(
        row.get(column) is not None for column in COLUMNS if column.startswith(METRIC_PREFIX)
    )


class Measurer:
    """Measures the videos of one run and records what went wrong in its :class:`RunReport`.

    Keyframe images are fetched once per URL and run, however many videos were sent with
    them. When the ``research`` extra is missing, the first video says so and the others
    are not tried.
    """

    def __init__(self, log: SessionLog, client: Client, report: RunReport) -> None:
        self.log = log
        self.client = client
        self.report = report
        self._images: dict[str, Path | None] = {}

    def measure(self, iteration: str, path: object, keyframes: Keyframes = (None, None)) -> None:
        """Measure the local copy ``path`` of ``iteration``'s video and log the numbers."""
        report = self.report
        if report.measure_unavailable is not None:
            return
        # A path from a log row may have been edited by hand: only cached media is decoded.
        local = inside_media_cache(path)
        if local is None or not local.is_file():
            report.measure_errors[iteration] = "its local copy is not in luma_nb's media cache"
            return
        images: dict[str, Path | None] = {
            name: None if url is None else self._image(url)
            for name, url in zip(_FIELDS, keyframes, strict=True)
        }
        urls = dict(zip(_FIELDS, keyframes, strict=True))
        measured = None
        while measured is None:
            try:
                measured = measure_video(
                    local, filmstrip=True, cache_dir=self.client.cache.root, **images
                )
            except ConfigError as exc:  # the research extra is missing: no video can be
                report.measure_unavailable = str(exc)
                return
            except ValidationError as exc:
                field = exc.field
                url = urls.get(field or "")
                if field in images and images[field] is not None and url is not None:
                    # The keyframe fetched is no image: measure without it.
                    report.keyframe_errors[url] = "what it served does not decode as an image"
                    self._images[url] = images[field] = None
                    continue
                report.measure_errors[iteration] = describe_error(exc)
                return
            except Exception as exc:  # a damaged file, a full disk: the study goes on
                report.measure_errors[iteration] = describe_error(exc)
                return
        try:
            self.log.metrics(iteration, measured)
        except (LumaError, OSError) as exc:
            report.measure_errors[iteration] = describe_error(exc)
            return
        report.measured.append(iteration)

    def _image(self, url: str) -> Path | None:
        """The keyframe at ``url`` as a cached file, or None (and the reason in the report)."""
        if url in self._images:
            return self._images[url]
        image: Path | None = None
        refusal = fetch_refusal(url)
        if refusal is not None:
            self.report.keyframe_errors[url] = f"luma_nb did not fetch it because {refusal}"
        else:
            try:
                image = self.client.download(url)
            except (LumaError, OSError) as exc:
                self.report.keyframe_errors[url] = describe_error(exc)
        self._images[url] = image
        return image
