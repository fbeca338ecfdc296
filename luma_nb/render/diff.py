"""Prompt diffs: the echoed prompt against the sent one, word by word.

With ``enhancement`` on, the service rewrites the prompt. A reader wants to see *what* it
added, not two paragraphs to compare by eye: :func:`diff_markup` marks the added words with
``<ins>`` and the dropped ones with ``<del>`` (struck through and underlined by every browser's
own defaults, so the diff reads in a sanitised notebook too), and :func:`rewritten_share`
gives one number per video for a study's summary: the share of the echoed prompt's words
that were not in the sent prompt.

Words are compared case-insensitively and without the punctuation that clings to them, so
"Boat," and "boat" are the same word; what is shown is always the original text, escaped.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from luma_nb._html import esc

__all__ = ["PromptDiff", "diff_markup", "diff_prompts", "diff_text", "rewritten_share"]

_WORD = re.compile(r"\S+")
_EDGE_PUNCTUATION = ".,;:!?\"'()[]{}«»\u201c\u201d\u2018\u2019"
# Diffing is quadratic in the worst case; prompts are short, but a hostile echo need not be.
_MAX_WORDS = 2_000


@dataclass(frozen=True)
class PromptDiff:
    """The two prompts as runs of words: ``("same" | "added" | "removed", text)``."""

    runs: tuple[tuple[str, str], ...]
    added_words: int
    removed_words: int
    echoed_words: int

    @property
    def changed(self) -> bool:
        """Whether the echo differs from what was sent in any word."""
        return self.added_words > 0 or self.removed_words > 0


def _key(word: str) -> str:
    return word.strip(_EDGE_PUNCTUATION).casefold() or word


def diff_prompts(sent: str, echoed: str) -> PromptDiff:
    """Compare ``echoed`` with ``sent`` word by word (see the module's docstring)."""
    old = _WORD.findall(sent)[:_MAX_WORDS]
    new = _WORD.findall(echoed)[:_MAX_WORDS]
    # No autojunk: in a long echo, "a" and "the" are words like any other.
    matcher = difflib.SequenceMatcher(None, [_key(w) for w in old], [_key(w) for w in new], False)
    runs: list[tuple[str, str]] = []
    added = removed = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            runs.append(("same", " ".join(new[j1:j2])))
            continue
        if i2 > i1:
            runs.append(("removed", " ".join(old[i1:i2])))
            removed += i2 - i1
        if j2 > j1:
            runs.append(("added", " ".join(new[j1:j2])))
            added += j2 - j1
    return PromptDiff(tuple(runs), added, removed, len(new))


def rewritten_share(sent: str, echoed: str) -> float:
    """The share (0 to 1) of the echoed prompt's words that were not in the sent prompt.

    0.0 for an unchanged echo, 1.0 for a wholly new one; an empty echo counts as 0.0.
    """
    diff = diff_prompts(sent, echoed)
    return diff.added_words / diff.echoed_words if diff.echoed_words else 0.0


def diff_markup(sent: str, echoed: str) -> str:
    """The echoed prompt with added words in ``<ins>`` and dropped ones in ``<del>``."""
    parts = []
    for kind, text in diff_prompts(sent, echoed).runs:
        if kind == "added":
            title = "added by the service"
            parts.append(f'<ins class="luma-nb-added" title="{title}">{esc(text)}</ins>')
        elif kind == "removed":
            parts.append(f'<del class="luma-nb-removed" title="not in the echo">{esc(text)}</del>')
        else:
            parts.append(esc(text))
    return " ".join(parts)


def diff_text(sent: str, echoed: str) -> str:
    """The same diff in plain text: ``[+added words+]`` and ``[-dropped words-]``."""
    parts = []
    for kind, text in diff_prompts(sent, echoed).runs:
        parts.append({"added": f"[+{text}+]", "removed": f"[-{text}-]"}.get(kind, text))
    return " ".join(parts)
