"""The study report: verdict and plot first, blocks side by side, only what a reader needs.

The page is parsed, not grepped: its structure (the order of the parts, one column per arm in
each block, a filmstrip and a player at native size in each), what it must never contain
(dead simulator links, "(not sent)" rows, column names, the simulator's dates, script) and
that it opens with no network (everything embedded).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _experimenttools import make_client

import luma_nb
from luma_nb.experiment import Experiment
from luma_nb.session_log import COLUMNS
from luma_nb.simulator import Simulator, VirtualClock

pytest.importorskip("av")
pytest.importorskip("numpy")

HOSTILE = 'a kite <img src=x onerror="alert(1)"> over hills'
PROMPTS = ["a paper boat on a rainy street", HOSTILE]


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    classes: set[str]
    children: list[Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            e
            for e in self.walk()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
        ]

    def all_text(self) -> str:
        parts = list(self.text)
        for child in self.children:
            if child.tag not in ("style", "svg"):
                parts.append(child.all_text())
        return " ".join(parts)


_VOID = {"meta", "img", "br", "hr", "input", "link", "source", "wbr", "path", "use", "rect"}


class Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, set())
        self.stack = [self.root]
        self.order: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        element = Element(tag, values, set(values.get("class", "").split()))
        self.stack[-1].children.append(element)
        self.order.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        element = Element(tag, values, set(values.get("class", "").split()))
        self.stack[-1].children.append(element)
        self.order.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


def _parse(page: str) -> Tree:
    tree = Tree()
    tree.feed(page)
    return tree


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=11)
    yield simulator
    simulator.close()


@pytest.fixture
def study(sim: Simulator, tmp_path: Path) -> Experiment:
    made = luma_nb.study(
        PROMPTS,
        factors={"enhancement": [True, False], "loop": [True, False]},
        seed=4,
        client=make_client(sim, tmp_path),
        session=tmp_path / "s.jsonl",
    )
    for n, record in enumerate(made.records()):
        if n % 3:
            made.rate(record["pair"], record["arm"], 2 + n % 4, note="crisp <b>edges</b>")
    return made


def test_the_report_leads_with_the_verdict_and_the_plot(study: Experiment, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    page = study.export_html(tmp_path / "study.html").read_text(encoding="utf-8")
    tree = _parse(page)
    order = [e for e in tree.order if e.tag in ("h2", "svg", "section", "video")]
    heads = [e.all_text() for e in order if e.tag == "h2"]
    assert heads[:2] == ["Verdict", "The videos, block by block"]
    first_svg = next(i for i, e in enumerate(order) if e.tag == "svg")
    first_block = next(i for i, e in enumerate(order) if e.tag == "section")
    first_video = next(i for i, e in enumerate(order) if e.tag == "video")
    assert order[0].all_text() == "Verdict" and first_svg < first_block < first_video
    text = tree.root.all_text()
    for sentence in study.summary().verdicts():
        assert sentence in " ".join(text.split())
    svg = tree.root.find_all("svg")[0]
    assert "currentColor" in page and svg.attrs.get("role") == "img"
    # The numbers are there, folded away.
    numbers = [d for d in tree.root.find_all("details") if "The tables" in d.all_text()]
    assert numbers and numbers[0].find_all("table")


def test_each_block_shows_its_arms_side_by_side(study: Experiment, tmp_path: Path) -> None:
    page = study.export_html(tmp_path / "study.html").read_text(encoding="utf-8")
    tree = _parse(page)
    blocks = tree.root.find_all("section", "luma-nb-block")
    assert len(blocks) == len(PROMPTS)
    records = {r["iteration"]: r for r in study.records()}
    widths = {r["width"] for r in records.values()}
    assert widths == {384}  # the simulator's clips: small, never to be blown up
    for block in blocks:
        [grid] = block.find_all("div", "luma-nb-columns")
        columns = [c for c in grid.children if "luma-nb-study-arm" in c.classes]
        assert len(columns) == 4
        titles = [c.find_all("span", "luma-nb-title")[0].all_text() for c in columns]
        assert titles == [arm.words() for arm in study.plan().arms]
        for column in columns:
            [video] = column.find_all("video")
            assert video.attrs["src"].startswith("data:video/mp4;base64,")
            # Played at its native size (the shared player): never wider than 384 px.
            assert (video.attrs["width"], video.attrs["height"]) == ("384", "216")
            assert "max-width:384px" in video.attrs["style"]
            [strip] = column.find_all("figure", "luma-nb-strip")
            [image] = strip.find_all("img")
            assert image.attrs["src"].startswith("data:image/jpeg;base64,")
            assert image.attrs["alt"].startswith("Filmstrip of ")
            facts = column.all_text()
            assert "Motion" in facts and "Loop seam" in facts and "Generation time" in facts
            assert column.find_all("details", "luma-nb-details")
    # The prompt diff: the enhanced arms show what was added, the others "unchanged".
    added = tree.root.find_all("ins", "luma-nb-added")
    assert len(added) == 2 * len(PROMPTS)
    assert page.count("of its words added") == 2 * len(PROMPTS)


def test_the_report_has_only_what_a_reader_needs(study: Experiment, tmp_path: Path) -> None:
    page = study.export_html(tmp_path / "study.html").read_text(encoding="utf-8")
    tree = _parse(page)
    text = tree.root.all_text()
    assert "(not sent)" not in text and "not sent" not in text
    columns = [c for c in COLUMNS if "_" in c]
    for name in columns:  # internal names: video_id_sent, media_path, echoed_prompt...
        assert name not in text, name
    # No dead link: the simulator's media is embedded, never pointed at.
    for element in tree.order:
        for attribute in ("href", "src", "poster"):
            value = element.attrs.get(attribute, "")
            assert ".invalid" not in value
            assert not value.startswith(("http:", "https:")), value
    assert "luma-simulator.invalid" not in text
    # One date only, the report's own; the simulator's clock shows as "(simulated)" times.
    dates = re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text)
    assert len(dates) == 1 and f"report made {dates[0]}" in text
    assert "(simulated)" in text and "Made on the simulator" in text
    # Inert and escaped.
    assert "<script" not in page.lower() and HOSTILE not in page
    assert "crisp &lt;b&gt;edges&lt;/b&gt;" in page
    assert not any(k.startswith("on") for e in tree.order for k in e.attrs)
    [policy] = [m for m in tree.root.find_all("meta") if m.attrs.get("http-equiv")]
    assert policy.attrs["content"].startswith("default-src 'none';")
    assert str(tmp_path) not in page  # no local file path


def test_a_study_not_run_yet_reports_its_plan(sim: Simulator, tmp_path: Path) -> None:
    planned = luma_nb.study(
        PROMPTS[:1],
        factors={"loop": [True, False]},
        client=make_client(sim, tmp_path),
        session=tmp_path / "p.jsonl",
        run=False,
    )
    path = planned.export_html(tmp_path)  # a folder: the file is named after the study
    assert path.name == f"{planned.id}.html"
    tree = _parse(path.read_text(encoding="utf-8"))
    assert not tree.root.find_all("video")
    text = tree.root.all_text()
    assert text.count("Not submitted yet: study.run() submits it.") == 2
    assert "no ratings yet" not in text  # no plot of nothing
    assert sim.stats.submits == 0


def test_failed_videos_show_their_error_and_no_player(tmp_path: Path) -> None:
    sim = Simulator(clock=VirtualClock(), seed=11, task_failure_rate=1.0)
    try:
        failed = luma_nb.study(
            PROMPTS[:1],
            factors={"loop": [True, False]},
            client=make_client(sim, tmp_path),
            session=tmp_path / "f.jsonl",
        )
        tree = _parse(failed.export_html(tmp_path / "failed.html").read_text(encoding="utf-8"))
    finally:
        sim.close()
    columns = tree.root.find_all("div", "luma-nb-study-arm")
    assert len(columns) == 2
    for column in columns:
        assert column.find_all("div", "luma-nb-error") and not column.find_all("video")
        assert not column.find_all("figure", "luma-nb-strip")
        assert "not rated" not in column.all_text()  # nothing to rate


def test_without_embedding_a_simulated_video_is_named_not_linked(
    study: Experiment, tmp_path: Path
) -> None:
    page = study.export_html(tmp_path / "plain.html", embed=False).read_text(encoding="utf-8")
    tree = _parse(page)
    assert not tree.root.find_all("video") and ".invalid" not in page
    assert page.count("it is a simulated video, served only inside luma_nb") == 8


def test_the_report_shows_the_filmstrips_measuring_made_without_decoding_again(
    study: Experiment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import luma_nb.video_metrics as video_metrics

    made = sorted(p.name for p in tmp_path.rglob("filmstrips/*.jpg"))
    assert len(made) == 8  # one per video, made while the run measured it

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report decoded a video again")

    monkeypatch.setattr(video_metrics, "decode_pass", no_decoding)
    page = study.export_html(tmp_path / "again.html").read_text(encoding="utf-8")
    strips = _parse(page).root.find_all("figure", "luma-nb-strip")
    assert len(strips) == 8
    assert sorted(p.name for p in tmp_path.rglob("filmstrips/*.jpg")) == made
