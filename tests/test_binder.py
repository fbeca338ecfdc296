"""The Binder environment, built the way repo2docker builds it, runs every notebook.

repo2docker's rules for a repository with a ``binder/`` folder: only the files in that folder
count (the root ``pyproject.toml`` is ignored); ``runtime.txt`` picks the Python;
``requirements.txt`` is installed with the environment's pip, from the repository root once the
repository is copied in (it has a local reference, ``-e .``); ``postBuild`` then runs from the
repository root; and every session's command runs through ``start``, which ends in
``exec "$@"``.

The test does the same without Docker: a copy of the repository (what would be pushed), a
fresh venv of the runtime.txt Python, ``pip install -r binder/requirements.txt``, postBuild with
that venv first on PATH and a scratch HOME, then ``binder/start`` around the notebook runner
and around ``jupyter lab``. It reuses pip's download cache (repo2docker passes
``--no-cache-dir``; here that would only make the test slow, not more faithful).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
QUICKSTART_URL = "/lab/tree/notebooks/01_quickstart.ipynb"

pytestmark = pytest.mark.slow


def test_binder_files_follow_repo2docker_rules() -> None:
    """Cheap checks of the files themselves (the build below proves they work)."""
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} must be executable"
        text = path.read_text(encoding="utf-8")
        assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
    lines = (BINDER / "start").read_text(encoding="utf-8").strip().splitlines()
    assert lines[-1] == 'exec "$@"'
    requirements = [
        line.split("#", 1)[0].strip()
        for line in (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    ]
    # A local reference: repo2docker installs it after copying the repository in.
    assert any(line.startswith("-e .") for line in requirements)


def _runtime_python() -> str:
    version = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip().removeprefix("python-")
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        pytest.skip(f"binder/runtime.txt asks for Python {version}, which this machine lacks")
    return found


def _repository_copy(target: Path) -> Path:
    """The files a push would carry: tracked plus untracked-but-not-ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout ({listed.stderr.decode(errors='replace').strip()})")
    for name in listed.stdout.decode().split("\0"):
        source = ROOT / name
        if not name or name.startswith(".hypothesis/") or not source.is_file():
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)  # keeps the executable bits
    return target


def _pip_cache() -> str:
    """The pip cache of the user running the tests (HOME changes below)."""
    found = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    )
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    return str(Path.home() / ".cache" / "pip")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The repository copy, its venv and the environment a Binder session would have."""
    base = tmp_path_factory.mktemp("binder")
    python = _runtime_python()
    repo = _repository_copy(base / "repo")
    home = base / "home"
    home.mkdir()
    venv = base / "venv"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LUMA_NB_", "ACEDATACLOUD_", "JUPYTER", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        PIP_CACHE_DIR=_pip_cache(),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    try:
        started = time.monotonic()
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        # repo2docker: ${KERNEL_PYTHON_PREFIX}/bin/pip install -r "binder/requirements.txt"
        install = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-r", "binder/requirements.txt"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
        post = subprocess.run(
            ["binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True, check=False
        )
        assert post.returncode == 0, post.stdout + post.stderr
        print(f"binder environment built in {time.monotonic() - started:.0f} s")
        yield {"repo": repo, "home": home, "venv": venv, "env": env, "postbuild": post.stdout}
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def test_the_package_is_installed_from_the_repository(binder_env: dict[str, object]) -> None:
    repo, env = Path(str(binder_env["repo"])), binder_env["env"]
    assert isinstance(env, dict)
    shown = subprocess.run(
        [
            "python",
            "-c",
            "import json, sys, luma_nb, jupyter_client.kernelspec as k;"
            "print(json.dumps([sys.prefix, luma_nb.__file__,"
            " k.KernelSpecManager().get_kernel_spec('python3').argv[0]]))",
        ],
        cwd=repo / "notebooks",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    prefix, package, kernel_python = json.loads(shown.stdout)
    assert Path(prefix) == Path(str(binder_env["venv"]))
    # Editable: the package is the repository's own folder, as on Binder.
    assert Path(package).resolve().is_relative_to(repo.resolve())
    # The notebooks' kernel is the environment's Python, not the one running pytest: either
    # a bare "python", which jupyter_client replaces with the launcher's own interpreter (the
    # venv's, which runs scripts/run_notebook.py), or a path inside the venv.
    assert kernel_python in ("python", "python3") or Path(kernel_python).is_relative_to(prefix)
    assert "postBuild: luma_nb" in str(binder_env["postbuild"])


def test_start_sets_the_simulator_and_execs_the_command(binder_env: dict[str, object]) -> None:
    repo, env = Path(str(binder_env["repo"])), binder_env["env"]
    assert isinstance(env, dict)
    process = subprocess.Popen(
        [
            "binder/start",
            "python",
            "-c",
            "import os; print(os.getpid(), os.environ.get('LUMA_NB_BACKEND'))",
        ],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = process.communicate(timeout=60)
    pid, backend = out.split()
    assert backend == "simulator"
    assert int(pid) == process.pid, "start must exec the command, not run it as a child"
    # An explicit choice is kept.
    explicit = subprocess.run(
        ["binder/start", "printenv", "LUMA_NB_BACKEND"],
        cwd=repo,
        env={**env, "LUMA_NB_BACKEND": "api"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert explicit.stdout.strip() == "api"


def test_every_notebook_runs_in_the_binder_environment(
    binder_env: dict[str, object], tmp_path: Path
) -> None:
    repo, env = Path(str(binder_env["repo"])), binder_env["env"]
    assert isinstance(env, dict)
    notebooks = sorted(p.relative_to(repo) for p in (repo / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks to run"
    # A token in the environment: only start's LUMA_NB_BACKEND keeps the notebooks on the
    # simulator (without it they would try the real API and fail with no network).
    run_env = {**env, "ACEDATACLOUD_API_TOKEN": "sk-not-a-real-token"}
    started = time.monotonic()
    ran = subprocess.run(
        [
            "binder/start",
            "python",
            "scripts/run_notebook.py",
            *map(str, notebooks),
            "--output-dir",
            str(tmp_path / "executed"),
        ],
        cwd=repo,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr[-5000:]
    print(ran.stdout, f"all notebooks in {time.monotonic() - started:.0f} s")
    for notebook in notebooks:
        executed = json.loads((tmp_path / "executed" / notebook.name).read_text(encoding="utf-8"))
        outputs = [
            out
            for cell in executed["cells"]
            if cell["cell_type"] == "code"
            for out in cell.get("outputs", [])
        ]
        assert not [out for out in outputs if out["output_type"] == "error"], notebook
        html = "".join("".join(out.get("data", {}).get("text/html", "")) for out in outputs)
        assert "Simulated backend" in html, f"{notebook}: no simulator banner"
    # The notebooks ran from their folder: their session logs are in the copy, not the repo.
    assert list((repo / "notebooks" / "luma_sessions").glob("*.jsonl"))


def test_the_server_opens_the_quickstart_first(binder_env: dict[str, object]) -> None:
    repo, env, home = (
        Path(str(binder_env["repo"])),
        binder_env["env"],
        Path(str(binder_env["home"])),
    )
    assert isinstance(env, dict)
    config = home / ".jupyter" / "jupyter_server_config.py"
    assert QUICKSTART_URL in config.read_text(encoding="utf-8")
    port = _free_port()
    command = [
        "binder/start",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--IdentityProvider.token=",
        "--ServerApp.disable_check_xsrf=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # our test machines run as root; Binder does not
    log = (Path(str(binder_env["home"])) / "lab.log").open("wb")
    server = subprocess.Popen(command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    location = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                opener.open(f"http://127.0.0.1:{port}/", timeout=5)
            except urllib.error.HTTPError as exc:
                if exc.code in (301, 302, 303, 307):
                    location = exc.headers.get("Location")
                    break
                raise
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
                continue
            break
        assert location is not None, (Path(str(binder_env["home"])) / "lab.log").read_text()
        assert urllib.parse.urlsplit(location).path == QUICKSTART_URL, location
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{QUICKSTART_URL}", timeout=30) as page:
            assert page.status == 200
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
