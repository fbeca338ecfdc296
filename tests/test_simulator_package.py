"""The simulator package itself: public names, independence, lazy imports, small units."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import luma_nb.simulator as simulator
from luma_nb.simulator import FaultPlan, ScaledClock
from luma_nb.simulator._range import parse_range
from luma_nb.simulator._ratelimit import parse_rate_limit
from luma_nb.simulator._validation import ASPECT_RATIOS as SIM_RATIOS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "luma_nb" / "simulator"


def test_public_names() -> None:
    assert simulator.__all__ == sorted(simulator.__all__, key=lambda n: (not n.isupper(), n))
    for name in simulator.__all__:
        obj = getattr(simulator, name)
        if callable(obj) and not isinstance(obj, type(simulator)):
            assert obj.__doc__, f"{name} has no docstring"
    doc = simulator.__doc__ or ""
    for knob in ("seed", "speed", "accepted_tokens", "credits", "rate_limit", "faults"):
        assert knob in doc


def test_simulator_does_not_import_the_client() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("luma_nb"):
                    assert name.startswith("luma_nb.simulator"), f"{path.name} imports {name}"


def test_import_is_light() -> None:
    code = (
        "import sys, luma_nb.simulator as s; "
        "print(sorted(m for m in ('av', 'PIL', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_aspect_ratios_match_the_renderer() -> None:
    from luma_nb.simulator._media import ASPECT_RATIOS as MEDIA_RATIOS

    assert SIM_RATIOS == MEDIA_RATIOS


def test_scaled_clock() -> None:
    clock = ScaledClock(1000.0, start=0.0)
    before = clock.now()
    clock.sleep(20)  # 20 simulated seconds: 20 ms
    assert 15 <= clock.now() - before <= 2000
    assert clock.granularity == 250.0
    with pytest.raises(ValueError, match="speed"):
        ScaledClock(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10/60", (10, 60.0)), ("5", (5, 1.0)), ("3/0.5s", (3, 0.5)), (" 2 / 10 ", (2, 10.0))],
)
def test_parse_rate_limit(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["", "x/1", "0/1", "1/0", "-1/2"])
def test_parse_rate_limit_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate_limit(text)


@given(
    size=st.integers(0, 5000),
    first=st.one_of(st.none(), st.integers(0, 6000)),
    last=st.one_of(st.none(), st.integers(0, 6000)),
)
def test_parse_range_agrees_with_slicing(size: int, first: int | None, last: int | None) -> None:
    header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    result = parse_range(header, size)
    if first is None and last is None:
        assert result is None
    elif first is None:
        assert last is not None
        if last == 0 or size == 0:
            assert result is False
        else:
            assert result == (max(0, size - last), size - 1)
    elif last is not None and last < first:
        assert result is None
    elif first >= size:
        assert result is False
    else:
        assert isinstance(result, tuple)
        a, b = result
        assert data[a : b + 1] == data[first : (size if last is None else last + 1)]


rates = st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0])


@given(
    error_5xx=rates,
    burst=st.integers(1, 5),
    statuses=st.sampled_from([(500,), (502, 503), (500, 502, 503)]),
    rate_limit=rates,
    retry_after=st.sampled_from([0.0, 1.0, 2.5]),
    drop=rates,
    drop_after=rates,
    refuse=rates,
    slow=rates,
    slow_seconds=st.sampled_from([0.5, 2.0]),
    malformed=rates,
    stuck=rates,
    fail=rates,
    code=st.sampled_from(["api_error", "busy", "forbidden"]),
    endpoints=st.sampled_from([("videos", "tasks"), ("tasks",), ("videos", "tasks", "media")]),
)
def test_fault_plan_text_round_trip(
    error_5xx: float,
    burst: int,
    statuses: tuple[int, ...],
    rate_limit: float,
    retry_after: float,
    drop: float,
    drop_after: float,
    refuse: float,
    slow: float,
    slow_seconds: float,
    malformed: float,
    stuck: float,
    fail: float,
    code: str,
    endpoints: tuple[str, ...],
) -> None:
    plan = FaultPlan(
        error_5xx=error_5xx,
        error_5xx_burst=burst if error_5xx else 1,
        error_5xx_statuses=statuses if error_5xx else (500, 502, 503),
        rate_limit=rate_limit,
        rate_limit_burst=burst if rate_limit else 1,
        retry_after=retry_after if rate_limit else 1.0,
        drop=drop,
        drop_after=drop_after,
        refuse=refuse,
        slow=slow,
        slow_seconds=slow_seconds if slow else 2.0,
        malformed=malformed,
        stuck=stuck,
        fail=fail,
        fail_code=code if fail else "api_error",
        endpoints=endpoints,
    )
    assert FaultPlan.parse(plan.to_text()) == plan
