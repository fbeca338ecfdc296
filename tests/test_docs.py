"""The documentation points only at files a user of the repository has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_nothing_points_outside_the_repository() -> None:
    sources = [*DOCS, *sorted((ROOT / "luma_nb").rglob("*.py"))]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert "shared/spec" not in text, path
        assert "spec/luma-api.md" not in text, path


def test_the_api_reference_covers_the_simulators_open_questions() -> None:
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for heading in ("POST /luma/videos", "POST /luma/tasks", "Task states", "Errors"):
        assert heading in api
    rows = re.findall(r"^\| (\d) \|", api, re.M)
    assert rows == [str(n) for n in range(1, 10)]
