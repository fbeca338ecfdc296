"""The parts of the blind review: one video's card, a pair side by side, a video on its own.

A card shows only the player (through the one renderer, :mod:`luma_nb.render`): no prompt
(the echoed prompt would give an enhanced arm away), no ids, no flags. The text every arm of
a block shares — the block's prompt, a template's factor slots shown as "…" — is shown
above the video(s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from luma_nb._html import esc
from luma_nb.display import video_html
from luma_nb.render.adapt import video_from_row
from luma_nb.render.card import card, state_badge

__all__ = ["LABELS", "ReviewCard", "ReviewPair", "ReviewSingle"]

#: The labels of the two videos of a pair.
LABELS = ("A", "B")


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
        ``{"A": arm key, "B": arm key}`` — hidden from the page until Reveal.
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
        words: dict[str, str],
    ) -> None:
        self.pair = pair
        self.prompt = prompt
        self.arms = arms
        self.cards = cards
        self._words = words
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
        return " · ".join(f"{label}: {self._words[label]}" for label in LABELS)

    def words(self, label: str) -> str:
        """The arm of video ``label`` in words (for the reveal)."""
        return self._words[label]


class ReviewSingle:
    """One video rated on its own (a study of three or more arms), and its reveal line.

    Attributes
    ----------
    number : int
        Its position in the review (1, 2, ...), the only name it has while blind.
    pair : int
        Its block.
    arm : str
        Its arm's key — hidden from the page until Reveal.
    prompt : str
        The text every arm of its block shares.
    card : ReviewCard
    reveal : ipywidgets.HTML
    """

    def __init__(
        self, number: int, pair: int, arm: str, words: str, prompt: str, card: ReviewCard
    ) -> None:
        self.number = number
        self.pair = pair
        self.arm = arm
        self.prompt = prompt
        self.card = card
        self._words = words
        self.reveal = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    f"<b>Video {number}</b> · prompt: "
                    f'<span class="luma-nb-prompt">{esc(prompt)}</span>'
                ),
                card.widget,
                self.reveal,
            ],
            layout=widgets.Layout(
                flex="1 1 340px", border_bottom="1px solid #ddd", padding="6px 0"
            ),
        )
        self.widget.add_class("luma-nb-review-single")

    def reveal_text(self) -> str:
        """The video's arm in words, e.g. ``"enhancement on, loop off"``."""
        return self._words
