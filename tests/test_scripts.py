"""The README's commands: the tutorial installs only what it needs, in an environment of its own.

The fast tests read the scripts and ``pyproject.toml``; the slow one runs
``scripts/tutorial.sh --headless`` in a fresh clone, as a new user would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL_EXTRAS = {"render", "pandas", "notebook"}
TEST_TOOLS = ("pytest", "hypothesis", "ruff", "mypy", "playwright")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    tomllib = pytest.importorskip("tomli")


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    return extras


def test_the_tutorial_installs_its_extras_into_its_own_environment() -> None:
    script = (ROOT / "scripts" / "tutorial.sh").read_text(encoding="utf-8")
    match = re.search(r"bash scripts/setup\.sh (\S+) \"\$venv\"", script)
    assert match, "tutorial.sh must call setup.sh with its extras and its venv"
    assert set(match.group(1).split(",")) == TUTORIAL_EXTRAS
    assert "venv=.venv-tutorial" in script
    assert "setup.sh test" not in script
    assert ".venv-tutorial/" in (ROOT / ".gitignore").read_text(encoding="utf-8")


def test_the_tutorial_extras_carry_no_test_tools() -> None:
    extras = _extras()
    for name in TUTORIAL_EXTRAS:
        for requirement in extras[name]:
            assert not requirement.lower().startswith(TEST_TOOLS), (name, requirement)
    # ... and the test command still installs everything.
    test = " ".join(extras["test"])
    assert all(tool in test for tool in TEST_TOOLS if tool != "playwright")
    assert all(extra in test for extra in (*TUTORIAL_EXTRAS, "research", "browser"))
    assert any(r.startswith("playwright") for r in extras["browser"])
    assert "setup.sh test" in (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_headless_tutorial_runs_from_a_fresh_clone_and_says_where_it_went(
    tmp_path: Path,
) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    # The working tree's scripts and package, so uncommitted changes are what is tested.
    for part in ("scripts", "luma_nb", "notebooks", "pyproject.toml"):
        source, target = ROOT / part, clone / part
        if source.is_dir():
            shutil.rmtree(target)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    ran = subprocess.run(
        ["bash", "scripts/tutorial.sh", "--headless"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    executed = clone / "artifacts" / "executed" / "01_quickstart.ipynb"
    assert f"executed copy: {executed}" in ran.stdout
    assert executed.is_file()
    assert not (clone / ".venv").exists(), "the tutorial must not make the test environment"
    listed = subprocess.run(
        [str(clone / ".venv-tutorial" / "bin" / "python"), "-m", "pip", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert not [tool for tool in TEST_TOOLS if re.search(rf"^{tool}\s", listed, re.M)]
    assert re.search(r"^jupyterlab\s", listed, re.M) and re.search(r"^av\s", listed, re.M)
