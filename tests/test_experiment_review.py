"""The blind review grid, built and clicked without a browser."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from _experimenttools import make_client

import luma_nb
from luma_nb.experiment import Experiment, compare_enhancement
from luma_nb.experiment._plan import new_plan
from luma_nb.experiment._review import UNBLINDED_TAG, BlindReview
from luma_nb.simulator import Simulator, VirtualClock

pytest.importorskip("ipywidgets")

PROMPTS = ["a red kite over green hills", "a fox in the snow", "neon rain on glass"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Experiment]:
    """One study run once for the module (clips are rendered once)."""
    tmp_path = tmp_path_factory.mktemp("study")
    sim = Simulator(clock=VirtualClock(), seed=7)
    try:
        yield compare_enhancement(
            PROMPTS,
            seed=21,
            client=make_client(sim, tmp_path),
            session=luma_nb.SessionLog(tmp_path / "s.jsonl"),
        )
    finally:
        sim.close()


@pytest.fixture
def study(finished: Experiment, tmp_path: Path) -> Experiment:
    """The module's study on a private copy of its log, so each test rates on its own."""
    copy = tmp_path / "copy.jsonl"
    shutil.copyfile(finished.log.path, copy)
    return Experiment.load(copy, finished.id)


def test_pairs_are_side_by_side_with_the_arms_hidden(study: Experiment) -> None:
    review = study.review()
    assert [p.pair for p in review.pairs] == [1, 2, 3]
    rows = {row["iteration"]: row for row in study.log.to_records()}
    for pair in review.pairs:
        assert sorted(pair.arms.values()) == ["off", "on"]
        assert pair.reveal.value == ""
        for label, card in pair.cards.items():
            html = card.player.value
            assert "<video" in html and "data:video/mp4;base64," in html  # embedded clip
            assert f"Video {label}" in html
            row = rows[card.iteration]
            assert row["arm"] == pair.arms[label]
            # Nothing on the card tells the arms apart: no prompt, no echo, no flag, no id.
            assert row["echoed_prompt"] not in html and row["prompt"] not in html
            assert "enhancement" not in html.lower()
            assert row["task_id"] not in html
        # The prompt sent (the same for both) is shown above the pair.
        assert pair.prompt == study.plan().prompt_of(pair.pair)


def test_a_and_b_are_shuffled_per_pair_and_stable(study: Experiment, tmp_path: Path) -> None:
    first = [p.arms for p in study.review().pairs]
    assert [p.arms for p in study.review().pairs] == first
    # Also after a restart (a new Experiment from the log).
    reloaded = Experiment.load(study.log.path, study.id)
    assert [p.arms for p in reloaded.review().pairs] == first
    # Over many pairs, both arms are shown first sometimes.
    plan = new_plan([f"p{n}" for n in range(12)], repeats=1, concurrency=1, seed=3, params={})
    assert set(plan.shown_first.values()) == {"on", "off"}


def test_saving_a_rating_writes_it_to_the_log(study: Experiment) -> None:
    review = study.review()
    card = review.card(2, "B")
    assert card.save_button.disabled  # nothing chosen yet
    card.rating.value = 4
    card.note.value = "  smooth camera  "
    assert not card.save_button.disabled
    card.save_button.click()
    row = study.log.row(card.iteration)
    assert row["rating"] == 4 and row["note"] == "smooth camera"
    assert UNBLINDED_TAG not in row["tags"]
    assert "saved: 4/5" in card.status.value
    # The other videos are untouched.
    other = review.card(2, "A")
    assert study.log.row(other.iteration)["rating"] is None
    # A new grid shows what was saved.
    again = study.review().card(2, "B")
    assert again.rating.value == 4 and again.note.value == "smooth camera"


def test_ratings_from_the_grid_reach_the_summary(study: Experiment) -> None:
    review = study.review()
    for pair in review.pairs:
        for label, card in pair.cards.items():
            card.rating.value = 5 if pair.arms[label] == "on" else 2
            card.save_button.click()
    summary = study.summary()
    assert summary.on.mean_rating == 5 and summary.off.mean_rating == 2
    assert summary.paired.on_better == 3 and summary.paired.p_value == 0.25


def test_reveal_asks_first_and_cancel_keeps_the_arms_hidden(study: Experiment) -> None:
    review = study.review()
    assert review.confirm.layout.display == "none"
    review.card(1, "A").rating.value = 4
    review.card(1, "A").save_button.click()
    review.reveal_button.click()
    # One click only asks: nothing is shown yet, and the question says what is at stake.
    assert not review.revealed and review.confirm.layout.display == "flex"
    assert all(pair.reveal.value == "" for pair in review.pairs)
    assert "cannot be undone" in review.confirm_text.value
    assert "5 video(s) are not rated yet" in review.confirm_text.value
    review.cancel_button.click()
    assert not review.revealed and review.confirm.layout.display == "none"
    assert "enhancement on" not in review._snapshot_html()


def test_progress_counts_the_ratings(study: Experiment) -> None:
    review = study.review()
    assert review.progress_text() == "0 of 6 rated"
    for n, card in enumerate(review.cards[:4]):
        card.rating.value = 1 + n
        card.save_button.click()
    assert review.progress_text() == "4 of 6 rated"
    assert "4 of 6 rated" in review.progress.value
    assert study.review().progress_text() == "4 of 6 rated"  # read back from the log


def test_reveal_shows_the_arms(study: Experiment) -> None:
    review = study.review()
    review.reveal_button.click()
    review.confirm_button.click()
    assert review.revealed and review.reveal_button.disabled
    assert review.confirm.layout.display == "none"
    for pair in review.pairs:
        text = pair.reveal.value
        assert f"A: enhancement {pair.arms['A']}" in text
        assert f"B: enhancement {pair.arms['B']}" in text
    assert UNBLINDED_TAG in review.message.value
    # A rating saved after the reveal is no longer blind, and the log says so.
    card = review.card(1, "A")
    card.rating.value = 3
    card.save_button.click()
    row = study.log.row(card.iteration)
    assert row["rating"] == 3 and UNBLINDED_TAG in row["tags"]


def test_missing_videos_get_a_placeholder(tmp_path: Path) -> None:
    sim = Simulator(clock=VirtualClock(), seed=7)
    try:
        with pytest.warns(luma_nb.experiment.ExperimentWarning):
            study = compare_enhancement(
                PROMPTS[:1],
                seed=1,
                concurrency=1,
                max_wait=1,
                client=make_client(sim, tmp_path),
                session=luma_nb.SessionLog(tmp_path / "s.jsonl"),
            )
    finally:
        sim.close()
    review = study.review()
    cards = list(review.pairs[0].cards.values())
    states = {c.player.value.split("(")[-1].split(")")[0] for c in cards}
    assert "not submitted" in states and len(states) == 2  # the other is still running
    assert all("<video" not in c.player.value for c in cards)
    assert all(c.rating.disabled for c in cards)


def test_the_grid_displays_as_a_widget(study: Experiment) -> None:
    bundle = study.review()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_open_grid_shows_pairs_and_arms(study: Experiment) -> None:
    html = study.grid().html()
    assert html.count("<video") == 6
    assert "pair 1 · enhancement on" in html and "Prompt echoed" in html
    assert study.video(1, "on") is not None


def test_the_study_exports_a_standalone_report(study: Experiment, tmp_path: Path) -> None:
    study.rate(1, "on", 5, note="crisp <b>edges</b>")
    path = study.export_html(tmp_path / "study.html")
    page = path.read_text(encoding="utf-8")
    assert page.count("<video") == 2 * len(PROMPTS)  # every video of the study
    assert "data:video/mp4;base64," in page  # embedded: opens with no network
    assert "crisp &lt;b&gt;edges&lt;/b&gt;" in page  # the reviewer's note, escaped
    assert study.id in page
    assert "sign test" in page.lower()  # the summary block is included


# ----------------------------------------------------------------------------- double clicks


class Tick:
    """A clock for the click window that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _events(path: Path, kind: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(json.loads(line).get("event") == kind for line in lines)


def test_a_double_click_on_save_writes_one_rating_event(study: Experiment) -> None:
    tick = Tick()
    review = BlindReview(study, click_window=2.0, clock=tick)
    path = study.log.path
    card = review.card(1, "A")
    card.rating.value = 3
    card.save_button.click()
    card.save_button.click()  # back to back
    assert _events(path, "rate") == 1
    assert "ignored" in card.status.value and "not saved twice" in card.status.value
    assert not card.save_button.disabled and card.save_button.description == "Save"
    tick.now += 0.03
    card.save_button.click()
    assert _events(path, "rate") == 1
    card.note.value = "jerky pan"  # a changed note is a new rating, saved at once
    card.save_button.click()
    assert _events(path, "rate") == 2 and "saved: 3/5" in card.status.value
    tick.now += 2.0
    card.save_button.click()  # the same again after the window: deliberate
    assert _events(path, "rate") == 3


def test_a_double_click_on_reveal_reveals_once(study: Experiment) -> None:
    review = BlindReview(study, clock=Tick())
    path = study.log.path
    before = path.read_text(encoding="utf-8")
    review.reveal_button.click()
    review.reveal_button.click()  # asking twice is asking once
    assert not review.revealed
    review.confirm_button.click()
    review.confirm_button.click()
    assert review.revealed and review.reveal_button.disabled
    assert "second click of Reveal was ignored" in review.message.value
    assert path.read_text(encoding="utf-8") == before  # Reveal writes no event
    card = review.card(1, "B")
    card.rating.value = 2
    card.save_button.click()
    card.save_button.click()
    assert _events(path, "rate") == 1 and _events(path, "tag") == 1  # one unblinded rating


def test_the_study_grid_text_is_short_and_its_videos_keep_their_urls(study: Experiment) -> None:
    view = study.grid()
    bundle = view._repr_mimebundle_()
    assert "data:video/mp4;base64," in bundle["text/html"]  # embedded from the saved copies
    assert len(bundle["text/plain"].encode("utf-8")) < 2048
    assert "base64" not in bundle["text/plain"]
    video = study.video(1, "on")
    assert video is not None and not video.video_url.startswith("data:")
    assert video.media_path  # the saved copy the renderer embeds


def test_the_review_keeps_a_snapshot_for_the_saved_notebook(
    study: Experiment, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython.display

    shown: list[dict] = []
    updated: list[dict] = []
    monkeypatch.setattr(IPython.display, "display", lambda b, raw, display_id=None: shown.append(b))
    monkeypatch.setattr(
        IPython.display, "update_display", lambda b, raw, display_id: updated.append(b)
    )
    review = study.review()
    review._ipython_display_()
    widget, snap = shown
    assert widget["text/plain"].startswith("Blind review (a live widget")
    assert snap["text/html"].count("<video") == 6
    assert "0 of 6 videos rated, arms hidden" in snap["text/html"]
    assert "enhancement on" not in snap["text/html"]  # still blind
    assert len(snap["text/plain"].encode()) < 2048 and "base64" not in snap["text/plain"]

    card = review.card(1, "A")
    card.rating.value = 5
    card.save_button.click()
    assert "1 of 6 videos rated" in updated[-1]["text/html"]
    assert "5/5" in updated[-1]["text/html"] and "rating 5/5" in updated[-1]["text/plain"]
    review.reveal()
    assert "arms revealed" in updated[-1]["text/html"]
    assert "enhancement on" in updated[-1]["text/html"]
