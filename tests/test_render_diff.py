"""Prompt diffs: what the service added to a prompt, word by word, escaped and inert."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from luma_nb.models import Video, VideoRequest
from luma_nb.render.card import prompt_facts, video_card
from luma_nb.render.diff import diff_markup, diff_prompts, diff_text, rewritten_share


def test_unchanged_echo_has_no_change() -> None:
    diff = diff_prompts("a fox at dawn", "a fox at dawn")
    assert not diff.changed
    assert diff.runs == (("same", "a fox at dawn"),)
    assert rewritten_share("a fox at dawn", "a fox at dawn") == 0.0


def test_enhancement_additions_are_marked() -> None:
    sent = "a fox at dawn"
    echoed = "a fox at dawn, slow dolly-in, golden hour light"
    diff = diff_prompts(sent, echoed)
    assert diff.changed and diff.removed_words == 0
    assert diff.added_words == 5
    assert ("added", "slow dolly-in, golden hour light") in diff.runs
    assert rewritten_share(sent, echoed) == 5 / 9
    assert diff_text(sent, echoed) == "a fox at dawn, [+slow dolly-in, golden hour light+]"


def test_case_and_clinging_punctuation_do_not_count_as_changes() -> None:
    diff = diff_prompts("A paper boat", "a paper boat.")
    assert not diff.changed
    # What is shown is the echo's own text.
    assert diff_markup("A paper boat", "a paper boat.") == "a paper boat."


def test_dropped_and_replaced_words() -> None:
    diff = diff_prompts("a red fox in snow", "a fox in deep snow")
    assert diff.removed_words == 1 and diff.added_words == 1
    assert diff_text("a red fox in snow", "a fox in deep snow") == "a [-red-] fox in [+deep+] snow"


def test_empty_prompts() -> None:
    assert rewritten_share("", "") == 0.0
    assert rewritten_share("a boat", "") == 0.0
    assert rewritten_share("", "a boat") == 1.0
    assert diff_markup("", "") == ""


def test_markup_is_escaped_and_inert() -> None:
    hostile = '<img src=x onerror="alert(1)"> <script>alert(2)</script>'
    markup = diff_markup("a boat", f"a boat {hostile}")
    assert "<script" not in markup and "<img" not in markup
    assert "&lt;script&gt;" in markup
    assert re.findall(r"<(\w+)", markup) == ["ins"]


def test_a_hostile_echo_of_many_words_stays_bounded() -> None:
    echoed = " ".join(f"w{i}" for i in range(50_000))
    diff = diff_prompts("a boat", echoed)
    assert diff.echoed_words == 2_000  # the cap, not 50,000 words of quadratic work


@given(st.text(max_size=60), st.text(max_size=60))
def test_the_runs_rebuild_both_prompts(sent: str, echoed: str) -> None:
    diff = diff_prompts(sent, echoed)
    new = [text for kind, text in diff.runs if kind != "removed"]
    old = [text for kind, text in diff.runs if kind != "added"]
    assert " ".join(new).split() == echoed.split()
    assert " ".join(old).split() == sent.split()
    assert 0.0 <= rewritten_share(sent, echoed) <= 1.0


def test_cards_show_the_echo_as_a_diff() -> None:
    rows = dict(prompt_facts("a fox", "a fox, golden hour", request_known=True))
    assert '<ins class="luma-nb-added"' in rows["Prompt echoed"]
    assert "golden hour" in rows["Prompt echoed"]
    # Unchanged: one row, no diff markup.
    rows = dict(prompt_facts("a fox", "a fox", request_known=True))
    assert list(rows) == ["Prompt"] and "<ins" not in rows["Prompt"]
    # Only the echo known (a task from elsewhere): no diff against nothing.
    rows = dict(prompt_facts(None, "a fox, golden hour", request_known=False))
    assert "<ins" not in rows["Prompt"]


def test_video_card_carries_the_diff() -> None:
    video = Video(
        task_id="t1",
        video_url="https://example.com/v.mp4",
        prompt="a fox, slow dolly-in",
        request=VideoRequest(prompt="a fox", enhancement=True),
    )
    html = video_card(video, embed=False)
    assert '<ins class="luma-nb-added"' in html and "slow dolly-in" in html
