"""The presentation half's one renderer: every way a result reaches a person goes through here.

Modules, one job each (import what you need; nothing here imports IPython or ipywidgets):

``media``
    :func:`~luma_nb.render.media.place` and :class:`~luma_nb.render.media.Media`: how a
    video or image reaches the page (remote URL, cached or saved file, embedded data under
    the cap), with the embed cap and the fetcher.
``markup``
    The one builder of ``<video>``/``<img>`` markup, the shared stylesheet and
    :class:`~luma_nb.render.markup.RichView`.
``card``
    The one card builder and its parts (head and badges, player, prompts sent and echoed,
    facts, error, rating, labels), from which each view picks what it needs.
``filmstrip``
    The filmstrip part: a video's evenly spaced frames as one embedded, inert picture, made
    once from the cached file (never downloaded for it).
``measured``
    Measured values in a card: the key metrics on one line, every metric in a list.
``diff``
    The echoed prompt as a word diff of the one sent.
``row_card``
    The card of one session-log row as a reader wants it (details folded away), and the
    overview table: the reports and ``history(cards=True)``.
``page``
    Standalone pages: the shell (CSP, styles), sections, columns, dates, the atomic writer.
``text``
    The one ``text/plain`` renderer: short (under 2 KB), terminal-safe, never media data.
``adapt``
    The one adapter from a session-log row (or a task) to a :class:`~luma_nb.models.Video`.
``frontend``
    The one "are we in a notebook" check and the display helpers built on it.

The views built on it: :mod:`luma_nb.display` (cards, ``show``, ``grid``, the session's cards),
:mod:`luma_nb.report`, :mod:`luma_nb.chain`, the panel's results and the experiment's review.
"""
