"""Videos and tasks in the notebook: HTML cards, plain-text fallbacks, ``show`` and ``grid``.

A finished video renders as a small card: a ``<video controls>`` player with its poster, its
filmstrip (when the file is in the media cache, see :mod:`luma_nb.render.filmstrip`), the
prompt as sent and as the API echoed it, the size, the ids and a backend badge. A running task
renders as a status card, a failed one with its error code, message and trace id.

Everything here is a thin public face of :mod:`luma_nb.render`: the card is
:func:`luma_nb.render.card.video_card`, the text :mod:`luma_nb.render.text`, and where the
video comes from :func:`luma_nb.render.media.place`.

Where the video lives
---------------------
By default the player points at the remote URL, which is what real results (a public CDN)
want: the notebook stays small. When the browser probably cannot reach the URL
(:func:`needs_embedding`: the simulator's ``.invalid`` and loopback hosts, private hosts on
Binder/JupyterHub/Colab/VS Code/Codespaces) or when ``embed=True`` is asked, the file is found
in its saved copy or the media cache, or fetched through the registered fetcher (see
:func:`set_media_fetcher`), and embedded as a base64 ``data:`` URL if it is no larger than
:func:`embed_limit` bytes (``LUMA_NB_EMBED_MAX_BYTES``, default 8 MB). Otherwise the card says
why and links the file. What may be fetched and read is :mod:`luma_nb._media_policy`'s call:
cached media only, and private URLs only from the simulator this kernel is connected to.

Safety
------
Every string from a user or the API is HTML-escaped; only absolute ``http(s)`` URLs and base64
``data:`` URLs of image/video types can become a ``src``, ``poster`` or ``href``. The output has
no ``<script>`` and no event handlers. Rendering never raises: a problem becomes a card that
names it, because an exception in ``_repr_html_`` would hide the output entirely.

Importing this module imports neither IPython nor ipywidgets; :func:`show` imports IPython
when called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from luma_nb._html import esc
from luma_nb.models import Task, Video
from luma_nb.render import text as plain
from luma_nb.render.adapt import media_of_row
from luma_nb.render.card import broken, card, head, task_card, video_card
from luma_nb.render.filmstrip import row_strip
from luma_nb.render.frontend import in_notebook
from luma_nb.render.markup import RichView, style
from luma_nb.render.measured import key_metrics_text
from luma_nb.render.media import (
    DEFAULT_EMBED_LIMIT,
    EMBED_LIMIT_ENV,
    REMOTE_BROWSER_ENV,
    embed_limit,
    needs_embedding,
    set_media_fetcher,
)
from luma_nb.render.row_card import iteration_card

__all__ = [
    "DEFAULT_EMBED_LIMIT",
    "EMBED_LIMIT_ENV",
    "REMOTE_BROWSER_ENV",
    "GridView",
    "SessionView",
    "embed_limit",
    "grid",
    "needs_embedding",
    "set_media_fetcher",
    "show",
    "task_html",
    "task_text",
    "video_html",
    "video_text",
]


def video_html(
    video: Video,
    *,
    embed: bool | None = None,
    label: str | None = None,
    filmstrip: bool = True,
    metrics: object = None,
) -> str:
    """An HTML card for a finished video: player, poster, filmstrip, prompts, size, ids, backend.

    Parameters
    ----------
    video : Video
        The result to show.
    embed : bool or None
        ``None`` (auto) embeds when :func:`needs_embedding` says the browser cannot reach the
        URL; ``True`` always tries to embed (within :func:`embed_limit`); ``False`` never does.
    label : str or None
        A title for the card (``grid`` uses it); the default is "Luma video".
    filmstrip : bool
        Show the video's filmstrip under the player when its file is in the media cache (made
        once from it, never downloaded for it; none with ``embed=False`` or without the
        ``research`` extra).
    metrics : VideoMetrics or mapping, optional
        Measured values to show (:func:`luma_nb.video_metrics.measure_video`'s result, or a
        session-log row's ``metric_*`` columns).

    Returns
    -------
    str
        Self-contained HTML (with its own scoped ``<style>``). Never raises: a problem is
        rendered as a card naming it.
    """
    try:
        return video_card(video, embed=embed, label=label, filmstrip=filmstrip, metrics=metrics)
    except Exception as exc:
        return broken("video", exc)


def task_html(
    task: Task,
    *,
    embed: bool | None = None,
    label: str | None = None,
    elapsed: float | None = None,
    filmstrip: bool = True,
    metrics: object = None,
) -> str:
    """An HTML card for a task: status while running, the error when failed, the video when done.

    Parameters
    ----------
    task : Task
        The task to show.
    embed : bool or None
        Passed to :func:`video_html` for a completed task.
    label : str or None
        A title for the card; the default is "Luma task" (or "Luma video" when completed).
    elapsed : float or None
        A caller's own wait, in real seconds: shown as "Waited". The card always shows the
        task's generation time when the record says (labelled "simulated" on the simulator,
        see :mod:`luma_nb._durations`); a task running on the real API shows it so far.
    filmstrip, metrics
        As for :func:`video_html`, for a completed task.

    Returns
    -------
    str
        Self-contained HTML. Never raises.
    """
    try:
        return task_card(
            task, embed=embed, label=label, elapsed=elapsed, filmstrip=filmstrip, metrics=metrics
        )
    except Exception as exc:
        return broken("task", exc)


def video_text(video: Video) -> str:
    """A short plain-text view of a video (outside notebooks, and as ``text/plain``).

    Control characters from the API are shown escaped, so printing it is terminal-safe; an
    embedded ``data:`` URL is named by its type and size, never printed.
    """
    return plain.safe(partial(plain.video_text, video), "video")


def task_text(task: Task) -> str:
    """A short plain-text view of a task: state, ids, generation time, error or video."""
    return plain.safe(partial(plain.task_text, task), "task")


# --------------------------------------------------------------------------- show and grid


class GridView(RichView):
    """Videos and tasks side by side, for comparison. Made by :func:`grid`.

    Displaying it (as a cell's last expression, with ``display(...)`` or :func:`show`) renders
    the grid; creating it displays nothing. Outside a notebook its ``repr`` is the plain text.

    Attributes
    ----------
    items : tuple of Video or Task
        What is shown, in order (row by row).
    labels : tuple of str
        One title per item.
    columns : int
        Cards per row.
    embed : bool or None
        The embedding choice passed to every card.
    """

    def __init__(
        self,
        items: Sequence[Video | Task],
        labels: Sequence[str],
        columns: int,
        embed: bool | None,
    ) -> None:
        self.items: tuple[Video | Task, ...] = tuple(items)
        self.labels: tuple[str, ...] = tuple(labels)
        self.columns = columns
        self.embed = embed

    def html(self) -> str:
        """The grid as self-contained HTML (one ``<style>`` for all cards). Never raises."""
        try:
            return self._html()
        except Exception as exc:
            return broken("grid", exc)

    def _html(self) -> str:
        if not self.items:
            return card("Luma grid", status="No videos to compare.")
        columns = min(self.columns, len(self.items))
        cells = [
            self._cell(item, label) for item, label in zip(self.items, self.labels, strict=True)
        ]
        # The only style attribute built from a value: an int, so nothing to escape.
        return (
            style()
            + '<div class="luma-nb-grid" style="display:grid;gap:12px;'
            + f'grid-template-columns:repeat({columns:d},minmax(0,1fr))">'
            + "".join(cells)
            + "</div>"
        )

    def _cell(self, item: Video | Task, label: str) -> str:
        try:
            if isinstance(item, Task):
                return task_card(
                    item, embed=self.embed, label=label, with_style=False, filmstrip=True
                )
            return video_card(item, embed=self.embed, label=label, with_style=False, filmstrip=True)
        except Exception as exc:
            return broken("task" if isinstance(item, Task) else "video", exc, with_style=False)

    def text(self) -> str:
        """The grid as plain text: each item's text under its label (capped in length)."""
        if not self.items:
            return "Luma grid: no videos"

        def build() -> str:
            blocks = []
            for item, label in zip(self.items, self.labels, strict=True):
                if isinstance(item, Task):
                    blocks.append(plain.task_text(item, label))
                else:
                    blocks.append(plain.video_text(item, label))
            return "\n\n".join(blocks)

        return plain.safe(build, "grid")


def grid(
    videos: Sequence[Video | Task],
    labels: Sequence[str] | None = None,
    *,
    columns: int = 2,
    embed: bool | None = None,
) -> GridView:
    """Lay videos (or tasks) out side by side for comparison.

    Returns a :class:`GridView` and displays nothing itself: make it a cell's last expression,
    or pass it to ``display`` or :func:`show`.

    Parameters
    ----------
    videos : sequence of Video or Task
        What to compare, row by row.
    labels : sequence of str, optional
        One title per item (e.g. the arm of an experiment); default ``#1``, ``#2``, ...
    columns : int
        Cards per row (at least 1; fewer when there are fewer items).
    embed : bool or None
        As for :func:`video_html`, for every card.

    Raises
    ------
    TypeError
        When ``videos`` is a single item or holds something other than videos and tasks.
    ValueError
        When ``labels`` does not match ``videos`` in length, or ``columns`` is below 1.
    """
    if isinstance(videos, (Video, Task)):
        raise TypeError("grid() takes a list of videos; use show(video) for one")
    items = list(videos)
    for item in items:
        if not isinstance(item, (Video, Task)):
            raise TypeError(f"grid() shows Video and Task objects, not {type(item).__name__}")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a whole number of at least 1, not {columns!r}")
    if labels is None:
        names = [f"#{i}" for i in range(1, len(items) + 1)]
    else:
        if isinstance(labels, str):
            raise TypeError("labels must be a list of strings, one per video")
        names = [str(label) for label in labels]
        if len(names) != len(items):
            raise ValueError(f"{len(names)} labels for {len(items)} videos; give one per video")
    return GridView(items, names, columns, embed)


class SessionView(RichView):
    """A session's iterations as cards, newest first. Made by ``luma_nb.history(cards=True)``.

    Each card (:func:`luma_nb.render.row_card.iteration_card`) shows the video with its
    filmstrip, the prompt with what the service added, the settings, rating, key metrics and
    generation time; the request, ids and every metric are folded under "Details".

    Attributes
    ----------
    rows : tuple of dict
        The session-log rows shown, oldest first (a snapshot taken when it was made).
    total : int
        How many iterations the session had (``rows`` may be only the last of them).
    embed : bool or None
        The embedding choice for every clip (as for :func:`video_html`).
    """

    def __init__(
        self, rows: Sequence[Mapping[str, Any]], total: int, embed: bool | None = None
    ) -> None:
        self.rows: tuple[dict[str, Any], ...] = tuple(dict(row) for row in rows)
        self.total = total
        self.embed = embed

    def _heading(self) -> str:
        shown = len(self.rows)
        if shown == self.total:
            return f"{shown} iteration" + ("s" if shown != 1 else "") + ", newest first"
        return f"The last {shown} of {self.total} iterations, newest first"

    def html(self) -> str:
        """The cards as self-contained HTML (one ``<style>``). Never raises."""
        first = self.total - len(self.rows)
        cells = []
        for offset in range(len(self.rows) - 1, -1, -1):
            row = self.rows[offset]
            try:
                strip = row_strip(row) if self.embed is not False else None
                media = media_of_row(row, embed=self.embed, standalone=False)
                cells.append(
                    iteration_card(
                        row, index=first + offset, media=media, strip=strip, element="div"
                    )
                )
            except Exception as exc:
                cells.append(broken("iteration", exc, with_style=False))
        if not cells:
            cells.append(card("Session history", status="No iterations yet.", with_style=False))
        return (
            style()
            + f'<div class="luma-nb-history-cards">{head("Session history", [])}'
            + f'<div class="luma-nb-status">{esc(self._heading())}</div>'
            + "".join(cells)
            + "</div>"
        )

    def text(self) -> str:
        """One line per iteration, newest first (terminal-safe, capped)."""
        first = self.total - len(self.rows)
        lines = [f"Session history · {self._heading()}"]
        for offset in range(len(self.rows) - 1, -1, -1):
            row = self.rows[offset]
            state = row.get("state") or "unknown"
            prompt = plain.short(row.get("prompt") or "(no prompt)", 90)
            lines.append(
                f"  #{first + offset + 1} · {row.get('action') or '?'} · {state} · {prompt}"
            )
        return plain.cap("\n".join(lines))


def bundle(
    item: Video | Task | GridView | RichView, embed: bool | None = None, metrics: object = None
) -> dict[str, str]:
    """The ``{text/html, text/plain}`` bundle of a video, task or view (for display areas).

    ``metrics`` are shown on a video's (or a completed task's) card, as in :func:`video_html`.
    """
    if isinstance(item, GridView):
        if embed is not None:
            item = GridView(item.items, item.labels, item.columns, embed)
        return item._repr_mimebundle_()
    if isinstance(item, RichView):  # a history or chain view: its own embedding choice
        return item._repr_mimebundle_()
    measured = key_metrics_text(metrics)
    extra = f"\n  measured  {measured}" if measured else ""
    if isinstance(item, Task):
        html = task_html(item, embed=embed, metrics=metrics)
        return {"text/html": html, "text/plain": task_text(item) + extra}
    if isinstance(item, Video):
        html = video_html(item, embed=embed, metrics=metrics)
        return {"text/html": html, "text/plain": video_text(item) + extra}
    raise TypeError(f"show() displays a Video, a Task or a grid, not {type(item).__name__}")


def show(
    item: Video | Task | GridView | RichView,
    *,
    embed: bool | None = None,
    metrics: object = None,
) -> None:
    """Display a video, a task or a grid now.

    In a notebook (a Jupyter kernel, Colab's included) this displays a
    ``{text/html, text/plain}`` bundle; elsewhere (plain Python, a terminal IPython) it prints
    the text.

    Parameters
    ----------
    item : Video, Task, GridView or another view (``history(cards=True)``, a timeline)
        What to show.
    embed : bool or None
        As for :func:`video_html`.
    metrics : VideoMetrics or mapping, optional
        Measured values to show on a video's card (as for :func:`video_html`).

    Raises
    ------
    TypeError
        When ``item`` is none of these.
    """
    mimebundle = bundle(item, embed, metrics)
    if not in_notebook():
        print(mimebundle["text/plain"])
        return
    from IPython.display import display

    display(mimebundle, raw=True)  # type: ignore[no-untyped-call]  # IPython ships no types here
