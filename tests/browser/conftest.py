"""Fixtures for the browser tests: JupyterLab or Voila in a subprocess, Debian chromium via
Playwright.

What these tests need beyond the ``test`` extra: the Python package ``playwright`` and a
chromium binary (Debian's ``/usr/bin/chromium``; ``LUMA_NB_CHROMIUM`` points elsewhere).
``scripts/install-browser.sh`` installs both. Never ``playwright install``: it downloads
a browser, which our machines cannot do.

Without them the tests skip and say exactly what is missing; with ``LUMA_NB_REQUIRE_BROWSER=1``
(CI, where the install script ran) they fail instead, so a broken install cannot pass silently.

The page blocks every request that does not go to the loopback server, and records page
errors and console errors; screenshots land in ``artifacts/browser/`` (a failing test leaves
``<test name>-failure.png`` there, and the servers' logs are ``jupyterlab.log`` and
``voila.log``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from _simtools import CHROMIUM, CHROMIUM_ARGS

from ._jupyterlab import JupyterLab, copy_notebooks
from ._voila import Voila

if TYPE_CHECKING:
    from ._lab_page import LabPage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "artifacts" / "browser"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
INSTALL_HINT = "run scripts/install-browser.sh"

# The console error that is expected: an outside request that only_loopback aborted.
_EXPECTED_CONSOLE = re.compile(r"net::ERR_BLOCKED_BY_CLIENT")

# The kernel of a Voila page (Voila writes its id into the page's configuration).
_VOILA_KERNEL = """
() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId
"""

_REPORT = pytest.StashKey[pytest.TestReport]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives JupyterLab or Voila in a real browser (Debian chromium + Playwright); "
        "deselect with -m 'not browser'",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_REPORT] = report
    return report


def missing_requirements() -> list[str]:
    """What the browser tests need and this machine lacks, each with how to get it."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append(f"the Python package 'playwright' is not installed ({INSTALL_HINT})")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(
            f"no chromium at {CHROMIUM} ({INSTALL_HINT}, or apt-get install chromium, "
            "or set LUMA_NB_CHROMIUM)"
        )
    if importlib.util.find_spec("jupyterlab") is None:
        missing.append("JupyterLab is not installed (pip install -e '.[test]')")
    return missing


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("LUMA_NB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (LUMA_NB_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser_requirements() -> None:
    missing = missing_requirements()
    if missing:
        _skip_or_fail("browser tests cannot run: " + "; ".join(missing))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def jupyter_lab(
    browser_requirements: None, artifacts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterLab]:
    """JupyterLab on a free loopback port, serving a scratch copy of ``notebooks/``."""
    base = tmp_path_factory.mktemp("jupyterlab")
    log_path = artifacts / "jupyterlab.log"
    log_path.unlink(missing_ok=True)
    lab = JupyterLab(
        root_dir=copy_notebooks(NOTEBOOKS, base / "notebooks"),
        home=base / "home",
        log_path=log_path,
        cache_dir=base / "cache",
    )
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="package")
def browser(browser_requirements: None) -> Iterator[Any]:
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
            )
        except Error as exc:
            _skip_or_fail(f"chromium at {CHROMIUM} does not start under Playwright: {exc}")
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def _watched_page(
    request: pytest.FixtureRequest, browser: Any, artifacts: Path, base_url: str
) -> Iterator[LabPage]:
    """A fresh browser context on ``base_url``; only loopback requests get through, and
    page errors, console errors and blocked requests are recorded on the page object."""
    from ._lab_page import LabPage

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
    context.set_default_timeout(30_000)
    page = context.new_page()
    lab_page = LabPage(page=page, base_url=base_url)

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            lab_page.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def on_console(message: Any) -> None:
        if message.type == "error" and not _EXPECTED_CONSOLE.search(message.text):
            lab_page.console_errors.append(message.text)

    context.route("**/*", only_loopback)
    page.on("pageerror", lambda error: lab_page.page_errors.append(f"{error}\n{error.stack}"))
    page.on("console", on_console)
    try:
        yield lab_page
    finally:
        report = request.node.stash.get(_REPORT, None)
        if report is not None and report.failed:
            with contextlib.suppress(Exception):  # a crashed page must not hide the failure
                page.screenshot(path=str(artifacts / f"{request.node.name}-failure.png"))
        context.close()


@pytest.fixture
def lab_page(
    request: pytest.FixtureRequest, jupyter_lab: JupyterLab, browser: Any, artifacts: Path
) -> Iterator[LabPage]:
    """A fresh browser context on the test JupyterLab; only loopback requests get through."""
    try:
        with _watched_page(request, browser, artifacts, jupyter_lab.url) as lab_page:
            yield lab_page
    finally:
        # Free the two cores for the next test: the notebook's kernel is no longer needed.
        jupyter_lab.shutdown_kernels()


@pytest.fixture(scope="package")
def voila(
    browser_requirements: None, artifacts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Voila]:
    """Voila on a free loopback port, serving a scratch copy of ``notebooks/`` and of the
    notebooks written for it in this folder (``voila_*.ipynb``)."""
    if importlib.util.find_spec("voila") is None:
        _skip_or_fail("Voila is not installed (pip install -e '.[test]')")
    base = tmp_path_factory.mktemp("voila")
    root = copy_notebooks(NOTEBOOKS, base / "notebooks")
    for notebook in HERE.glob("voila_*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    log_path = artifacts / "voila.log"
    log_path.unlink(missing_ok=True)
    server = Voila(root_dir=root, home=base / "home", log_path=log_path, cache_dir=base / "cache")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def voila_page(
    request: pytest.FixtureRequest, voila: Voila, browser: Any, artifacts: Path
) -> Iterator[LabPage]:
    """A fresh browser context on the test Voila; only loopback requests get through."""
    kernel_id = None
    try:
        with _watched_page(request, browser, artifacts, voila.url) as page:
            yield page
            with contextlib.suppress(Exception):  # no page, no kernel: stop() ends the rest
                kernel_id = page.page.evaluate(_VOILA_KERNEL)
    finally:
        # Free the two cores for the next test. (Voila's own beacon on unload does not
        # reliably get out of a closing browser context.)
        if kernel_id:
            voila.shutdown_kernel(kernel_id)
