"""Extend chains: the lineage timeline and the chain player (in Python and in chromium)."""

from __future__ import annotations

import html.parser
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _simtools import CHROMIUM, CHROMIUM_ARGS, virtual_client

import luma_nb
from luma_nb import chain, display
from luma_nb.simulator import Simulator, VirtualClock

PROMPTS = (
    "a paper boat on a rainy street",
    'the boat reaches the <i>sea</i> & "waves"',
    "the moon rises over the water",
)


class Tags(html.parser.HTMLParser):
    """Start tags in order, with the text of each <script>."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        else:
            # Text nodes as a reader sees them: inline tags (a prompt diff's <ins>) split words
            # from their spaces, so whitespace is collapsed and blank nodes dropped.
            if data.strip():
                self.text.append(" ".join(data.split()))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[luma_nb.SessionLog]:
    """A session with a generate, two extends of it (a chain of 3) and an unrelated generate."""
    tmp_path = tmp_path_factory.mktemp("chain")
    sim = Simulator(clock=VirtualClock(), seed=5)
    client = virtual_client(sim, tmp_path)
    log = luma_nb.SessionLog(tmp_path / "session.jsonl")
    luma_nb.use(client, log)
    first = luma_nb.generate(PROMPTS[0])
    second = luma_nb.extend(first, prompt=PROMPTS[1])
    luma_nb.generate("an unrelated lighthouse")
    luma_nb.extend(second, prompt=PROMPTS[2])
    luma_nb.notebook.reset()
    yield log
    display.set_media_fetcher(None)
    sim.close()


def _last_of_chain(log: luma_nb.SessionLog) -> str:
    return str(log.to_records()[-1]["iteration"])


def test_timeline_shows_the_three_steps_in_order(chained: luma_nb.SessionLog) -> None:
    view = luma_nb.timeline(chained, _last_of_chain(chained))
    assert isinstance(view, chain.Timeline)
    markup = view.html()
    page = Tags(markup)
    text = " ".join(page.text)
    titles = re.findall(r"Step \d of 3 · \w+", text)
    assert titles == ["Step 1 of 3 · generate", "Step 2 of 3 · extend", "Step 3 of 3 · extend"]
    positions = [text.index(prompt) for prompt in PROMPTS]
    assert positions == sorted(positions), "the prompts come root first"
    assert "an unrelated lighthouse" not in text
    videos = page.all("video")
    assert len(videos) == 3
    assert all(str(v["src"]).startswith("data:video/mp4;base64,") for v in videos)
    # Each step shows its sent and echoed prompt, the elapsed time and its ids.
    rows = chained.lineage(_last_of_chain(chained))
    for row in rows:
        assert row["echoed_prompt"] in text and row["task_id"] in text
        assert row["iteration"] in text
    # One generation time a step (and the chain's total): the simulator's, labelled so.
    assert text.count("Generation time") == 4
    assert len(re.findall(r"Generation time \d[^(]*\(simulated\)", text)) == 3
    assert re.search(r"Generation time over the chain: [^.]+ \(simulated\)\.", text)
    assert "whole chain" in text and "already holds the whole chain" in text
    assert not page.all("script") and "<i>sea</i>" in text and "<i>" not in markup
    # The plain-text view is in the same order.
    plain = view.text()
    assert plain.index(PROMPTS[0]) < plain.index("the boat reaches") < plain.index(PROMPTS[2])


def test_timeline_defaults_to_the_last_iteration_and_accepts_a_video(
    chained: luma_nb.SessionLog,
) -> None:
    by_default = luma_nb.timeline(chained)
    assert [row["prompt"] for row in by_default.rows] == list(PROMPTS)
    row = chained.row(_last_of_chain(chained))
    video = luma_nb.Video(task_id=row["task_id"], video_url=row["video_url"])
    assert chain.timeline(chained, video).rows == by_default.rows
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.timeline(chained, "it-nope")
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.timeline(chained, 42)  # type: ignore[arg-type]
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.timeline(chained, embed="yes")  # type: ignore[arg-type]


def test_chain_player_sequences_three_clips_with_a_data_free_script(
    chained: luma_nb.SessionLog,
) -> None:
    player = luma_nb.chain_player(chained, _last_of_chain(chained))
    markup = player.html()
    page = Tags(markup)
    figures = page.all("figure")
    assert [f["data-step"] for f in figures] == ["0", "1", "2"]
    assert len(page.all("video")) == 3
    # The script is the constant plus the player's own random id: no prompt, no URL.
    assert page.scripts[0] == f'{chain._PLAYER_JS}("{player.element_id}");'
    assert re.fullmatch(r"luma-nb-chain-[0-9a-f]{16}", player.element_id)
    for prompt in PROMPTS:
        assert prompt not in page.scripts[0]
    text = " ".join(page.text)
    assert text.index(PROMPTS[0]) < text.index(PROMPTS[1]) < text.index(PROMPTS[2])
    # Controls stay hidden until the script shows them (dead buttons otherwise).
    [controls] = [a for tag, a in page.tags if a.get("data-role") == "controls"]
    assert "hidden" in controls
    # Two renderings (the same player shown twice) never share an id.
    first_id = player.element_id
    assert f'id="{first_id}"' not in player.html()


def test_chain_player_last_mode_is_one_script_free_clip(chained: luma_nb.SessionLog) -> None:
    player = luma_nb.chain_player(chained, mode="last")
    page = Tags(player.html())
    [video] = page.all("video")
    rows = chained.lineage(_last_of_chain(chained))
    assert str(video["src"]).startswith("data:video/mp4;base64,")
    assert not page.scripts
    assert "(the whole chain)" in " ".join(page.text)
    assert player.last == rows[-1]
    assert rows[-1]["video_url"] in player.text()
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.chain_player(chained, mode="loop")


def test_a_chain_of_one_and_a_failed_step(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"iteration": "it-1", "action": "generate", "state": "completed", "prompt": "a"},
        {
            "iteration": "it-2",
            "action": "extend",
            "state": "failed",
            "prompt": "b",
            "error_code": "api_error",
            "error_message": "boom <b>",
            "parent": "it-1",
        },
    ]
    rows[0]["video_url"] = "data:video/mp4;base64,AAAAGGZ0eXBtcDQy"
    timeline = chain.Timeline(rows, None)
    text = " ".join(Tags(timeline.html()).text)
    assert "api_error" in text and "boom <b>" in text
    player = chain.ChainPlayer(rows, None, "sequence")
    page = Tags(player.html())
    assert len(page.all("video")) == 1 and not page.scripts  # nothing to sequence
    assert "Step 2 is not playable" in " ".join(page.text)
    single = chain.Timeline(rows[:1], None)
    assert "whole chain" not in single.html()


def test_chain_starting_outside_the_session_says_so() -> None:
    rows = [
        {
            "iteration": "it-9",
            "action": "extend",
            "state": "completed",
            "video_id_sent": "vid-from-elsewhere",
        }
    ]
    text = " ".join(Tags(chain.Timeline(rows, None).html()).text)
    assert "not in this session" in text and "vid-from-elsewhere" in text


def _browser_or_skip() -> None:
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"no chromium at {CHROMIUM}")
    if missing:
        reason = "; ".join(missing) + " (scripts/install-browser.sh)"
        if os.environ.get("LUMA_NB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LUMA_NB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@pytest.mark.slow
def test_chain_player_advances_in_chromium(chained: luma_nb.SessionLog, tmp_path: Path) -> None:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    player = luma_nb.chain_player(chained)
    first = player.html()
    root = f"#{player.element_id}"
    second = player.html()  # the same player shown twice: both copies work
    other = f"#{player.element_id}"
    page_file = tmp_path / "player.html"
    page_file.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{first}{second}'
        "</body></html>",
        encoding="utf-8",
    )
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                *CHROMIUM_ARGS,
                "--autoplay-policy=no-user-gesture-required",
            ],
            timeout=60_000,
        )
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_file.as_uri())
            page.wait_for_function(
                f"document.querySelector('{root}').getAttribute('data-ready') === '1'"
            )
            page.wait_for_function(
                f"document.querySelector('{other}').getAttribute('data-ready') === '1'"
            )
            visible = f"Array.from(document.querySelectorAll('{root} figure')).map(f => !f.hidden)"
            assert page.evaluate(visible) == [True, False, False]
            assert page.is_visible(f"{root} [data-role=controls]")
            # Every clip's metadata loads (they are embedded): durations grow along the chain.
            page.wait_for_function(
                f"Array.from(document.querySelectorAll('{root} video'))"
                ".every(v => v.readyState >= 1)"
            )
            durations = page.evaluate(
                f"Array.from(document.querySelectorAll('{root} video')).map(v => v.duration)"
            )
            assert durations[0] < durations[1] < durations[2]
            # The first clip ends: the second takes its place, starting where the first ended.
            page.evaluate(
                f"document.querySelectorAll('{root} video')[0].dispatchEvent(new Event('ended'))"
            )
            page.wait_for_function(f"document.querySelector('{root}').dataset.current === '1'")
            assert page.evaluate(visible) == [False, True, False]
            start = page.evaluate(f"document.querySelectorAll('{root} video')[1].currentTime")
            assert start == pytest.approx(durations[0], abs=0.5)
            # "Whole chain" jumps to the last clip, from its start.
            page.click(f"{root} button[data-action=whole]")
            page.wait_for_function(f"document.querySelector('{root}').dataset.current === '2'")
            assert page.evaluate(visible) == [False, False, True]
            assert page.evaluate(
                f"document.querySelectorAll('{root} video')[2].currentTime"
            ) == pytest.approx(0, abs=0.5)
            assert not errors
            # Without scripts (a sanitised output) every clip is listed, controls stay hidden.
            quiet = browser.new_context(java_script_enabled=False).new_page()
            quiet.goto(page_file.as_uri())
            figures = quiet.locator(f"{root} figure")
            assert [figures.nth(i).is_visible() for i in range(3)] == [True, True, True]
            assert not quiet.is_visible(f"{root} [data-role=controls]")
        finally:
            browser.close()
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
