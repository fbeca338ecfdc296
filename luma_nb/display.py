"""Videos and tasks in the notebook: HTML cards, plain-text fallbacks, ``show`` and ``grid``.

A finished video renders as a small card: a ``<video controls>`` player with its poster, the
prompt as sent and as the API echoed it, the size, the ids and a backend badge. A running task
renders as a status card, a failed one with its error code, message and trace id.

Where the video lives
---------------------
By default the player points at the remote URL, which is what real results (a public CDN)
want: the notebook stays small. When the browser probably cannot reach the URL
(:func:`needs_embedding`: the simulator's ``.invalid`` and loopback hosts, private hosts on
Binder/JupyterHub/Colab/VS Code/Codespaces) or when ``embed=True`` is asked, the file is fetched
through the registered fetcher (see :func:`set_media_fetcher`) or found in the media cache and
embedded as a base64 ``data:`` URL, if it is no larger than :func:`embed_limit` bytes
(``LUMA_NB_EMBED_MAX_BYTES``, default 8 MB). Otherwise the card says why and links the file.
What may be fetched and read is :mod:`luma_nb._media_policy`'s call: cached media only, and
private URLs only from the simulator this kernel is connected to.

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

import dataclasses
import inspect
import os
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from luma_nb._html import (
    CSS,
    IMAGE,
    VIDEO,
    RichView,
    clean_text,
    esc,
    human_bytes,
    human_seconds,
    safe_url,
)
from luma_nb._media_policy import cached_copy, fetch_refusal, host_address, read_media
from luma_nb.models import Task, TaskState, Video

__all__ = [
    "DEFAULT_EMBED_LIMIT",
    "EMBED_LIMIT_ENV",
    "REMOTE_BROWSER_ENV",
    "GridView",
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

#: Environment variable that overrides the embed cap (an integer number of bytes; 0 = never).
EMBED_LIMIT_ENV = "LUMA_NB_EMBED_MAX_BYTES"
#: The embed cap when the variable is unset: 8 MB (8 * 1024 * 1024 bytes).
DEFAULT_EMBED_LIMIT = 8 * 1024 * 1024
#: Variables whose presence means the browser runs on another machine than the kernel
#: (Binder, JupyterHub, Colab, VS Code, Codespaces, Kaggle).
REMOTE_BROWSER_ENV: tuple[str, ...] = (
    "BINDER_SERVICE_HOST",
    "BINDER_REQUEST",
    "JUPYTERHUB_SERVICE_PREFIX",
    "COLAB_RELEASE_TAG",
    "VSCODE_PID",
    "CODESPACES",
    "KAGGLE_KERNEL_RUN_TYPE",
)

Fetcher = Callable[[str], Path]
_fetcher: Fetcher | None = None
_warned_limits: set[str] = set()
# A task whose record has no elapsed time and started longer ago than this is not shown an
# elapsed time computed from the wall clock: the timestamps are then probably not ours.
_MAX_PLAUSIBLE_ELAPSED = 24 * 3600.0


# --------------------------------------------------------------------------- configuration


def embed_limit() -> int:
    """The largest file, in bytes, that is embedded into the notebook.

    ``LUMA_NB_EMBED_MAX_BYTES`` when it holds a non-negative integer (``0`` turns embedding
    off), else :data:`DEFAULT_EMBED_LIMIT`. An unreadable value warns once and is ignored.
    The cap applies to each file (video and poster) separately.
    """
    raw = os.environ.get(EMBED_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_EMBED_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        if raw not in _warned_limits:
            _warned_limits.add(raw)
            warnings.warn(
                f"{EMBED_LIMIT_ENV}={raw!r} is not a number of bytes; "
                f"using the default of {human_bytes(DEFAULT_EMBED_LIMIT)}",
                stacklevel=2,
            )
        return DEFAULT_EMBED_LIMIT
    return value


def set_media_fetcher(fetch: Callable[[str], Path] | None) -> None:
    """Register who turns a media URL into a local file for embedding (``None`` unregisters).

    The notebook layer registers its default client's :meth:`~luma_nb.client.Client.download`,
    which caches by content and sends the API token only to the API's own host. ``fetch`` must
    be blocking (it is called from ``_repr_html_``) and return a file inside the media cache:
    no other file is embedded. It is never asked for a private URL that is not the simulator's.
    """
    # One fetcher per kernel, like the default client it usually belongs to.
    global _fetcher
    _fetcher = fetch


def _remote_browser() -> bool:
    return any(os.environ.get(name) for name in REMOTE_BROWSER_ENV)


def needs_embedding(url: str) -> bool:
    """Whether the browser likely cannot load ``url`` itself, so it should be embedded.

    True when the URL is not ``http(s)`` (a ``data:`` URL is already embedded: False), has no
    host or a ``.invalid`` host (the simulator's), or a loopback host (``localhost``,
    ``127.0.0.0/8`` in any spelling, ``::1``, ``0.0.0.0``). Loopback is always embedded: on
    Binder, JupyterHub, Colab or a remote VS Code the browser's loopback is another machine, and
    even locally the player would go dead in the saved notebook once the server stops. When one of
    :data:`REMOTE_BROWSER_ENV` is set, private-network addresses and single-label host names
    (a container's name) are embedded as well. Everything else is left to the browser.
    """
    if not isinstance(url, str):
        return True
    if url[:5].lower() == "data:":
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return True
    if parts.scheme.lower() not in ("http", "https") or not host:
        return True
    host = host.rstrip(".").lower()
    if host == "invalid" or host.endswith(".invalid"):
        return True
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = host_address(host)  # any spelling: 127.1, 2130706433, [::ffff:127.0.0.1]
    if address is not None and (address.is_loopback or address.is_unspecified):
        return True
    if _remote_browser():
        if address is not None:
            return address.is_private or address.is_link_local
        return "." not in host
    return False


def _reachable_looking(url: str) -> bool:
    # Worth offering as a link or a fallback src: an http(s) URL on a host that resolves.
    if safe_url(url) is None:
        return False
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return not (host == "invalid" or host.endswith(".invalid"))


# --------------------------------------------------------------------------- embedding


@dataclasses.dataclass(frozen=True)
class _Media:
    """Where a player's video (or poster) comes from, and what to tell the reader."""

    src: str | None
    embedded: bool = False
    note: str | None = None  # plain text; escaped when rendered
    link: str | None = None  # a safe http(s) URL to offer next to the note


def _local_file(url: str) -> tuple[Path | None, str | None]:
    """A local copy of ``url`` (media cache first, then the fetcher), or the reason why not."""
    refusal = fetch_refusal(url)
    if refusal is not None:
        return None, f"luma_nb did not fetch it because {refusal}"
    cached = cached_copy(url)
    if cached is not None:
        return cached, None
    fetch = _fetcher
    if fetch is None:
        return None, (
            "it is not in the media cache and no fetcher is registered "
            "(luma_nb.display.set_media_fetcher)"
        )
    try:
        result: object = fetch(url)
    except Exception as exc:
        return None, f"fetching it failed: {_describe(exc)}"
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never awaited: close it so Python does not warn at GC
        return None, "the registered fetcher is async; register a blocking one"
    if not isinstance(result, (str, os.PathLike)):
        return None, f"the fetcher returned {type(result).__name__}, not a path"
    return Path(result), None


def _embed(
    url: str, family: str, what: str, alternative: str = "open the link"
) -> tuple[str | None, str | None]:
    """``(data_url, None)`` or ``(None, a sentence saying why it was not embedded)``.

    ``alternative`` completes the over-the-cap sentence ("..., or open the link.").
    """
    direct = safe_url(url, data=(family,))
    if direct is not None and direct.startswith("data:"):
        return direct, None
    if direct is None:
        # Only http(s) URLs are fetched: anything else is not a media URL of a result.
        return None, f"The {what} could not be embedded: its URL is not an http(s) link."
    path, problem = _local_file(url)
    if path is None:
        return None, f"The {what} could not be embedded: {problem}."
    limit = embed_limit()
    local = read_media(path, family, limit)
    if local.data_url is not None:
        return local.data_url, None
    if not local.over(limit):
        return None, f"The {what} could not be embedded: {local.refused}."
    if limit == 0:
        return None, f"Embedding is off ({EMBED_LIMIT_ENV}=0)."
    return None, (
        f"The {what} is {human_bytes(local.size)}, over the {human_bytes(limit)} embed cap; "
        f"set {EMBED_LIMIT_ENV} (bytes) to raise it, or {alternative}."
    )


def _resolve_video(url: str, embed: bool | None) -> _Media:
    remote = safe_url(url, data=(VIDEO,))
    want = needs_embedding(url) if embed is None else embed
    if not want:
        if remote is None:
            return _Media(None, note="The video URL is not an http(s) link, so it is not shown.")
        return _Media(remote, embedded=remote.startswith("data:"))
    # Keep the remote URL as the player's source when it might work (e.g. over the cap but on
    # a public CDN): the note explains, and a dead player costs nothing more than no player.
    link = safe_url(url) if _reachable_looking(url) else None
    alternative = "open the link" if link else "download it with client.download(video)"
    data_url, problem = _embed(url, VIDEO, "video", alternative)
    if data_url is not None:
        return _Media(data_url, embedded=True)
    return _Media(link, note=problem, link=link)


def _resolve_poster(url: str | None, embedded_video: bool, embed: bool | None) -> str | None:
    if not url:
        return None
    # The poster follows the video: if the video is embedded, the notebook should not depend
    # on the network for its poster either. A poster that cannot be embedded is just dropped
    # (or linked remotely when reachable): it is cosmetic, so it earns no note.
    want = embedded_video or (needs_embedding(url) if embed is None else embed)
    if want:
        data_url, _ = _embed(url, IMAGE, "poster")
        if data_url is not None:
            return data_url
        return safe_url(url) if _reachable_looking(url) else None
    return safe_url(url, data=(IMAGE,))


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------- HTML pieces

_STATE_CLASS = {
    TaskState.COMPLETED: "luma-nb-ok",
    TaskState.FAILED: "luma-nb-fail",
    TaskState.PENDING: "luma-nb-run",
    TaskState.PROCESSING: "luma-nb-run",
    TaskState.QUEUED: "",
    TaskState.UNKNOWN: "",
}
_STATE_SENTENCE = {
    TaskState.QUEUED: "Queued: waiting for the service to take it.",
    TaskState.PENDING: "Pending: accepted, generation has not started yet.",
    TaskState.PROCESSING: "Processing: the video is being generated.",
}


def _style() -> str:
    return f"<style>{CSS}</style>"


def _badge(text: str, cls: str = "") -> str:
    classes = f"luma-nb-badge {cls}" if cls else "luma-nb-badge"
    return f'<span class="{classes}">{esc(text)}</span>'


def _backend_badge(backend: str) -> str:
    if backend == "simulator":
        return _badge("simulated", "luma-nb-sim")
    if backend == "api":
        return _badge("Luma API")
    return _badge(backend)


def _state_badge(state: str | None) -> str:
    word = (state or "completed").lower()
    try:
        cls = _STATE_CLASS[TaskState(word)]
    except ValueError:
        cls = "luma-nb-fail" if word in ("failed", "error") else ""
    return _badge(word, cls)


def _head(title: str, badges: Sequence[str]) -> str:
    return (
        f'<div class="luma-nb-head"><span class="luma-nb-title">{esc(title)}</span>'
        + "".join(badges)
        + "</div>"
    )


Row = tuple[str, str]  # (label, already-escaped HTML value)


def _mono(value: object) -> str:
    return f'<span class="luma-nb-mono">{esc(value)}</span>'


def _meta(rows: Sequence[Row]) -> str:
    if not rows:
        return ""
    body = "".join(f"<dt>{esc(name)}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="luma-nb-meta">{body}</dl>'


def _prompt_rows(sent: str | None, echoed: str | None, request_known: bool) -> list[Row]:
    def block(text: str) -> str:
        return f'<div class="luma-nb-prompt">{esc(text)}</div>'

    if request_known and sent is not None and echoed is not None and sent == echoed:
        muted = '<span class="luma-nb-muted">(sent; echoed unchanged)</span>'
        return [("Prompt", block(sent) + muted)]
    rows: list[Row] = []
    if request_known:
        value = block(sent) if sent is not None else '<span class="luma-nb-muted">(none)</span>'
        rows.append(("Prompt sent", value))
    if echoed is not None:
        rows.append(("Prompt echoed" if request_known else "Prompt", block(echoed)))
    return rows


def _note(text: str, link: str | None = None, *, error: bool = False) -> str:
    cls = "luma-nb-error" if error else "luma-nb-note"
    anchor = ""
    if link is not None:
        anchor = (
            f' <a href="{esc(link)}" target="_blank" rel="noopener noreferrer">open the video</a>'
        )
    return f'<div class="{cls}">{esc(text)}{anchor}</div>'


def _card(inner: str, *, style: bool) -> str:
    return (_style() if style else "") + f'<div class="luma-nb-card">{inner}</div>'


def _broken_card(what: str, exc: BaseException, *, style: bool = True) -> str:
    return _card(
        _head("luma_nb", [_badge("display error", "luma-nb-fail")])
        + _note(f"Could not render this {what}: {_describe(exc)}", error=True),
        style=style,
    )


# --------------------------------------------------------------------------- video


def _video_card(video: Video, embed: bool | None, label: str | None, style: bool) -> str:
    media = _resolve_video(video.video_url, embed)
    poster = _resolve_poster(video.thumbnail_url, media.embedded, embed)
    request = video.request
    badges = [_state_badge(video.state), _backend_badge(video.backend)]
    if media.embedded:
        badges.insert(1, _badge("embedded"))
    parts = [_head(label or "Luma video", badges)]
    if media.src is not None:
        attrs = [f'src="{esc(media.src)}"']
        if poster is not None:
            attrs.append(f'poster="{esc(poster)}"')
        if request is not None and request.loop:
            attrs.append("loop")
        # The inline max-width keeps the player inside the cell where a sanitizer strips the
        # <style> block (untrusted notebooks).
        parts.append(
            '<video class="luma-nb-player" controls preload="metadata" playsinline '
            + " ".join(attrs)
            + ' style="max-width:100%">Your browser cannot play this video.</video>'
        )
    if media.note is not None:
        parts.append(_note(media.note, media.link))

    rows = _prompt_rows(
        request.prompt if request else None, video.prompt, request_known=request is not None
    )
    size = f"{video.width}\N{MULTIPLICATION SIGN}{video.height}" if video.size else "unknown"
    if request is not None and request.aspect_ratio:
        size += f" · {request.aspect_ratio}"
    rows.append(("Size", esc(size)))
    if request is not None and request.action == "extend":
        rows.append(("Extends", _mono(request.video_id or request.video_url or "?")))
    for name, value in (
        ("Video id", video.video_id),
        ("Task id", video.task_id),
        ("Trace id", video.trace_id),
    ):
        if value:
            rows.append((name, _mono(value)))
    parts.append(_meta(rows))
    return _card("".join(parts), style=style)


def video_html(video: Video, *, embed: bool | None = None, label: str | None = None) -> str:
    """An HTML card for a finished video: player, poster, prompts, size, ids and backend.

    Parameters
    ----------
    video : Video
        The result to show.
    embed : bool or None
        ``None`` (auto) embeds when :func:`needs_embedding` says the browser cannot reach the
        URL; ``True`` always tries to embed (within :func:`embed_limit`); ``False`` never does.
    label : str or None
        A title for the card (``grid`` uses it); the default is "Luma video".

    Returns
    -------
    str
        Self-contained HTML (with its own scoped ``<style>``). Never raises: a problem is
        rendered as a card naming it.
    """
    return _video_html(video, embed, label, style=True)


def _video_html(video: Video, embed: bool | None, label: str | None, *, style: bool) -> str:
    try:
        return _video_card(video, embed, label, style)
    except Exception as exc:
        return _broken_card("video", exc, style=style)


# --------------------------------------------------------------------------- task


def _task_video(task: Task) -> Video | None:
    # The task may know what the video does not (trace id, the request sent, the backend).
    video = task.video
    if video is None:
        return None
    changes: dict[str, Any] = {}
    if video.trace_id is None and task.trace_id:
        changes["trace_id"] = task.trace_id
    if video.request is None and task.sent is not None:
        changes["request"] = task.sent
    if not video.task_id and task.id:
        changes["task_id"] = task.id
    return dataclasses.replace(video, **changes) if changes else video


def _task_elapsed(task: Task, elapsed: float | None) -> float | None:
    if elapsed is not None:
        return elapsed
    if task.elapsed is not None:
        return task.elapsed
    begin = task.started_at if task.started_at is not None else task.created_at
    if begin is None:
        return None
    if task.finished_at is not None:
        return max(0.0, task.finished_at - begin)
    # The simulator's timestamps are in simulated time, which the wall clock cannot measure.
    if task.backend == "simulator":
        return None
    delta = time.time() - begin
    return delta if 0 <= delta <= _MAX_PLAUSIBLE_ELAPSED else None


def _task_card(
    task: Task, embed: bool | None, label: str | None, elapsed: float | None, style: bool
) -> str:
    video = _task_video(task) if task.state is TaskState.COMPLETED else None
    if video is not None:
        return _video_card(video, embed, label, style)
    state_word = task.state.value
    if task.state is TaskState.UNKNOWN and task.raw_state:
        state_word = task.raw_state
    parts = [_head(label or "Luma task", [_state_badge(state_word), _backend_badge(task.backend)])]
    if task.state is TaskState.FAILED:
        error = task.error
        code = error.code if error else "unknown"
        message = error.message if error else "the task failed without an error message"
        parts.append(
            f'<div class="luma-nb-error"><span class="luma-nb-mono">{esc(code)}</span>'
            f" · {esc(message)}</div>"
        )
    else:
        sentence = _STATE_SENTENCE.get(task.state)
        if sentence is None:
            sentence = (
                "Completed, but the answer has no video."
                if task.state is TaskState.COMPLETED
                else f"The API reports state {state_word!r}; still waiting."
            )
        parts.append(f'<div class="luma-nb-status">{esc(sentence)}</div>')
    rows: list[Row] = [("Task id", _mono(task.id or "?"))]
    seconds = _task_elapsed(task, elapsed)
    if seconds is not None:
        rows.append(("Elapsed", esc(human_seconds(seconds))))
    if task.trace_id:
        rows.append(("Trace id", _mono(task.trace_id)))
    if task.sent is not None:
        rows.extend(_prompt_rows(task.sent.prompt, None, request_known=True))
        if task.sent.action == "extend":
            rows.append(("Extends", _mono(task.sent.video_id or task.sent.video_url or "?")))
    parts.append(_meta(rows))
    return _card("".join(parts), style=style)


def task_html(
    task: Task,
    *,
    embed: bool | None = None,
    label: str | None = None,
    elapsed: float | None = None,
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
        Seconds to show as elapsed (a caller measuring its own wait). By default the record's
        ``elapsed`` or its timestamps are used; for the simulator, whose timestamps are in
        simulated time, a running task then shows none.

    Returns
    -------
    str
        Self-contained HTML. Never raises.
    """
    return _task_html(task, embed, label, elapsed, style=True)


def _task_html(
    task: Task, embed: bool | None, label: str | None, elapsed: float | None, *, style: bool
) -> str:
    try:
        return _task_card(task, embed, label, elapsed, style)
    except Exception as exc:
        return _broken_card("task", exc, style=style)


# --------------------------------------------------------------------------- text


def _text_block(title: str, rows: Sequence[tuple[str, object]]) -> str:
    shown = [(name, clean_text(value)) for name, value in rows if value not in (None, "")]
    width = max((len(name) for name, _ in shown), default=0)
    return "\n".join([clean_text(title), *(f"  {name:<{width}}  {v}" for name, v in shown)])


def _backend_word(backend: str) -> str:
    return "simulated" if backend == "simulator" else ("Luma API" if backend == "api" else backend)


def _video_text(video: Video, label: str | None) -> str:
    request = video.request
    rows: list[tuple[str, object]] = []
    sent = request.prompt if request else None
    if request is not None and sent == video.prompt:
        rows.append(("prompt", f"{sent} (sent; echoed unchanged)" if sent else None))
    else:
        if request is not None:
            rows.append(("prompt sent", sent if sent is not None else "(none)"))
        rows.append(("prompt echoed" if request is not None else "prompt", video.prompt))
    size = f"{video.width}x{video.height}" if video.size else "unknown"
    if request is not None and request.aspect_ratio:
        size += f" ({request.aspect_ratio})"
    rows.append(("size", size))
    if request is not None and request.action == "extend":
        rows.append(("extends", request.video_id or request.video_url))
    rows += [
        ("video id", video.video_id),
        ("task id", video.task_id),
        ("trace id", video.trace_id),
        ("video", video.video_url),
        ("poster", video.thumbnail_url),
    ]
    state = video.state or "completed"
    title = f"{label or 'Luma video'} · {state} · {_backend_word(video.backend)}"
    return _text_block(title, rows)


def video_text(video: Video) -> str:
    """A readable plain-text view of a video (outside notebooks, and as ``text/plain``).

    Control characters from the API are shown escaped, so printing it is terminal-safe.
    """
    return _safe_text(lambda: _video_text(video, None), "video")


def _task_text(task: Task, label: str | None, elapsed: float | None) -> str:
    video = _task_video(task) if task.state is TaskState.COMPLETED else None
    if video is not None:
        return _video_text(video, label)
    state = task.raw_state if task.state is TaskState.UNKNOWN and task.raw_state else None
    title = f"{label or 'Luma task'} · {state or task.state.value} · {_backend_word(task.backend)}"
    rows: list[tuple[str, object]] = [("task id", task.id or "?")]
    if task.state is TaskState.FAILED:
        error = task.error
        rows.append(("error", error.code if error else "unknown"))
        rows.append(("message", error.message if error else "no error message"))
    seconds = _task_elapsed(task, elapsed)
    rows.append(("elapsed", human_seconds(seconds) if seconds is not None else None))
    rows.append(("trace id", task.trace_id))
    if task.sent is not None:
        rows.append(("prompt sent", task.sent.prompt))
    return _text_block(title, rows)


def task_text(task: Task) -> str:
    """A readable plain-text view of a task: state, ids, elapsed time, error or video."""
    return _safe_text(lambda: _task_text(task, None, None), "task")


def _safe_text(build: Callable[[], str], what: str) -> str:
    try:
        return build()
    except Exception as exc:
        return f"<luma_nb could not describe this {what}: {clean_text(_describe(exc))}>"


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
            return _broken_card("grid", exc)

    def _html(self) -> str:
        if not self.items:
            return _card(_head("Luma grid", []) + _note("No videos to compare."), style=True)
        columns = min(self.columns, len(self.items))
        cells = []
        for item, label in zip(self.items, self.labels, strict=True):
            if isinstance(item, Task):
                cells.append(_task_html(item, self.embed, label, None, style=False))
            else:
                cells.append(_video_html(item, self.embed, label, style=False))
        # The only style attribute built from a value: an int, so nothing to escape.
        return (
            _style()
            + '<div class="luma-nb-grid" style="display:grid;gap:12px;'
            + f'grid-template-columns:repeat({columns:d},minmax(0,1fr))">'
            + "".join(cells)
            + "</div>"
        )

    def text(self) -> str:
        """The grid as plain text: each item's text under its label."""
        if not self.items:
            return "Luma grid: no videos"
        blocks = []
        for item, label in zip(self.items, self.labels, strict=True):
            if isinstance(item, Task):
                blocks.append(_safe_text(partial(_task_text, item, label, None), "task"))
            else:
                blocks.append(_safe_text(partial(_video_text, item, label), "video"))
        return "\n\n".join(blocks)


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


def bundle(item: Video | Task | GridView, embed: bool | None = None) -> dict[str, str]:
    """The ``{text/html, text/plain}`` bundle of a video, task or grid (for display areas)."""
    if isinstance(item, GridView):
        if embed is not None:
            item = GridView(item.items, item.labels, item.columns, embed)
        return item._repr_mimebundle_()
    if isinstance(item, Task):
        return {"text/html": task_html(item, embed=embed), "text/plain": task_text(item)}
    if isinstance(item, Video):
        return {"text/html": video_html(item, embed=embed), "text/plain": video_text(item)}
    raise TypeError(f"show() displays a Video, a Task or a grid, not {type(item).__name__}")


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def show(item: Video | Task | GridView, *, embed: bool | None = None) -> None:
    """Display a video, a task or a grid now.

    In IPython/Jupyter this displays a ``{text/html, text/plain}`` bundle (a terminal IPython
    shows the text); in plain Python it prints the text.

    Parameters
    ----------
    item : Video, Task or GridView
        What to show.
    embed : bool or None
        As for :func:`video_html`.

    Raises
    ------
    TypeError
        When ``item`` is none of these.
    """
    mimebundle = bundle(item, embed)
    if not _in_ipython():
        print(mimebundle["text/plain"])
        return
    from IPython.display import display

    display(mimebundle, raw=True)  # type: ignore[no-untyped-call]  # IPython ships no types here
