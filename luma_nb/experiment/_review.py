"""The blind review grid: each pair side by side as A and B, arms hidden until Reveal.

Which arm is A is drawn per pair from the study's seed (:attr:`Plan.shown_first`), so the
grid looks the same every time it is opened, also after a restart. The cards show only the
player: no prompt (the echoed prompt would give the enhanced arm away), no ids, no flags. The
prompt sent is the same for both videos of a pair, so it is shown above them.

Saving writes ``log.rate(iteration, stars, note)``. A rating saved after Reveal is no longer
blind: its iteration is tagged ``rated-after-reveal`` so an analysis can leave it out.

Save and Reveal go through one :class:`~luma_nb._click_guard.ClickGuard` (the panel's kind):
a second click of Save with the same rating and note within its window (2 s by default)
writes nothing and the card says so; a double click of Reveal reveals once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from luma_nb._click_guard import DEFAULT_WINDOW, ClickGuard
from luma_nb._html import esc
from luma_nb.display import video_html
from luma_nb.render import snapshot
from luma_nb.render import text as plain
from luma_nb.render.adapt import video_from_row
from luma_nb.render.card import card, state_badge
from luma_nb.render.frontend import LiveSnapshot

if TYPE_CHECKING:
    from luma_nb.experiment._experiment import Experiment

__all__ = ["UNBLINDED_TAG", "BlindReview", "ReviewCard", "ReviewPair"]

#: The tag given to an iteration rated after the arms were revealed.
UNBLINDED_TAG = "rated-after-reveal"
LABELS = ("A", "B")
_ARM_WORDS = {"on": "enhancement on", "off": "enhancement off"}
_REVEALED = (
    '<span class="luma-nb-muted">Arms revealed. Ratings saved from now on are tagged '
    f"<code>{UNBLINDED_TAG}</code> in the session log.</span>"
)


class ReviewCard:
    """One video of a pair: its player, a 1-5 rating, an optional note and Save.

    Attributes
    ----------
    label : str
        ``"A"`` or ``"B"``.
    iteration : str
        The session-log iteration it rates.
    rating : ipywidgets.ToggleButtons
        Values 1 to 5 (None until chosen; preset from the log).
    note : ipywidgets.Text
    save_button : ipywidgets.Button
    status : ipywidgets.HTML
        Says what was saved.
    """

    def __init__(
        self,
        label: str,
        iteration: str,
        row: dict[str, Any] | None,
        *,
        embed: bool | None,
        on_save: Callable[[ReviewCard], None],
    ) -> None:
        self.label = label
        self.iteration = iteration
        video = None if row is None else video_from_row(row, blind=True)
        if video is not None:
            html = video_html(video, embed=embed, label=f"Video {label}")
        else:
            # The state says nothing about the arm (both arms can fail or still be running).
            state = "not submitted" if row is None else str(row.get("state") or "unknown")
            html = card(f"Video {label}", [state_badge(state)], status=f"No video yet ({state}).")
        self.player = widgets.HTML(html)
        #: The card, the video and the saved rating and note (the snapshot shows them).
        self.html = html
        self.video = video
        rating = row.get("rating") if row else None
        self.stars: int | None = int(rating) if rating is not None else None
        self.note_text = str(row.get("note") or "") if row else ""
        self.rating = widgets.ToggleButtons(
            options=[(str(n), n) for n in range(1, 6)],
            value=int(rating) if rating is not None else None,
            style={"button_width": "2.4em"},
            disabled=video is None,
        )
        self.note = widgets.Text(
            value=str(row.get("note") or "") if row else "",
            placeholder="a note (optional)",
            layout=widgets.Layout(width="95%"),
            disabled=video is None,
        )
        self.save_button = widgets.Button(
            description="Save", icon="check", disabled=self.rating.value is None
        )
        self.save_button.layout = widgets.Layout(width="auto")
        self.status = widgets.HTML()
        if rating is not None:
            self.status.value = f'<span class="luma-nb-muted">saved: {int(rating)}/5</span>'
        self.rating.observe(
            lambda change: setattr(self.save_button, "disabled", change["new"] is None), "value"
        )
        self.save_button.on_click(lambda _button: on_save(self))
        self.widget = widgets.VBox(
            [
                self.player,
                widgets.HTML(f'<span class="luma-nb-muted">Rate video {esc(label)}, 1 to 5</span>'),
                self.rating,
                self.note,
                widgets.HBox(
                    [self.save_button, self.status], layout=widgets.Layout(align_items="center")
                ),
            ],
            layout=widgets.Layout(flex="1 1 320px", padding="0 8px 0 0"),
        )
        self.widget.add_class("luma-nb-review-card")


class ReviewPair:
    """The two videos of one pair, and the line that reveals their arms.

    Attributes
    ----------
    pair : int
    prompt : str
    arms : dict
        ``{"A": arm, "B": arm}`` — hidden from the page until Reveal.
    cards : dict
        ``{"A": ReviewCard, "B": ReviewCard}``.
    reveal : ipywidgets.HTML
        Empty until Reveal, then which arm each video was.
    """

    def __init__(
        self,
        pair: int,
        prompt: str,
        arms: dict[str, str],
        cards: dict[str, ReviewCard],
    ) -> None:
        self.pair = pair
        self.prompt = prompt
        self.arms = arms
        self.cards = cards
        self.reveal = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    f"<b>Pair {pair}</b> · prompt: "
                    f'<span class="luma-nb-prompt">{esc(prompt)}</span>'
                ),
                widgets.HBox(
                    [cards[label].widget for label in LABELS],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                self.reveal,
            ],
            layout=widgets.Layout(border_bottom="1px solid #ddd", padding="6px 0"),
        )
        self.widget.add_class("luma-nb-review-pair")

    def reveal_text(self) -> str:
        """``"A: enhancement on · B: enhancement off"`` (or the other way round)."""
        return " · ".join(f"{label}: {_ARM_WORDS[self.arms[label]]}" for label in LABELS)


class BlindReview:
    """The blind review grid of a study (made by :meth:`Experiment.review`).

    Display it as a cell's last expression. Built and clicked from plain Python as well:
    set ``card.rating.value``, call ``card.save_button.click()``, then
    ``review.reveal_button.click()``.

    Parameters
    ----------
    experiment : Experiment
    embed : bool or None
        Passed to the players (None: embed when the browser could not reach the video).
    click_window : float
        Seconds during which a repeated click (Save with the same rating, Reveal) does
        nothing (default 2).
    clock : callable, optional
        ``clock() -> seconds`` for that window (default :func:`time.monotonic`).

    Attributes
    ----------
    pairs : list of ReviewPair
    click_guard : ClickGuard
    reveal_button : ipywidgets.Button
    message : ipywidgets.HTML
        The grid's status line.
    widget : ipywidgets.VBox
        The whole grid.
    """

    def __init__(
        self,
        experiment: Experiment,
        *,
        embed: bool | None = None,
        click_window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._experiment = experiment
        self.click_guard = ClickGuard(click_window, clock)
        self.revealed = False
        plan = experiment.plan
        rows = {row["iteration"]: row for row in experiment.log.to_records()}
        self.pairs: list[ReviewPair] = []
        for pair in plan.pairs:
            first = plan.shown_first.get(pair, "on")
            arms = {"A": first, "B": "off" if first == "on" else "on"}
            cards = {}
            for label in LABELS:
                iteration = experiment.iteration(pair, arms[label])
                cards[label] = ReviewCard(
                    label, iteration, rows.get(iteration), embed=embed, on_save=self._save
                )
            self.pairs.append(ReviewPair(pair, plan.prompt_of(pair), arms, cards))
        self.reveal_button = widgets.Button(
            description="Reveal arms",
            icon="eye",
            tooltip="Show which video of each pair had enhancement on",
            layout=widgets.Layout(width="auto"),
        )
        self.reveal_button.on_click(self._reveal_clicked)
        self.message = widgets.HTML(
            '<span class="luma-nb-muted">Rate each video 1 to 5 and Save. The arms are '
            "hidden: A and B are shuffled per pair. Reveal when you are done.</span>"
        )
        #: The static copy a saved notebook keeps (see :mod:`luma_nb.render.snapshot`).
        self.snapshot = LiveSnapshot(self._snapshot_html, self._snapshot_text)
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    f"<style>{snapshot.live_rule(self.snapshot.key)}</style>"
                    f"<b>Blind review · experiment {esc(experiment.id)}</b>"
                ),
                self.message,
                *(pair.widget for pair in self.pairs),
                self.reveal_button,
            ]
        )
        self.widget.add_class("luma-nb-review")

    def card(self, pair: int, label: str) -> ReviewCard:
        """The card of video ``label`` (``"A"``/``"B"``) of ``pair`` (KeyError if none)."""
        for item in self.pairs:
            if item.pair == pair:
                return item.cards[label]
        raise KeyError(f"no pair {pair!r} in this review")

    def _save(self, card: ReviewCard) -> None:
        stars = card.rating.value
        if stars is None:
            return
        note = card.note.value.strip() or None
        log = self._experiment.log

        def write() -> None:
            log.rate(card.iteration, int(stars), note)
            if self.revealed:
                log.tag(card.iteration, UNBLINDED_TAG)
            card.stars, card.note_text = int(stars), note or ""
            self.snapshot.refresh()

        refusal = self.click_guard.run(
            ("save", card.iteration), (int(stars), note), write, button=card.save_button
        )
        if refusal is not None:
            said = esc(refusal.sentence("rating", "saved"))
            card.status.value = f'<span class="luma-nb-muted">{said}</span>'
            return
        shown = f" · {esc(note)}" if note else ""
        card.status.value = f'<span class="luma-nb-muted">saved: {int(stars)}/5{shown}</span>'

    def _reveal_clicked(self, _button: object) -> None:
        # Reveal disables its button itself, so the guard is given none to restore.
        if self.click_guard.run("reveal", True, self.reveal) is not None:
            self.message.value = (
                f'{_REVEALED} <span class="luma-nb-muted">(a second click of Reveal was '
                "ignored)</span>"
            )

    def reveal(self) -> None:
        """Show which arm each video was (ratings saved afterwards are tagged unblinded)."""
        self.revealed = True
        for pair in self.pairs:
            pair.reveal.value = f"<b>Revealed</b> · {esc(pair.reveal_text())}"
        self.message.value = _REVEALED
        self.reveal_button.disabled = True
        self.snapshot.refresh()

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = self._snapshot_text()
        return bundle

    def _ipython_display_(self) -> None:
        # The widget, then a static snapshot (videos, ratings) that a saved notebook keeps.
        self.snapshot.show(
            self.widget._repr_mimebundle_(),
            "Blind review (a live widget: run the notebook to rate). "
            "Its videos and ratings are in the static copy below.",
        )

    def _caption(self, pair: ReviewPair, label: str) -> str:
        caption = f"Pair {pair.pair} · Video {label} · prompt: {pair.prompt}"
        if self.revealed:
            caption += f" · {_ARM_WORDS[pair.arms[label]]}"
        return caption

    def _snapshot_sentence(self) -> str:
        rated = sum(c.stars is not None for p in self.pairs for c in p.cards.values())
        total = 2 * len(self.pairs)
        arms = "arms revealed" if self.revealed else "arms hidden"
        return (
            f"{rated} of {total} videos rated, {arms}. A static copy saved with the notebook: "
            "run the notebook to rate."
        )

    def _snapshot_html(self) -> str:
        cells = [
            snapshot.cell(c.html, c.stars, c.note_text, caption=self._caption(pair, label))
            for pair in self.pairs
            for label, c in pair.cards.items()
        ]
        title = f"Blind review · experiment {self._experiment.id}"
        return snapshot.snapshot_html(self.snapshot.key, title, self._snapshot_sentence(), cells)

    def _snapshot_text(self) -> str:
        blocks = []
        for pair in self.pairs:
            for label, c in pair.cards.items():
                caption = self._caption(pair, label)
                body = plain.video_text(c.video, caption) if c.video else f"{caption}: no video"
                rated = snapshot.rated_lines(c.stars, c.note_text)
                blocks.append(body + (f"\n{rated}" if rated else ""))
        title = f"Blind review · experiment {self._experiment.id}"
        return snapshot.snapshot_text(title, self._snapshot_sentence(), blocks)
