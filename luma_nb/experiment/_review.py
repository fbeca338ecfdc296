"""The blind review: every video rated 1 to 5 with its arm hidden, until a confirmed Reveal.

A two-arm study shows each pair side by side as A and B; which arm is A is drawn per pair
from the study's seed (:attr:`Plan.shown_first`). A study of three or more arms shows every
video on its own, numbered, in an order shuffled across blocks and arms from the seed
(:func:`~luma_nb.experiment._plan.review_order`): rated alone, a video is judged on its own
merits rather than against its neighbours. Either way the review looks the same every time
it is opened, also after a restart. A progress line counts the ratings ("4 of 12 rated").

Saving writes ``log.rate(iteration, stars, note)``. Reveal asks first (a second button
confirms; Cancel keeps the arms hidden), since it cannot be undone: a rating saved after
Reveal is no longer blind, and its iteration is tagged ``rated-after-reveal`` so an
analysis can leave it out.

Save and the confirmation go through one :class:`~luma_nb._click_guard.ClickGuard` (the
panel's kind): a second click of Save with the same rating and note within its window (2 s
by default) writes nothing and the card says so; a double click of the confirmation
reveals once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from luma_nb._click_guard import DEFAULT_WINDOW, ClickGuard
from luma_nb._html import esc
from luma_nb.experiment._plan import review_order
from luma_nb.experiment._review_card import LABELS, ReviewCard, ReviewPair, ReviewSingle
from luma_nb.render import snapshot
from luma_nb.render import text as plain
from luma_nb.render.frontend import LiveSnapshot

if TYPE_CHECKING:
    from luma_nb.experiment._experiment import Experiment

__all__ = ["UNBLINDED_TAG", "BlindReview", "ReviewCard", "ReviewPair", "ReviewSingle"]

#: The tag given to an iteration rated after the arms were revealed.
UNBLINDED_TAG = "rated-after-reveal"
_REVEALED = (
    '<span class="luma-nb-muted">Arms revealed. Ratings saved from now on are tagged '
    f"<code>{UNBLINDED_TAG}</code> in the session log.</span>"
)


class BlindReview:
    """The blind review of a study (made by :meth:`Experiment.review`).

    Display it as a cell's last expression. Built and clicked from plain Python as well:
    set ``card.rating.value``, call ``card.save_button.click()``, then
    ``review.reveal_button.click()`` and ``review.confirm_button.click()`` (or
    ``review.reveal()``).

    Parameters
    ----------
    experiment : Experiment
    embed : bool or None
        Passed to the players (None: embed when the browser could not reach the video).
    click_window : float
        Seconds during which a repeated click (Save with the same rating, the confirmation)
        does nothing (default 2).
    clock : callable, optional
        ``clock() -> seconds`` for that window (default :func:`time.monotonic`).

    Attributes
    ----------
    pairs : list of ReviewPair
        A two-arm study's pairs (empty otherwise).
    singles : list of ReviewSingle
        A study of more arms: every video on its own, in review order (empty otherwise).
    cards : list of ReviewCard
        Every card, in the order shown.
    progress : ipywidgets.HTML
        "4 of 12 rated".
    reveal_button, confirm_button, cancel_button : ipywidgets.Button
        Reveal asks; the confirmation reveals; Cancel keeps the arms hidden.
    click_guard : ClickGuard
    message : ipywidgets.HTML
        The review's status line.
    widget : ipywidgets.VBox
        The whole review.
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
        plan = experiment.plan()
        rows = {row["iteration"]: row for row in experiment.log.to_records()}
        self.pairs: list[ReviewPair] = []
        self.singles: list[ReviewSingle] = []
        if len(plan.arms) == 2:
            keys = [arm.key for arm in plan.arms]
            for pair in plan.pairs:
                first = plan.shown_first.get(pair, keys[0])
                arms = {"A": first, "B": keys[1] if first == keys[0] else keys[0]}
                cards = {}
                for label in LABELS:
                    iteration = experiment.iteration(pair, arms[label])
                    cards[label] = ReviewCard(
                        label, iteration, rows.get(iteration), embed=embed, on_save=self._save
                    )
                words = {label: plan.arm(arms[label]).words() for label in LABELS}
                self.pairs.append(ReviewPair(pair, plan.prompt_of(pair), arms, cards, words))
            self.cards = [p.cards[label] for p in self.pairs for label in LABELS]
            shown: list[widgets.Widget] = [pair.widget for pair in self.pairs]
        else:
            for number, unit in enumerate(review_order(plan), start=1):
                iteration = experiment.iteration(unit.pair, unit.arm)
                single = ReviewCard(
                    str(number), iteration, rows.get(iteration), embed=embed, on_save=self._save
                )
                self.singles.append(
                    ReviewSingle(
                        number,
                        unit.pair,
                        unit.arm,
                        plan.arm(unit.arm).words(),
                        plan.prompt_of(unit.pair),
                        single,
                    )
                )
            self.cards = [s.card for s in self.singles]
            shown = [
                widgets.HBox(
                    [s.widget for s in self.singles], layout=widgets.Layout(flex_flow="row wrap")
                )
            ]
        self.progress = widgets.HTML()
        self.reveal_button = widgets.Button(
            description="Reveal arms…",
            icon="eye",
            tooltip="Show which arm each video is (asks first)",
            layout=widgets.Layout(width="auto"),
        )
        self.confirm_button = widgets.Button(
            description="Yes, reveal", button_style="warning", layout=widgets.Layout(width="auto")
        )
        self.cancel_button = widgets.Button(
            description="Keep hidden", layout=widgets.Layout(width="auto")
        )
        self.confirm_text = widgets.HTML()
        self.confirm = widgets.HBox(
            [self.confirm_text, self.confirm_button, self.cancel_button],
            layout=widgets.Layout(display="none", align_items="center"),
        )
        self.reveal_button.on_click(self._ask)
        self.confirm_button.on_click(self._confirmed)
        self.cancel_button.on_click(self._cancelled)
        how = (
            "A and B are shuffled per pair"
            if self.pairs
            else "the videos are numbered in a shuffled order, each rated on its own"
        )
        self.message = widgets.HTML(
            f'<span class="luma-nb-muted">Rate each video 1 to 5 and Save. The arms are '
            f"hidden: {how}. Reveal when you are done.</span>"
        )
        #: The static copy a saved notebook keeps (see :mod:`luma_nb.render.snapshot`).
        self.snapshot = LiveSnapshot(self._snapshot_html, self._snapshot_text)
        self._update_progress()
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    f"<style>{snapshot.live_rule(self.snapshot.key)}</style>"
                    f"<b>Blind review · experiment {esc(experiment.id)}</b>"
                ),
                self.message,
                self.progress,
                *shown,
                widgets.HBox([self.reveal_button, self.confirm]),
            ]
        )
        self.widget.add_class("luma-nb-review")

    def card(self, pair: int, label: str) -> ReviewCard:
        """The card of video ``label`` (``"A"``/``"B"``) of ``pair`` (KeyError if none)."""
        for item in self.pairs:
            if item.pair == pair:
                return item.cards[label]
        raise KeyError(f"no pair {pair!r} in this review")

    # ------------------------------------------------------------------ progress

    def rated(self) -> int:
        """How many videos have a rating."""
        return sum(c.stars is not None for c in self.cards)

    def progress_text(self) -> str:
        """``"4 of 12 rated"`` (and how many have no video yet)."""
        ready = sum(c.video is not None for c in self.cards)
        text = f"{self.rated()} of {ready} rated"
        if ready < len(self.cards):
            text += f" ({len(self.cards) - ready} without a video yet)"
        return text

    def _update_progress(self) -> None:
        self.progress.value = f"<b>{esc(self.progress_text())}</b>"

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
            self._update_progress()
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

    # ------------------------------------------------------------------ reveal

    def _ask(self, _button: object) -> None:
        if self.revealed:
            return
        unrated = sum(c.video is not None and c.stars is None for c in self.cards)
        still = f" {unrated} video(s) are not rated yet." if unrated else ""
        self.confirm_text.value = (
            f"Reveal every video's arm? This cannot be undone: ratings saved afterwards are "
            f"tagged <code>{UNBLINDED_TAG}</code>.{esc(still)}&nbsp;"
        )
        self.confirm.layout.display = "flex"

    def _cancelled(self, _button: object) -> None:
        self.confirm.layout.display = "none"

    def _confirmed(self, _button: object) -> None:
        # reveal() disables the buttons itself, so the guard is given none to restore.
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
        for single in self.singles:
            single.reveal.value = f"<b>Revealed</b> · {esc(single.reveal_text())}"
        self.message.value = _REVEALED
        self.reveal_button.disabled = True
        self.confirm_button.disabled = True
        self.confirm.layout.display = "none"
        self.snapshot.refresh()

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.snapshot.widget_bundle(self.widget, **kwargs)

    def _ipython_display_(self) -> None:
        # The widget, then a static snapshot (videos, ratings) that a saved notebook keeps.
        self.snapshot.show(
            self.widget._repr_mimebundle_(),
            "Blind review (a live widget: run the notebook to rate). "
            "Its videos and ratings are in the static copy below.",
        )

    def _captions(self) -> list[tuple[ReviewCard, str]]:
        """Each card with its caption (its arm in words once revealed), in the order shown."""
        result = []
        for pair in self.pairs:
            for label in LABELS:
                caption = f"Pair {pair.pair} · Video {label} · prompt: {pair.prompt}"
                if self.revealed:
                    caption += f" · {pair.words(label)}"
                result.append((pair.cards[label], caption))
        for single in self.singles:
            caption = f"Video {single.number} · prompt: {single.prompt}"
            if self.revealed:
                caption += f" · {single.reveal_text()}"
            result.append((single.card, caption))
        return result

    def _snapshot_sentence(self) -> str:
        arms = "arms revealed" if self.revealed else "arms hidden"
        return (
            f"{self.rated()} of {len(self.cards)} videos rated, {arms}. A static copy saved "
            "with the notebook: run the notebook to rate."
        )

    def _snapshot_html(self) -> str:
        cells = [
            snapshot.cell(c.html, c.stars, c.note_text, caption=caption)
            for c, caption in self._captions()
        ]
        title = f"Blind review · experiment {self._experiment.id}"
        return snapshot.snapshot_html(self.snapshot.key, title, self._snapshot_sentence(), cells)

    def _snapshot_text(self) -> str:
        blocks = []
        for c, caption in self._captions():
            body = plain.video_text(c.video, caption) if c.video else f"{caption}: no video"
            rated = snapshot.rated_lines(c.stars, c.note_text)
            blocks.append(body + (f"\n{rated}" if rated else ""))
        title = f"Blind review · experiment {self._experiment.id}"
        return snapshot.snapshot_text(title, self._snapshot_sentence(), blocks)
