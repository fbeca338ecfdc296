"""The public surface: ``__all__`` is exactly what is importable; ``import luma_nb`` is light."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pydoc
import re
import subprocess
import sys
import textwrap
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

import luma_nb

# Names that later issues, docs and acceptance checks rely on (issue 2's contract).
CONTRACT = {
    "Client",
    "AsyncClient",
    "LumaError",
    "ConfigError",
    "ValidationError",
    "AuthenticationError",
    "TokenMismatchError",
    "ModerationError",
    "InsufficientBalanceError",
    "RateLimitError",
    "BadRequestError",
    "ServerError",
    "APITimeoutError",
    "TransportError",
    "GenerationFailedError",
    "WaitTimeoutError",
    "SubmitOutcomeUnknownError",
    "APIError",
    "Task",
    "TaskState",
    "Video",
    "VideoRequest",
}
CLIENT_METHODS = [
    "submit",
    "generate",
    "extend",
    "get_task",
    "get_tasks",
    "wait",
    "wait_many",
    "download",
]


def test_all_is_sorted_and_unique() -> None:
    assert luma_nb.__all__ == sorted(set(luma_nb.__all__))


def test_contract_names_are_exported() -> None:
    assert set(luma_nb.__all__) >= CONTRACT


@pytest.mark.parametrize("name", luma_nb.__all__)
def test_every_name_resolves(name) -> None:
    value = getattr(luma_nb, name)
    assert value is not None
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__name__ == name
        assert value.__module__.startswith("luma_nb")


def test_star_import_matches_all() -> None:
    namespace: dict = {}
    exec("from luma_nb import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(luma_nb.__all__)


def test_type_checkers_see_the_lazy_names_as_exports() -> None:
    # `__all__` is computed, so the names reach mypy and pyright through explicit re-exports
    # (`from m import name as name`) under TYPE_CHECKING: the same names, from the same modules.
    tree = ast.parse(Path(luma_nb.__file__).read_text(encoding="utf-8"))
    [block] = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    reexported = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names:
            assert alias.asname == alias.name, f"{alias.name}: not an explicit re-export"
            reexported[alias.name] = node.module
    modules = {name for name, module in reexported.items() if module == "luma_nb"}
    assert modules <= set(luma_nb._SUBMODULES)
    assert {k: v for k, v in reexported.items() if k not in modules} == luma_nb._EXPORTS


def test_dir_lists_the_public_names() -> None:
    assert set(luma_nb.__all__) <= set(dir(luma_nb))


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = luma_nb.no_such_name
    with pytest.raises(ImportError):
        exec("from luma_nb import no_such_name", {})


# Plumbing that left the top level (issue 11): each stays importable from its module.
MOVED = {
    "Settings": "luma_nb.config",
    "RetryPolicy": "luma_nb.config",
    "PollPolicy": "luma_nb.config",
    "simulator_of": "luma_nb.backend",
    "default_client": "luma_nb.notebook",
    "reset": "luma_nb.notebook",
    "run_blocking": "luma_nb.aio",
    "enable_nested_asyncio": "luma_nb.aio",
    "RunTimeoutError": "luma_nb.aio",
    "TaskError": "luma_nb.models",
    "ExperimentSummary": "luma_nb.experiment",
    "ExperimentWarning": "luma_nb.experiment",
    "ResumeResult": "luma_nb.session_log",
    "IterationExistsError": "luma_nb.session_log",
    "SessionLogWriteError": "luma_nb.session_log",
    # Made room for study and BudgetExceededError (issue 12), with ASPECT_RATIOS below:
    # luma_nb.study returns an Experiment; a notebook rarely names the class.
    "Experiment": "luma_nb.experiment",
}


def test_the_top_level_is_what_a_notebook_user_needs() -> None:
    assert 40 <= len(luma_nb.__all__) - 1 <= 50  # about 45 names, plus __version__
    for name, module in MOVED.items():
        assert name not in luma_nb.__all__, name
        with pytest.raises(AttributeError):
            getattr(luma_nb, name)
        assert getattr(importlib.import_module(module), name).__name__ == name
    assert "ASPECT_RATIOS" not in luma_nb.__all__
    assert "16:9" in importlib.import_module("luma_nb.models").ASPECT_RATIOS
    assert {"study", "BudgetExceededError"} <= set(luma_nb.__all__)


# Every `luma_nb.x.y` named in the docs, the notebooks or the package's own messages exists.
_ROOT = Path(__file__).resolve().parent.parent
_REFERENCE = re.compile(r"(?<![\w./-])luma_nb((?:\.[A-Za-z_]\w*)+)")


def _texts() -> Iterator[tuple[str, str]]:
    for path in [_ROOT / "README.md", *sorted((_ROOT / "docs").glob("*.md"))]:
        yield path.name, path.read_text(encoding="utf-8")
    for path in sorted((_ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        yield path.name, "\n".join("".join(cell["source"]) for cell in cells)
    for path in sorted((_ROOT / "luma_nb").rglob("*.py")):
        yield str(path.relative_to(_ROOT)), path.read_text(encoding="utf-8")


def _missing(dotted: str) -> bool:
    value: object = luma_nb
    path = "luma_nb"
    for part in dotted.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            if not isinstance(value, types.ModuleType):
                return False  # an attribute of an instance (`luma_nb.x.y.z`): not checked
            try:
                value = importlib.import_module(f"{path}.{part}")
            except ImportError:
                return True
        path = f"{path}.{part}"
    return False


def test_every_documented_name_exists() -> None:
    missing = sorted(
        (where, f"luma_nb.{match}")
        for where, text in _texts()
        for match in {m.group(1)[1:] for m in _REFERENCE.finditer(text)}
        if _missing(match)
    )
    assert not missing, missing


def test_public_classes_are_not_private_aliases() -> None:
    for name in luma_nb.__all__:
        assert not name.startswith("_") or name == "__version__"


def test_version() -> None:
    assert isinstance(luma_nb.__version__, str)
    assert luma_nb.__version__[0].isdigit()


@pytest.mark.parametrize("method", CLIENT_METHODS)
def test_both_clients_have_the_same_methods(method) -> None:
    sync = getattr(luma_nb.Client, method)
    aio = getattr(luma_nb.AsyncClient, method)
    assert not inspect.iscoroutinefunction(sync)
    assert inspect.iscoroutinefunction(aio)
    sync_params = list(inspect.signature(sync).parameters)
    aio_params = list(inspect.signature(aio).parameters)
    assert sync_params == aio_params


def test_both_clients_have_the_same_constructor() -> None:
    sync = inspect.signature(luma_nb.Client).parameters
    aio = inspect.signature(luma_nb.AsyncClient).parameters
    assert list(sync) == list(aio)
    for name in ("token", "base_url", "timeout", "max_retries", "transport"):
        assert name in sync
    assert sync["token"].default is None
    for name, param in sync.items():
        if name != "token":
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, name


def test_generate_signature_matches_the_contract() -> None:
    params = inspect.signature(luma_nb.Client.generate).parameters
    expected = {
        "aspect_ratio": "16:9",
        "loop": False,
        "enhancement": True,
        "start_image_url": None,
        "end_image_url": None,
        "callback_url": None,
        "timeout": None,
        "max_wait": None,
        "on_update": None,
    }
    for name, default in expected.items():
        assert params[name].default == default, name
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY


def test_extend_signature_matches_the_contract() -> None:
    params = inspect.signature(luma_nb.Client.extend).parameters
    assert params["video_id"].default is None
    assert params["video_id"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["video_url"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["prompt"].default is None


# The helpers' keywords: one typed definition (luma_nb/_helper_options.py), shown as real
# keyword-only parameters to help(), Jupyter and inspect.signature.
_REQUEST = [
    "aspect_ratio",
    "loop",
    "enhancement",
    "start_image_url",
    "end_image_url",
    "callback_url",
    "timeout",
]
_LOG = ["tags", "experiment", "arm"]
HELPER_OPTIONS = {
    "submit": ["action", "video_id", "video_url", *_REQUEST, *_LOG, "parent"],
    "generate": [*_REQUEST, "max_wait", "on_update", "measure", *_LOG],
    "extend": ["video_id", "video_url", *_REQUEST, "max_wait", "on_update", "measure", *_LOG],
}


def _members(annotation: object) -> set[object]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set(typing.get_args(annotation))
    return {annotation}


@pytest.mark.parametrize("name", sorted(HELPER_OPTIONS))
def test_helpers_list_their_options_with_annotations(name: str) -> None:
    helper = getattr(luma_nb, name)
    signature = inspect.signature(helper)
    options = [p for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    if name == "extend":
        assert options[0].name == "prompt"
        options = options[1:]
    assert [p.name for p in options] == HELPER_OPTIONS[name]
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, parameter.name
        assert not isinstance(parameter.annotation, str), parameter.name  # resolved types
    assert signature.return_annotation in (luma_nb.Task, luma_nb.Video)
    # The defaults are the Client's, and every type the Client takes is taken.
    method = getattr(luma_nb.Client, name)
    client = inspect.signature(method).parameters
    client_hints = typing.get_type_hints(method)
    for parameter in options:
        if parameter.name in client:
            assert parameter.default == client[parameter.name].default, parameter.name
            if parameter.name == "action":  # narrower than the Client's `str`: the values
                assert typing.get_args(parameter.annotation) == ("generate", "extend")
                continue
            assert _members(client_hints[parameter.name]) <= _members(parameter.annotation)
    assert signature.parameters["tags"].default == ()
    # typing.get_type_hints works at run time too (Unpack exists for type checkers only).
    hints = typing.get_type_hints(helper)
    assert hints.pop("return") == signature.return_annotation
    assert hints == {p.name: p.annotation for p in signature.parameters.values()}
    # help() shows them.
    text = pydoc.render_doc(helper, renderer=pydoc.plaintext)
    assert "aspect_ratio: str | None" in text and "experiment: str | None = None" in text


def test_the_helpers_options_share_one_definition() -> None:
    from luma_nb import _helper_options as options

    request = list(typing.get_type_hints(options.RequestOptions))
    assert request == _REQUEST
    for typed in (options.SubmitOptions, options.GenerateOptions, options.ExtendOptions):
        hints = typing.get_type_hints(typed)
        for part in (options.RequestOptions, options.LogOptions):
            for key, kind in typing.get_type_hints(part).items():
                assert hints[key] == kind
    assert tuple(_LOG) == options.LOG_KEYS


@pytest.mark.slow
def test_type_checkers_see_the_helpers_options(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import luma_nb

            luma_nb.generate("a cat", aspect_ratio="1:1", loop=True, tags=["x"], max_wait=5)
            luma_nb.extend(prompt="more", video_url="https://x/y.mp4", on_update=print)
            luma_nb.submit("a dog", action="extend", video_id="v", parent="it-1")
            luma_nb.generate("a cat", aspect_ratio=1)
            luma_nb.generate("a cat", aspectratio="1:1")
            luma_nb.submit("a dog", max_wait=3)
            """
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--python-version=3.10",
            "--no-incremental",
            f"--cache-dir={tmp_path / 'cache'}",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=_ROOT,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["7", "8", "9"], result.stdout
    assert "aspect_ratio" in errors[0] and '"aspectratio"' in errors[1]
    assert '"max_wait" for "submit"' in errors[2]


@pytest.mark.slow
def test_import_is_light() -> None:
    code = textwrap.dedent(
        """
        import sys
        import luma_nb
        heavy = ("pandas", "ipywidgets", "httpx", "IPython", "numpy", "av", "PIL")
        loaded = sorted(m for m in heavy if m in sys.modules)
        print(",".join(loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "", f"import luma_nb loaded: {result.stdout.strip()}"


@pytest.mark.slow
def test_errors_and_models_do_not_need_httpx() -> None:
    code = textwrap.dedent(
        """
        import sys
        import luma_nb
        luma_nb.ValidationError, luma_nb.Task, luma_nb.VideoRequest(prompt="a cat")
        print("httpx" in sys.modules, "pandas" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# Every public (documented) submodule of luma_nb: each must work as an attribute.
_PACKAGE = Path(luma_nb.__file__).parent
SUBMODULES = sorted(
    name
    for name in [
        *(path.stem for path in _PACKAGE.glob("*.py")),
        *(path.parent.name for path in _PACKAGE.glob("*/__init__.py")),
    ]
    if not name.startswith("_")
)


def test_the_submodule_list_is_every_public_module() -> None:
    assert set(SUBMODULES) == set(luma_nb._SUBMODULES)
    assert set(SUBMODULES) <= set(dir(luma_nb))
    assert not set(SUBMODULES) & set(luma_nb.__all__)  # a star import stays light


@pytest.mark.slow
def test_submodules_are_attributes_right_after_import() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import types
        import luma_nb
        names = {SUBMODULES!r}
        early = [n for n in names if "luma_nb." + n in sys.modules]
        print("early:" + ",".join(early))
        for name in names:
            module = getattr(luma_nb, name)
            assert isinstance(module, types.ModuleType), name
            assert module is sys.modules["luma_nb." + name], name
        assert callable(luma_nb.report.export_html)
        assert callable(luma_nb.chain.timeline)
        assert callable(luma_nb.display.show)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    lines = result.stdout.split()
    assert lines == ["early:", "ok"], result.stdout + result.stderr


@pytest.mark.slow
def test_one_submodule_loads_only_what_it_needs() -> None:
    code = textwrap.dedent(
        """
        import sys
        import luma_nb
        luma_nb.errors.LumaError
        heavy = ("pandas", "ipywidgets", "httpx", "IPython")
        print(",".join(m for m in heavy if m in sys.modules) or "-")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "-"
